"""E-mail through Twilio SendGrid's v3 Mail Send API, with the official ``sendgrid`` SDK.

Locally ``settings.sendgrid_host`` points the SDK at the simulator. Each mail carries the job id
as a custom arg, which SendGrid copies into every event about it.

Provider message ids: Mail Send answers with an ``X-Message-Id`` header; events carry an
``sg_message_id`` made of that id, a dot, and per-recipient routing parts
(``<X-Message-Id>.filter0001.16648.5515E0B88.0``). The part before the first dot is therefore
the id this channel reports everywhere.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import http.client
import json
import logging
from datetime import UTC, datetime, timedelta
from email.utils import getaddresses, parseaddr
from typing import TYPE_CHECKING, Self
from urllib.error import URLError

from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.hazmat.primitives.serialization import load_der_public_key, load_pem_public_key
from python_http_client.exceptions import HTTPError as SendGridHTTPError
from sendgrid import SendGridAPIClient
from sendgrid.helpers.eventwebhook.eventwebhook_header import EventWebhookHeader
from sendgrid.helpers.mail import (
    Attachment,
    CustomArg,
    Disposition,
    FileContent,
    FileName,
    FileType,
    Header,
    Mail,
)

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
    request_failure_code,
)
from outreach.channels.webhook_bodies import json_body, multipart_form
from outreach.channels.webhook_paths import SENDGRID_EVENTS_PATH, SENDGRID_INBOUND_PATH
from outreach.delivery.provider_errors import classify_send_error
from outreach.domain import AddressKind
from outreach.templating import ONE_CLICK_POST

if TYPE_CHECKING:
    from outreach.config import Settings

logger = logging.getLogger(__name__)

SIGNATURE_HEADER = EventWebhookHeader.SIGNATURE  # X-Twilio-Email-Event-Webhook-Signature
TIMESTAMP_HEADER = EventWebhookHeader.TIMESTAMP  # X-Twilio-Email-Event-Webhook-Timestamp
_MAX_SIGNATURE_CHARS = 200  # base64 of a DER ECDSA P-256 signature is at most 96 characters
_MAX_TIMESTAMP_CHARS = 20
DEFAULT_WEBHOOK_MAX_AGE = timedelta(minutes=10)

# SendGrid event -> normalised status. ``deferred`` means the receiving server asked to try
# again later: still on its way. Compliance events (spamreport, unsubscribe, group_*) are not
# delivery states and are skipped here.
_EVENT_MAP = {
    "processed": "sent",
    "deferred": "sent",
    "delivered": "delivered",
    "open": "opened",
    "click": "clicked",
    "bounce": "bounced",
    "dropped": "failed",
}
# Compliance events: not delivery states, but the recipient opting out through SendGrid.
_OPT_OUT_EVENTS = frozenset({"spamreport", "unsubscribe", "group_unsubscribe"})


def classify_sendgrid_error(http_status: int) -> type[SendError]:
    """By ``delivery.provider_errors``: 400/403/413 say the mail itself is refused; 429, 5xx (and
    401 credentials) may pass later."""
    kind = classify_send_error("sendgrid", str(http_status), final=400 <= http_status < 500)
    return PermanentSendError if kind.is_final else TransientSendError


def load_sendgrid_public_key(value: str) -> ec.EllipticCurvePublicKey:
    """SendGrid's verification key, given as PEM or as the base64 DER the SendGrid UI shows."""
    text = value.strip()
    try:
        if "BEGIN PUBLIC KEY" in text:
            key = load_pem_public_key(text.encode("ascii"))
        else:
            key = load_der_public_key(base64.b64decode(text, validate=True))
    except (ValueError, TypeError, binascii.Error) as exc:
        raise ChannelConfigError(
            "OUTREACH_SENDGRID_WEBHOOK_PUBLIC_KEY is not a public key"
        ) from exc
    if not isinstance(key, ec.EllipticCurvePublicKey):
        raise ChannelConfigError("OUTREACH_SENDGRID_WEBHOOK_PUBLIC_KEY is not an EC key")
    return key


class _SdkDebugLogFilter(logging.Filter):
    """Drops python_http_client's DEBUG records: they carry the whole mail (addresses, body)
    and the request headers (the API key)."""

    def filter(self, record: logging.LogRecord) -> bool:
        return record.levelno > logging.DEBUG


def _install_sdk_log_filter() -> None:
    sdk_logger = logging.getLogger("python_http_client.client")
    if not any(isinstance(f, _SdkDebugLogFilter) for f in sdk_logger.filters):
        sdk_logger.addFilter(_SdkDebugLogFilter())


