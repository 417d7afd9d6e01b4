"""WhatsApp through Meta's Cloud API, with the ``heyoo`` SDK.

heyoo 0.1.2 hard-codes Graph API v14 in its plain ``url`` attribute; we set it from
``settings.whatsapp_base_url`` (the simulator locally, graph.facebook.com otherwise) and
``settings.whatsapp_api_version``. heyoo never raises on an API error: it returns the response
JSON, whose ``error.code`` decides transient or permanent here. It has no webhook support, so
signature checks and payload parsing are ours.
"""

from __future__ import annotations

import hashlib
import hmac
import logging
from collections.abc import Mapping
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING, Any, Self

import heyoo
import requests

from outreach.channels.base import (
    ChannelConfigError,
    ChannelWorker,
    DeliveryStatus,
    InboundMessage,
    InvalidSignature,
    MalformedWebhook,
    OutboundMessage,
    PermanentSendError,
    SendError,
    SendReceipt,
    StaleWebhook,
    TransientSendError,
    WebhookRequest,
)
from outreach.channels.webhook_bodies import json_body
from outreach.channels.webhook_paths import WHATSAPP_WEBHOOK_PATH

if TYPE_CHECKING:
    from outreach.config import Settings

logger = logging.getLogger(__name__)

SIGNATURE_HEADER = "X-Hub-Signature-256"
GRAPH_API_URL = "https://graph.facebook.com"
_SIGNATURE_PREFIX = "sha256="
_SIGNATURE_CHARS = len(_SIGNATURE_PREFIX) + 64
DEFAULT_WEBHOOK_MAX_AGE = timedelta(days=8)
FUTURE_TOLERANCE = timedelta(minutes=5)  # clocks disagree a little

# Meta error codes that no retry can fix: the recipient or the message is the problem.
PERMANENT_CODES = frozenset(
    {
        100,  # invalid parameter
        131008,  # required parameter missing
        131009,  # parameter value invalid
        131021,  # recipient is the sender
        131026,  # message undeliverable (no WhatsApp, old app, terms not accepted)
        131047,  # re-engagement: more than 24 h since the patient's last message
        131050,  # the user stopped marketing messages
        131051,  # unsupported message type
        132000,  # template parameter count mismatch
        132001,  # template does not exist
        132005,  # translated text too long
        132007,  # template format policy violated
        132012,  # template parameter format mismatch
        132015,  # template paused
        132016,  # template disabled
    }
)
# Throttling and Meta-side trouble; also anything unknown, so an operator's fix can still land.
TRANSIENT_CODES = frozenset(
    {1, 2, 4, 17, 341, 80007, 130429, 131000, 131016, 131048, 131056, 133004}
)

# Cloud API status -> normalised status ("deleted" and "warning" are not delivery states).
_STATUS_MAP = {"sent": "sent", "delivered": "delivered", "read": "opened", "failed": "failed"}


def classify_whatsapp_error(code: int | None) -> type[SendError]:
    return PermanentSendError if code in PERMANENT_CODES else TransientSendError


class _HeyooRootLogFilter(logging.Filter):
    """Drops heyoo's own log records, which name recipients' phone numbers.

    heyoo logs through the root logger (``logging.info(f"... {recipient_id}")``); a filter on
    the root logger sees only records logged on it directly, so nothing else is affected.
    """

    _heyoo_file = heyoo.__file__  # a record's pathname is its caller's code file, as is

    def filter(self, record: logging.LogRecord) -> bool:
        return record.pathname != self._heyoo_file


def _install_heyoo_log_filter() -> None:
    root = logging.getLogger()
    if not any(isinstance(f, _HeyooRootLogFilter) for f in root.filters):
        root.addFilter(_HeyooRootLogFilter())


