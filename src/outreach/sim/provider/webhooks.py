"""Provider-native webhook payloads, signed as each provider signs them.

Twilio: a form POST per report, signed over the URL and the sorted fields. SendGrid: events as a
JSON array (several per POST, ending in CRLF as SendGrid's do), ECDSA-signed over timestamp and
body; Inbound Parse as multipart/form-data, signed the same way. Meta: one JSON document per POST
(several statuses may share it), slashes escaped like Meta's, HMAC-signed.
"""

from __future__ import annotations

import json
import secrets
import time
import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from email.utils import format_datetime
from urllib.parse import urlencode

from cryptography.hazmat.primitives.asymmetric import ec

from outreach.sim.provider.config import SimConfig
from outreach.sim.provider.faults import WHATSAPP_ERRORS
from outreach.sim.provider.outcomes import StatusStep
from outreach.sim.provider.signing import (
    gateway_signature,
    meta_signature,
    sendgrid_signature,
    twilio_signature,
)
from outreach.sim.provider.store import SimMessage

TWILIO_FORM = "twilio_form"
SENDGRID_EVENTS = "sendgrid_events"
SENDGRID_PARSE = "sendgrid_parse"
WHATSAPP_STATUSES = "whatsapp_statuses"
WHATSAPP_MESSAGES = "whatsapp_messages"
GATEWAY_STATUS = "gateway_status"
GATEWAY_INBOUND = "gateway_inbound"
GATEWAY_SIGNATURE_HEADER = "X-Gateway-Signature"
BATCHABLE_KINDS = frozenset({SENDGRID_EVENTS, WHATSAPP_STATUSES})

TWILIO_API_VERSION = "2010-04-01"
SENDGRID_PARSE_BOUNDARY = "xYzZY"
WHATSAPP_ERROR_DOCS = "https://developers.facebook.com/docs/whatsapp/cloud-api/support/error-codes/"


@dataclass(frozen=True, slots=True)
class SignedRequest:
    url: str
    headers: dict[str, str]
    body: bytes


def new_twilio_sid() -> str:
    return "SM" + secrets.token_hex(16)


def new_wamid() -> str:
    return "wamid." + secrets.token_urlsafe(36)


def new_sendgrid_message_id() -> str:
    return secrets.token_urlsafe(16)


def new_gateway_id() -> str:
    return "gw-" + secrets.token_hex(12)


# ---- Twilio ---------------------------------------------------------------------------------


def twilio_status_params(
    message: SimMessage, step: StatusStep, now: datetime, *, price: float | None = None
) -> list[tuple[str, str]]:
    """A status callback's fields; with ``price``, the final reports carry Twilio's ``Price``
    (negative: a charge) and ``PriceUnit``."""
    params = [
        ("SmsSid", message.id),
        ("SmsStatus", step.status),
        ("MessageStatus", step.status),
        ("To", message.to),
        ("MessageSid", message.id),
        ("AccountSid", message.extras.get("account_sid", "")),
        ("From", message.from_),
        ("ApiVersion", TWILIO_API_VERSION),
    ]
    if step.error_code:
        params.append(("ErrorCode", step.error_code))
    if step.status in ("delivered", "undelivered"):
        params.append(("RawDlrDoneDate", now.strftime("%y%m%d%H%M")))
    if price is not None and step.status in ("delivered", "undelivered", "failed"):
        params.extend([("Price", f"{-price:.5f}"), ("PriceUnit", "USD")])
    return params


def twilio_inbound_params(
    sid: str, account_sid: str, from_: str, to: str, body: str
) -> list[tuple[str, str]]:
    return [
        ("ToCountry", "US"),
        ("SmsMessageSid", sid),
        ("NumMedia", "0"),
        ("SmsSid", sid),
        ("SmsStatus", "received"),
        ("Body", body),
        ("To", to),
        ("NumSegments", "1"),
        ("MessageSid", sid),
        ("AccountSid", account_sid),
        ("From", from_),
        ("ApiVersion", TWILIO_API_VERSION),
    ]


