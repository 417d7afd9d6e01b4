"""SMS through Twilio Programmable Messaging, with the official ``twilio`` SDK.

Locally ``settings.twilio_base_url`` points the SDK's API domain at the simulator; the send path
is otherwise the production one.
"""

from __future__ import annotations

import logging
import re
from datetime import UTC, datetime, timedelta
from decimal import Decimal, InvalidOperation
from typing import TYPE_CHECKING, Self
from urllib.parse import parse_qs, quote, urlsplit

import requests
from requests.adapters import HTTPAdapter
from twilio.base.exceptions import TwilioRestException, TwilioServiceException
from twilio.http.http_client import TwilioHttpClient
from twilio.request_validator import RequestValidator
from twilio.rest import Client

from outreach.channels.base import (
    ChannelConfigError,
    ChannelWorker,
    DeliveryStatus,
    InboundMessage,
    InvalidSignature,
    OutboundMessage,
    PermanentSendError,
    SendError,
    SendReceipt,
    TransientSendError,
    WebhookRequest,
    request_failure_code,
)
from outreach.channels.webhook_bodies import urlencoded_form
from outreach.channels.webhook_paths import TWILIO_INBOUND_PATH, TWILIO_STATUS_PATH
from outreach.delivery.provider_errors import classify_send_error
from outreach.domain import AddressKind

if TYPE_CHECKING:
    from outreach.config import Settings

logger = logging.getLogger(__name__)

SIGNATURE_HEADER = "X-Twilio-Signature"
# Connections kept per host: one per sending thread of a worker's pool, with room to spare.
HTTP_POOL_SIZE = 32
_MAX_SIGNATURE_CHARS = 128  # base64 of an HMAC-SHA1/SHA256 is far shorter
# A message found by a lookup was created within this of when our send started.
_LOOKUP_WINDOW = timedelta(minutes=30)

# Twilio MessageStatus -> normalised status; queued/accepted/sending/scheduled say nothing new.
_STATUS_MAP = {
    "sent": "sent",
    "delivered": "delivered",
    "read": "opened",
    "undelivered": "failed",
    "failed": "failed",
    "canceled": "failed",
}


def classify_twilio_error(http_status: int | None, code: int | None) -> type[SendError]:
    """Transient or permanent, by ``delivery.provider_errors``: Twilio's error code first, the
    HTTP status second (an unknown 4xx refuses the request itself)."""
    if code is not None:
        key = str(code)
    else:
        key = str(http_status) if http_status is not None else "connection"
    final = http_status is not None and 400 <= http_status < 500
    kind = classify_send_error("twilio", key, final=final)
    return PermanentSendError if kind.is_final else TransientSendError


def _price(text: str | None) -> Decimal | None:
    """Twilio's ``Price`` ("-0.00790": a charge, negative) as the positive amount charged."""
    if not text:
        return None
    try:
        value = Decimal(text)
    except InvalidOperation:
        return None
    return abs(value) if value.is_finite() else None