class WhatsAppCloudChannel(ChannelWorker):
    name = "whatsapp"
    provider = "whatsapp"
    max_body_chars = 4096  # the Cloud API's limit for a text message body
    supports_phi = False  # Meta runs the Cloud API servers and signs no BAA
    default_rate_per_sec = 80.0  # Cloud API throughput per business number (up to 1,000)
    status_webhook_path = WHATSAPP_WEBHOOK_PATH
    inbound_webhook_path = WHATSAPP_WEBHOOK_PATH
    max_webhook_bytes = 4 * 1024 * 1024  # Meta batches up to 1,000 updates per call

    def __init__(
        self,
        *,
        client: heyoo.WhatsApp,
        app_secret: str | None,
        verify_token: str | None = None,
        webhook_max_age: timedelta = DEFAULT_WEBHOOK_MAX_AGE,
    ):
        self._client = client
        self._app_secret = app_secret.encode("utf-8") if app_secret else None
        self._verify_token = verify_token
        self._webhook_max_age = webhook_max_age

    @classmethod
    def from_settings(cls, settings: Settings) -> Self:
        if settings.whatsapp_token is None:
            raise ChannelConfigError("whatsapp channel needs OUTREACH_WHATSAPP_TOKEN")
        _install_heyoo_log_filter()
        client = heyoo.WhatsApp(
            settings.whatsapp_token.get_secret_value(), settings.whatsapp_phone_number_id
        )
        base = (settings.whatsapp_base_url or GRAPH_API_URL).rstrip("/")
        client.url = (
            f"{base}/{settings.whatsapp_api_version}/{settings.whatsapp_phone_number_id}/messages"
        )
        if settings.whatsapp_app_secret is None:
            logger.warning("no WhatsApp app secret: every WhatsApp webhook will be refused")
        return cls(
            client=client,
            app_secret=(
                settings.whatsapp_app_secret.get_secret_value()
                if settings.whatsapp_app_secret
                else None
            ),
            verify_token=(
                settings.whatsapp_verify_token.get_secret_value()
                if settings.whatsapp_verify_token
                else None
            ),
            webhook_max_age=timedelta(seconds=settings.whatsapp_webhook_max_age_seconds),
        )

    def send(self, message: OutboundMessage) -> SendReceipt:
        recipient = message.to.lstrip("+")  # the Cloud API wants digits with country code
        template = message.whatsapp_template
        try:
            if template is not None:
                components = (
                    [
                        {
                            "type": "body",
                            "parameters": [
                                {"type": "text", "text": p} for p in template.parameters
                            ],
                        }
                    ]
                    if template.parameters
                    else []
                )
                response = self._client.send_template(
                    template.name, recipient, components, lang=template.language
                )
            else:
                response = self._client.send_message(message.body, recipient, preview_url=False)
        except (requests.RequestException, ValueError) as exc:
            # ValueError: heyoo decodes every response as JSON, an HTML 502 page included.
            raise TransientSendError("connection", type(exc).__name__) from None
        message_id = _first_message_id(response)
        if message_id:
            return SendReceipt(self.provider, message_id, datetime.now(UTC))
        error = response.get("error") if isinstance(response, dict) else None
        code = error.get("code") if isinstance(error, dict) else None
        code = code if isinstance(code, int) else None
        logger.info("whatsapp refused job %s: code %s", message.job_id, code)
        raise classify_whatsapp_error(code)(
            str(code) if code is not None else None, "WhatsApp Cloud API error"
        )

    def verify(self, request: WebhookRequest) -> None:
        """X-Hub-Signature-256: ``sha256=`` + hex HMAC-SHA256 of the raw body, app secret as key."""
        header = request.headers.get(SIGNATURE_HEADER, "")
        if (
            self._app_secret is None
            or len(header) != _SIGNATURE_CHARS
            or not header.startswith(_SIGNATURE_PREFIX)
        ):
            raise InvalidSignature("missing or malformed X-Hub-Signature-256")
        expected = hmac.new(self._app_secret, request.body, hashlib.sha256).hexdigest()
        given = header[len(_SIGNATURE_PREFIX) :].lower().encode("ascii", "replace")
        if not hmac.compare_digest(expected.encode("ascii"), given):
            raise InvalidSignature("X-Hub-Signature-256 does not match")
        if request.received_at is not None:
            # Meta signs no time, but every status and message carries one, signed with the
            # body; Meta retries a failed delivery for up to 7 days.
            for moment in _event_times(request):
                if (
                    request.received_at - moment > self._webhook_max_age
                    or moment - request.received_at > FUTURE_TOLERANCE
                ):
                    raise StaleWebhook("WhatsApp event outside the accepted time window")

    def answer_subscription(self, query: Mapping[str, str]) -> str:
        """Meta's webhook subscription handshake (GET): the challenge to echo, if the token fits."""
        token = query.get("hub.verify_token", "")
        if (
            self._verify_token
            and query.get("hub.mode") == "subscribe"
            and hmac.compare_digest(token.encode(), self._verify_token.encode())
        ):
            return query.get("hub.challenge", "")
        raise InvalidSignature("webhook subscription refused")

    def parse_status(self, request: WebhookRequest) -> list[DeliveryStatus]:
        statuses = []
        for value in _change_values(request):
            for item in _objects(value.get("statuses"), "statuses"):
                status = _STATUS_MAP.get(str(item.get("status", "")))
                if status is None or not item.get("id"):
                    continue
                errors = item.get("errors")
                first = errors[0] if isinstance(errors, list) and errors else None
                code = first.get("code") if isinstance(first, dict) else None
                statuses.append(
                    DeliveryStatus(
                        provider=self.provider,
                        provider_message_id=str(item["id"]),
                        status=status,
                        occurred_at=_unix_time(item.get("timestamp")),
                        error_code=str(code) if code is not None else None,
                        raw=item,
                    )
                )
        return statuses

    def parse_inbound(self, request: WebhookRequest) -> list[InboundMessage]:
        inbound = []
        for value in _change_values(request):
            metadata = value.get("metadata")
            metadata = metadata if isinstance(metadata, dict) else {}
            business_number = str(
                metadata.get("display_phone_number") or metadata.get("phone_number_id") or ""
            )
            for item in _objects(value.get("messages"), "messages"):
                if not item.get("from") or not item.get("id"):
                    continue
                body = _message_text(item)
                if body is None:
                    continue  # media without caption, reactions, locations: nothing to read
                inbound.append(
                    InboundMessage(
                        provider=self.provider,
                        provider_message_id=str(item["id"]),
                        channel=self.name,
                        from_address=_e164(str(item["from"])),
                        to_address=_e164(business_number),
                        body=body,
                        received_at=_unix_time(item.get("timestamp")),
                    )
                )
        return inbound

    def close(self) -> None:
        """heyoo posts through ``requests.post`` without a session: nothing to release."""