def twilio_message_resource(message: SimMessage, account_sid: str, now: datetime) -> dict:
    """The Message resource Twilio returns from ``Messages.json`` (201)."""
    stamp = format_datetime(now)
    uri = f"/{TWILIO_API_VERSION}/Accounts/{account_sid}/Messages/{message.id}"
    return {
        "account_sid": account_sid,
        "api_version": TWILIO_API_VERSION,
        "body": message.body,
        "date_created": stamp,
        "date_sent": None,
        "date_updated": stamp,
        "direction": "outbound-api",
        "error_code": None,
        "error_message": None,
        "from": message.from_,
        "messaging_service_sid": None,
        "num_media": "0",
        "num_segments": str(max(1, -(-len(message.body or "") // 153))),
        "price": None,
        "price_unit": "USD",
        "sid": message.id,
        "status": "queued",
        "subresource_uris": {"media": uri + "/Media.json"},
        "to": message.to,
        "uri": uri + ".json",
    }


# ---- SendGrid -------------------------------------------------------------------------------


def sendgrid_event(message: SimMessage, step: StatusStep, now: float) -> dict:
    """One Event Webhook item; the message's custom args are copied in as SendGrid does."""
    event = {
        "email": message.to,
        "timestamp": int(now),
        "smtp-id": f"<{message.id}@sim.sendgrid.net>",
        "event": step.status,
        "category": [],
        "sg_event_id": secrets.token_urlsafe(16),
        "sg_message_id": message.extras["sg_message_id"],
    }
    event.update(step.detail)
    for key, value in message.extras.get("custom_args", {}).items():
        event.setdefault(key, value)
    return event


def sendgrid_parse_fields(
    from_: str, to: str, subject: str, text: str, message_id: str
) -> list[tuple[str, str]]:
    headers = (
        f"Message-ID: <{message_id}>\nFrom: {from_}\nTo: {to}\nSubject: {subject}\n"
        "MIME-Version: 1.0\nContent-Type: text/plain; charset=UTF-8\n"
    )
    return [
        ("headers", headers),
        ("dkim", "{@sim.example : pass}"),
        ("to", to),
        ("from", from_),
        ("text", text),
        ("sender_ip", "127.0.0.1"),
        ("envelope", json.dumps({"to": [to], "from": from_})),
        ("attachments", "0"),
        ("subject", subject),
        (
            "charsets",
            json.dumps({"to": "UTF-8", "from": "UTF-8", "subject": "UTF-8", "text": "UTF-8"}),
        ),
        ("SPF", "pass"),
    ]


def multipart_body(
    fields: Sequence[tuple[str, str]], boundary: str = SENDGRID_PARSE_BOUNDARY
) -> bytes:
    parts = [
        f'--{boundary}\r\nContent-Disposition: form-data; name="{name}"\r\n\r\n{value}\r\n'
        for name, value in fields
    ]
    return ("".join(parts) + f"--{boundary}--\r\n").encode("utf-8")


# ---- WhatsApp -------------------------------------------------------------------------------


def whatsapp_status(message: SimMessage, step: StatusStep, now: float) -> dict:
    status = {
        "id": message.id,
        "status": step.status,
        "timestamp": str(int(now)),
        "recipient_id": message.to.lstrip("+"),
    }
    if step.status in ("sent", "delivered"):
        status["conversation"] = {
            "id": message.extras.get("conversation_id", ""),
            "origin": {"type": "utility" if message.template else "service"},
        }
        status["pricing"] = {
            "billable": True,
            "pricing_model": "CBP",
            "category": "utility" if message.template else "service",
        }
    if step.error_code:
        code = int(step.error_code)
        title = WHATSAPP_ERRORS.get(code, (400, "Error"))[1]
        status["errors"] = [
            {
                "code": code,
                "title": title,
                "message": title,
                "error_data": {"details": title},
                "href": WHATSAPP_ERROR_DOCS,
            }
        ]
    return status


def whatsapp_inbound_message(
    wamid: str,
    from_digits: str,
    body: str,
    now: float,
    button_payload: str | None = None,
    context_id: str | None = None,
    business_number: str = "",
) -> dict:
    item: dict = {"from": from_digits, "id": wamid, "timestamp": str(int(now))}
    if context_id:
        item["context"] = {"from": business_number, "id": context_id}
    if button_payload is not None:
        item.update(type="button", button={"payload": button_payload, "text": body})
    else:
        item.update(type="text", text={"body": body})
    return item


def whatsapp_payload(
    config: SimConfig,
    phone_number_id: str,
    statuses: list[dict] | None = None,
    messages: list[dict] | None = None,
) -> dict:
    value: dict = {
        "messaging_product": "whatsapp",
        "metadata": {
            "display_phone_number": config.whatsapp_business_number,
            "phone_number_id": phone_number_id,
        },
    }
    if messages:
        value["contacts"] = [
            {"profile": {"name": "Sim Patient"}, "wa_id": m["from"]} for m in messages
        ]
        value["messages"] = messages
    if statuses:
        value["statuses"] = statuses
    return {
        "object": "whatsapp_business_account",
        "entry": [{"id": "100000000000000", "changes": [{"value": value, "field": "messages"}]}],
    }


def meta_json(document: dict) -> bytes:
    """Meta's encoding: compact, non-ASCII as \\uXXXX, and '/' escaped as '\\/'."""
    return json.dumps(document, separators=(",", ":")).replace("/", "\\/").encode("ascii")


# ---- the generic gateway (plugins' channels) -------------------------------------------------


def gateway_status(message: SimMessage, step: StatusStep, now: float) -> dict:
    """One status report of the gateway: the message, its new state, our reference back."""
    return {
        "message_id": message.id,
        "channel": message.channel,
        "status": step.status,
        "error_code": step.error_code,
        "reference": message.job_id,
        "timestamp": int(now),
    }


def gateway_message_resource(message: SimMessage) -> dict:
    """A message as the gateway's API shows it (send answer and lookups)."""
    return {
        "id": message.id,
        "channel": message.channel,
        "to": message.to,
        "status": message.status,
        "reference": message.job_id,
        "created_at": message.received_at.isoformat(),
    }


# ---- signing --------------------------------------------------------------------------------


def signed_request(
    kind: str,
    url: str,
    items: Sequence,
    config: SimConfig,
    sendgrid_key: ec.EllipticCurvePrivateKey,
    group: str = "",
    signed_at: float | None = None,
) -> SignedRequest:
    """One provider POST carrying ``items`` (one for unbatched kinds), with its signature;
    ``signed_at`` (the simulator's clock, default real time) is SendGrid's signed timestamp."""
    if kind == TWILIO_FORM:
        params = items[0]
        return SignedRequest(
            url,
            {
                "Content-Type": "application/x-www-form-urlencoded",
                "User-Agent": "TwilioProxy/1.1",
                "I-Twilio-Idempotency-Token": str(uuid.uuid4()),
                "X-Twilio-Signature": twilio_signature(config.twilio_auth_token, url, params),
            },
            urlencode(params).encode("utf-8"),
        )
    if kind in (SENDGRID_EVENTS, SENDGRID_PARSE):
        if kind == SENDGRID_EVENTS:
            body = json.dumps(list(items), separators=(",", ":")).encode("utf-8") + b"\r\n"
            content_type = "application/json"
        else:
            body = multipart_body(items[0])
            content_type = f"multipart/form-data; boundary={SENDGRID_PARSE_BOUNDARY}"
        timestamp = str(int(time.time() if signed_at is None else signed_at))
        return SignedRequest(
            url,
            {
                "Content-Type": content_type,
                "User-Agent": "SendGrid Event API",
                "X-Twilio-Email-Event-Webhook-Timestamp": timestamp,
                "X-Twilio-Email-Event-Webhook-Signature": sendgrid_signature(
                    sendgrid_key, timestamp, body
                ),
            },
            body,
        )
    if kind in (GATEWAY_STATUS, GATEWAY_INBOUND):
        body = json.dumps(items[0], separators=(",", ":")).encode("utf-8")
        return SignedRequest(
            url,
            {
                "Content-Type": "application/json",
                "User-Agent": "sim-gateway",
                GATEWAY_SIGNATURE_HEADER: gateway_signature(config.gateway_secret, body),
            },
            body,
        )
    if kind in (WHATSAPP_STATUSES, WHATSAPP_MESSAGES):
        document = (
            whatsapp_payload(config, group, statuses=list(items))
            if kind == WHATSAPP_STATUSES
            else whatsapp_payload(config, group, messages=list(items))
        )
        body = meta_json(document)
        return SignedRequest(
            url,
            {
                "Content-Type": "application/json",
                "User-Agent": "facebookexternalua",
                "X-Hub-Signature-256": meta_signature(config.whatsapp_app_secret, body),
            },
            body,
        )
    raise ValueError(f"unknown webhook kind {kind!r}")