class TwilioSmsChannel(ChannelWorker):
    name = "sms"
    provider = "twilio"
    address_kind = AddressKind.PHONE
    max_body_chars = 1600  # Twilio refuses longer bodies (error 21617)
    supports_phi = False  # SMS crosses carrier networks in clear text: portal links only
    default_rate_per_sec = 30.0  # a short code's pace; a long code manages 1/s, toll-free 3/s
    status_webhook_path = TWILIO_STATUS_PATH
    inbound_webhook_path = TWILIO_INBOUND_PATH
    max_webhook_bytes = 256 * 1024  # Twilio posts short forms (media come as URLs)
    status_times_are_arrival = True  # RawDlrDoneDate has minutes and no zone

    def __init__(
        self,
        *,
        client: Client,
        from_number: str,
        auth_token: str | None,
        public_base_url: str | None,
    ):
        self._client = client
        self._from_number = from_number
        self._account_sid = client.account_sid or ""
        self._validator = RequestValidator(auth_token) if auth_token else None
        self._status_callback_base = (
            public_base_url.rstrip("/") + TWILIO_STATUS_PATH if public_base_url else None
        )

    @classmethod
    def from_settings(cls, settings: Settings) -> Self:
        if settings.twilio_auth_token is None:
            raise ChannelConfigError("sms channel needs OUTREACH_TWILIO_AUTH_TOKEN")
        auth_token = settings.twilio_auth_token.get_secret_value()
        http_client = TwilioHttpClient(timeout=settings.provider_timeout_seconds)
        # The SDK pools only https connections, 6 of them; a thread pool needs more, and the
        # simulator speaks plain http.
        adapter = HTTPAdapter(pool_connections=4, pool_maxsize=HTTP_POOL_SIZE)
        http_client.session.mount("https://", adapter)
        http_client.session.mount("http://", adapter)
        client = Client(settings.twilio_account_sid, auth_token, http_client=http_client)
        if settings.twilio_base_url:
            client.api.base_url = settings.twilio_base_url.rstrip("/")
            client.edge = client.region = None  # edge/region would rewrite the simulator's host
        return cls(
            client=client,
            from_number=settings.twilio_from_number,
            auth_token=auth_token,
            public_base_url=settings.public_base_url,
        )

    finds_accepted = True  # the Messages list filters by To, From and DateSent

    @property
    def pacing_key(self) -> str:
        """One bucket per account and sending number (1/s long code, 3/s toll-free...)."""
        return f"{self.provider}:{self._account_sid}:{self._from_number}"

    def status_callback_url(self, job_id: str) -> str | None:
        """Our status webhook for one job; the job id rides along so reports can match early."""
        if not self._status_callback_base:
            return None
        return f"{self._status_callback_base}?job_id={quote(job_id, safe='')}"

    def send(self, message: OutboundMessage) -> SendReceipt:
        callback = self.status_callback_url(message.job_id)
        try:
            created = self._client.messages.create(
                to=message.to,
                from_=self._from_number,
                body=message.body,
                **({"status_callback": callback} if callback else {}),
            )
        except (TwilioRestException, TwilioServiceException) as exc:
            error = classify_twilio_error(exc.status, exc.code)
            logger.info(
                "twilio refused job %s: code %s (HTTP %s)", message.job_id, exc.code, exc.status
            )
            # from None: Twilio's message text may quote the recipient's number.
            raise error(str(exc.code or exc.status), f"Twilio HTTP {exc.status}") from None
        except requests.RequestException as exc:
            raise TransientSendError(request_failure_code(exc), type(exc).__name__) from None
        if not created.sid:
            raise TransientSendError(None, "Twilio accepted the message without a sid")
        return SendReceipt(
            provider=self.provider,
            provider_message_id=created.sid,
            accepted_at=created.date_created or datetime.now(UTC),
        )

    def find_accepted(self, message: OutboundMessage, since: datetime) -> SendReceipt | None:
        """Twilio's record of the message: the Messages list filtered by recipient, our number
        and date, then the one with this body created since ``since`` (creating a message is not
        idempotent, so a retry after a 5xx or a crash asks here first)."""
        try:
            found = self._client.messages.list(
                to=message.to, from_=self._from_number, date_sent_after=since, limit=100
            )
        except (TwilioRestException, TwilioServiceException) as exc:
            raise TransientSendError(str(exc.code or exc.status), "Twilio lookup failed") from None
        except requests.RequestException as exc:
            raise TransientSendError(request_failure_code(exc), type(exc).__name__) from None
        wanted = _comparable(message.body)
        for record in found:
            created = record.date_created
            if (
                record.sid
                and _comparable(record.body or "") == wanted
                and (created is None or since <= created <= since + _LOOKUP_WINDOW)
            ):
                return SendReceipt(self.provider, record.sid, created or datetime.now(UTC))
        return None

    def verify(self, request: WebhookRequest) -> None:
        signature = request.headers.get(SIGNATURE_HEADER)
        if self._validator is None or not signature or len(signature) > _MAX_SIGNATURE_CHARS:
            raise InvalidSignature("missing or malformed X-Twilio-Signature")
        try:
            query = parse_qs(urlsplit(request.url).query)
            # JSON-bodied webhooks sign a hash of the body in the URL instead of form fields.
            params: object = (
                request.body.decode("utf-8") if "bodySHA256" in query else urlencoded_form(request)
            )
            valid = self._validator.validate(request.url, params, signature)
        except Exception:  # whatever a forged request contains, the answer is the same
            valid = False
        if not valid:
            raise InvalidSignature("X-Twilio-Signature does not match")

    def parse_status(self, request: WebhookRequest) -> list[DeliveryStatus]:
        form = urlencoded_form(request)
        sid = form.first("MessageSid") or form.first("SmsSid")
        status = _STATUS_MAP.get(form.first("MessageStatus") or form.first("SmsStatus") or "")
        if not sid or status is None:
            return []
        job_ids = parse_qs(urlsplit(request.url).query).get("job_id")
        price = _price(form.first("Price"))
        return [
            DeliveryStatus(
                provider=self.provider,
                provider_message_id=sid,
                status=status,
                # Twilio's reports carry no event time (RawDlrDoneDate has no zone): use arrival.
                occurred_at=datetime.now(UTC),
                error_code=form.first("ErrorCode") or None,
                raw={
                    key: values[0] if len(values) == 1 else values for key, values in form.items()
                },
                job_id=job_ids[0] if job_ids else None,
                price=price,
                price_unit=(form.first("PriceUnit") or "USD")[:8] if price is not None else None,
            )
        ]

    def parse_inbound(self, request: WebhookRequest) -> list[InboundMessage]:
        form = urlencoded_form(request)
        sid = form.first("MessageSid") or form.first("SmsMessageSid") or form.first("SmsSid")
        sender = form.first("From")
        if not sid or not sender:
            return []
        return [
            InboundMessage(
                provider=self.provider,
                provider_message_id=sid,
                channel=self.name,
                from_address=sender,
                to_address=form.first("To") or "",
                body=form.first("Body") or "",
                received_at=datetime.now(UTC),
            )
        ]

    def close(self) -> None:
        session = getattr(self._client.http_client, "session", None)
        if session is not None:
            session.close()


_LINK = re.compile(r"https?://\S+")


def _comparable(body: str) -> str:
    """A body as a lookup compares it: links out, since a signed portal link rendered again
    carries a new expiry."""
    return _LINK.sub("<link>", body).strip()