class SendGridEmailChannel(ChannelWorker):
    name = "email"
    provider = "sendgrid"
    address_kind = AddressKind.EMAIL
    max_body_chars = 1_000_000  # SendGrid takes 30 MB messages; this bounds what we render
    supports_phi = False  # mail is not end-to-end encrypted and SendGrid signs no BAA
    default_rate_per_sec = 100.0  # one request per recipient; SendGrid's API allows far more
    status_webhook_path = SENDGRID_EVENTS_PATH
    inbound_webhook_path = SENDGRID_INBOUND_PATH
    # Inbound Parse carries attachments up to 30 MB (we read only the text, but the signature
    # covers every byte); the event webhook's batches are far smaller.
    max_webhook_bytes = 32 * 1024 * 1024

    def __init__(
        self,
        *,
        client: SendGridAPIClient,
        from_email: str,
        webhook_public_key: ec.EllipticCurvePublicKey | None,
        webhook_max_age: timedelta = DEFAULT_WEBHOOK_MAX_AGE,
    ):
        self._client = client
        self._from_email = from_email
        self._public_key = webhook_public_key
        self._webhook_max_age = webhook_max_age

    @classmethod
    def from_settings(cls, settings: Settings) -> Self:
        if settings.sendgrid_api_key is None:
            raise ChannelConfigError("email channel needs OUTREACH_SENDGRID_API_KEY")
        _install_sdk_log_filter()
        kwargs = {"host": settings.sendgrid_host.rstrip("/")} if settings.sendgrid_host else {}
        client = SendGridAPIClient(settings.sendgrid_api_key.get_secret_value(), **kwargs)
        # The SDK's urllib client waits forever unless told otherwise.
        client.client.timeout = settings.provider_timeout_seconds
        public_key = None
        if settings.sendgrid_webhook_public_key:
            public_key = load_sendgrid_public_key(settings.sendgrid_webhook_public_key)
        else:
            logger.warning("no SendGrid webhook public key: every e-mail webhook will be refused")
        return cls(
            client=client,
            from_email=settings.sendgrid_from_email,
            webhook_public_key=public_key,
            webhook_max_age=timedelta(seconds=settings.sendgrid_webhook_max_age_seconds),
        )

    finds_accepted = True  # the Email Activity API finds a message by its custom args

    @property
    def pacing_key(self) -> str:
        return f"{self.provider}:{self._from_email}"

    def send(self, message: OutboundMessage) -> SendReceipt:
        # A text part and an HTML part, each escaped for its own format by the renderer.
        mail = Mail(
            from_email=self._from_email,
            to_emails=[message.to, *message.other_recipients]
            if message.other_recipients
            else message.to,
            subject=message.subject or "",
            plain_text_content=message.body,
            html_content=message.html_body,
        )
        if message.attachments:
            mail.attachment = [
                Attachment(
                    FileContent(base64.b64encode(a.content).decode("ascii")),
                    FileName(a.filename),
                    FileType(a.content_type),
                    Disposition("attachment"),
                )
                for a in message.attachments
            ]
        custom_args = [CustomArg("job_id", message.job_id)]
        if message.idempotency_key:
            custom_args.append(CustomArg("idempotency_key", message.idempotency_key))
        mail.custom_arg = custom_args
        if message.unsubscribe_url:
            # RFC 8058 one-click: mail clients show "Unsubscribe" and POST to the link.
            mail.header = [
                Header("List-Unsubscribe", f"<{message.unsubscribe_url}>"),
                Header("List-Unsubscribe-Post", ONE_CLICK_POST),
            ]
        try:
            response = self._client.send(mail)
        except SendGridHTTPError as exc:
            logger.info("sendgrid refused job %s: HTTP %s", message.job_id, exc.status_code)
            # from None: SendGrid's error text may quote the address.
            error = classify_sendgrid_error(exc.status_code)
            raise error(str(exc.status_code), f"SendGrid HTTP {exc.status_code}") from None
        except (URLError, OSError, http.client.HTTPException) as exc:
            raise TransientSendError(request_failure_code(exc), type(exc).__name__) from None
        message_id = response.headers.get("X-Message-Id") if response.headers else None
        if not message_id:
            raise TransientSendError(str(response.status_code), "SendGrid gave no X-Message-Id")
        return SendReceipt(self.provider, message_id, datetime.now(UTC))

    def find_accepted(self, message: OutboundMessage, since: datetime) -> SendReceipt | None:
        """SendGrid's record of the mail, by the job id it carries as a custom argument (ids
        only: SendGrid keeps custom args unredacted), through the Email Activity API."""
        query = f"unique_args['job_id']=\"{message.job_id}\""
        try:
            response = self._client.client.messages.get(query_params={"query": query, "limit": 10})
            found = json.loads(response.body or b"{}").get("messages") or []
        except SendGridHTTPError as exc:
            raise TransientSendError(str(exc.status_code), "SendGrid lookup failed") from None
        except (URLError, OSError, http.client.HTTPException, ValueError) as exc:
            raise TransientSendError(request_failure_code(exc), type(exc).__name__) from None
        for record in found:
            message_id = str(record.get("msg_id") or "").split(".", 1)[0]
            if message_id:
                return SendReceipt(self.provider, message_id, datetime.now(UTC))
        return None

    def verify(self, request: WebhookRequest) -> None:
        """ECDSA P-256 / SHA-256 over the timestamp header followed by the raw body.

        Checked on bytes (not with the SDK's ``EventWebhook``, which works on ``str``) so that
        Inbound Parse's multipart bodies, signed the same way, verify too. The signed timestamp
        must lie within ``webhook_max_age`` of the arrival (either way): an old capture replayed
        is refused as ``StaleWebhook``, even though replays would change nothing downstream.
        """
        signature = request.headers.get(SIGNATURE_HEADER)
        timestamp = request.headers.get(TIMESTAMP_HEADER)
        if (
            self._public_key is None
            or not signature
            or not timestamp
            or len(signature) > _MAX_SIGNATURE_CHARS
            or len(timestamp) > _MAX_TIMESTAMP_CHARS
        ):
            raise InvalidSignature("missing or malformed SendGrid signature headers")
        try:
            self._public_key.verify(
                base64.b64decode(signature, validate=True),
                timestamp.encode("ascii") + request.body,
                ec.ECDSA(hashes.SHA256()),
            )
        except Exception:  # bad base64, bad DER, non-ASCII, wrong signature: all the same
            raise InvalidSignature("SendGrid signature does not match") from None
        if request.received_at is not None:
            try:
                signed_at = datetime.fromtimestamp(int(timestamp), UTC)
            except (ValueError, OverflowError, OSError):
                raise StaleWebhook("SendGrid timestamp is not a time") from None
            if abs(request.received_at - signed_at) > self._webhook_max_age:
                raise StaleWebhook("SendGrid signature outside its time window")

    def parse_status(self, request: WebhookRequest) -> list[DeliveryStatus]:
        events = json_body(request)
        if not isinstance(events, list):
            raise MalformedWebhook("SendGrid events must be a JSON array")
        statuses = []
        for event in events:
            if not isinstance(event, dict):
                continue
            name = str(event.get("event", ""))
            status = "unsubscribed" if name in _OPT_OUT_EVENTS else _EVENT_MAP.get(name)
            message_id = str(event.get("sg_message_id") or "").split(".", 1)[0]
            if status is None or not message_id:
                continue
            statuses.append(
                DeliveryStatus(
                    provider=self.provider,
                    provider_message_id=message_id,
                    status=status,
                    occurred_at=_event_time(event.get("timestamp")),
                    error_code=_event_error(event),
                    raw=event,
                    job_id=str(event["job_id"]) if event.get("job_id") else None,
                )
            )
        return statuses

    def parse_inbound(self, request: WebhookRequest) -> list[InboundMessage]:
        """Inbound Parse posts (best effort): the sender, our address, and the text part."""
        fields = multipart_form(request)
        sender = parseaddr(fields.get("from", ""))[1]
        if not sender:
            return []
        recipients = [address for _, address in getaddresses([fields.get("to", "")]) if address]
        body = fields.get("text") or ""
        message_id = _header_value(fields.get("headers", ""), "message-id")
        if not message_id:
            digest = hashlib.sha256(request.body or repr(sorted(fields.items())).encode())
            message_id = "parse-" + digest.hexdigest()[:32]
        return [
            InboundMessage(
                provider=self.provider,
                provider_message_id=message_id,
                channel=self.name,
                from_address=sender,
                to_address=recipients[0] if recipients else "",
                body=body,
                received_at=datetime.now(UTC),
            )
        ]


def _event_time(value: object) -> datetime:
    try:
        return datetime.fromtimestamp(int(value), UTC)  # type: ignore[arg-type]
    except (TypeError, ValueError, OverflowError, OSError):
        return datetime.now(UTC)


def _event_error(event: dict) -> str | None:
    """The SMTP status of a bounce or deferral, or a drop's reason (e.g. 'Unsubscribed Address')."""
    if event.get("event") in ("bounce", "deferred"):
        return str(event.get("status") or event.get("type") or event["event"])
    if event.get("event") == "dropped":
        return str(event.get("reason") or "dropped")
    if event.get("event") in _OPT_OUT_EVENTS:
        return str(event["event"])
    return None


def _header_value(raw_headers: str, name: str) -> str | None:
    for line in raw_headers.splitlines():
        key, sep, value = line.partition(":")
        if sep and key.strip().lower() == name:
            return value.strip().strip("<>") or None
    return None