def _first_message_id(response: Any) -> str | None:
    if not isinstance(response, dict):
        return None
    messages = response.get("messages")
    if isinstance(messages, list) and messages and isinstance(messages[0], dict):
        message_id = messages[0].get("id")
        return str(message_id) if message_id else None
    return None


def _objects(value: object, field: str) -> list[dict]:
    """The objects of a list field (absent: none); anything but a list is a malformed body."""
    if value is None:
        return []
    if not isinstance(value, list):
        raise MalformedWebhook(f"WhatsApp field {field!r} is not a list")
    return [item for item in value if isinstance(item, dict)]


def _change_values(request: WebhookRequest) -> list[dict]:
    payload = json_body(request)
    if not isinstance(payload, dict):
        raise MalformedWebhook("WhatsApp webhook must be a JSON object")
    values = []
    for entry in _objects(payload.get("entry"), "entry"):
        for change in _objects(entry.get("changes"), "changes"):
            value = change.get("value")
            if isinstance(value, dict):
                values.append(value)
    return values


def _event_times(request: WebhookRequest) -> list[datetime]:
    """The times of the statuses and messages a webhook reports (unreadable ones skipped)."""
    times = []
    try:
        values = _change_values(request)
    except MalformedWebhook:
        return []  # parse_* refuses the body itself
    for value in values:
        for field in ("statuses", "messages"):
            items = value.get(field)
            for item in items if isinstance(items, list) else []:
                raw = item.get("timestamp") if isinstance(item, dict) else None
                try:
                    times.append(datetime.fromtimestamp(int(raw), UTC))  # type: ignore[arg-type]
                except (TypeError, ValueError, OverflowError, OSError):
                    continue
    return times


def _field(item: dict, name: str) -> dict:
    value = item.get(name)
    return value if isinstance(value, dict) else {}


def _message_text(item: dict) -> str | None:
    kind = item.get("type")
    if kind == "text":
        return str(_field(item, "text").get("body", ""))
    if kind == "button":  # a template's quick-reply button
        button = _field(item, "button")
        return str(button.get("text") or button.get("payload") or "")
    if kind == "interactive":
        interactive = _field(item, "interactive")
        reply = _field(interactive, "button_reply") or _field(interactive, "list_reply")
        return str(reply.get("title") or reply.get("id") or "")
    media = item.get(kind) if isinstance(kind, str) else None
    if isinstance(media, dict) and media.get("caption"):
        return str(media["caption"])
    return None


def _e164(digits: str) -> str:
    return digits if not digits or digits.startswith("+") else "+" + digits


def _unix_time(value: object) -> datetime:
    try:
        return datetime.fromtimestamp(int(value), UTC)  # type: ignore[arg-type]
    except (TypeError, ValueError, OverflowError, OSError):
        return datetime.now(UTC)
