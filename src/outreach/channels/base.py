"""The channel worker interface: the values a channel sends and receives, its errors, its contract.

A channel is one module with one ``ChannelWorker`` subclass (Apprise-style): it declares its
capabilities as class attributes and turns an ``OutboundMessage`` into a provider call, and a
provider webhook (a framework-free ``WebhookRequest``) into normalised statuses or inbound messages.
Cross-cutting behaviour (rate limits, retries, circuit breakers, consent re-checks) wraps ``send``
from outside; channels only translate.
"""

from __future__ import annotations

import abc
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from datetime import datetime
from decimal import Decimal
from typing import TYPE_CHECKING, ClassVar, NamedTuple, Self

from outreach.domain import AddressKind, PhiFreeError

if TYPE_CHECKING:
    from outreach.config import Settings

# The normalised statuses a provider report may carry: a subset of domain.JobStatus values, and
# ``unsubscribed`` (the recipient opted out through the provider: a spam report, an unsubscribe).
NORMALISED_STATUSES = frozenset(
    {"sent", "delivered", "opened", "clicked", "failed", "bounced", "unsubscribed"}
)


def mask_address(address: str | None) -> str:
    """A log- and repr-safe stand-in for a phone number or e-mail address (keeps only its shape)."""
    if not address:
        return "<none>"
    if "@" in address:
        return "***@" + address.rsplit("@", 1)[1][:1] + "***"
    return "***" + address[-2:] if len(address) > 6 else "***"


def _masked_body(body: str | None) -> str:
    return "<none>" if body is None else f"<{len(body)} chars>"


class WhatsAppTemplate(NamedTuple):
    """An approved WhatsApp template: its name, language code (e.g. ``en_US``), body parameters."""

    name: str
    language: str
    parameters: tuple[str, ...] = ()


@dataclass(frozen=True, slots=True)
class Attachment:
    """A file sent with an e-mail (the weekly report): its name, media type and bytes."""

    filename: str
    content_type: str
    content: bytes = field(repr=False)


@dataclass(frozen=True, slots=True, kw_only=True)
class OutboundMessage:
    """One rendered message for one recipient, ready for a provider.

    Keyword-only, so that ``subject`` and ``body`` (both strings) can never swap places.
    """

    job_id: str
    channel: str
    to: str  # E.164 phone number or e-mail address
    subject: str | None = None  # e-mail only
    body: str  # plain text (e-mail: the text part)
    html_body: str | None = None  # e-mail: the HTML part, escaped for HTML
    whatsapp_template: WhatsAppTemplate | None = None  # WhatsApp: an approved template instead
    idempotency_key: str | None = None
    # Marketing e-mail: the signed one-click unsubscribe link (List-Unsubscribe, RFC 8058).
    unsubscribe_url: str | None = None
    # E-mail to staff only (reports): more addresses on the same To line, and attached files.
    # Patients' messages have one recipient and no attachment.
    other_recipients: tuple[str, ...] = ()
    attachments: tuple[Attachment, ...] = ()

    def __repr__(self) -> str:
        return (
            f"OutboundMessage(job_id={self.job_id!r}, channel={self.channel!r}, "
            f"to={mask_address(self.to)!r}, body={_masked_body(self.body)!r}, "
            f"subject={_masked_body(self.subject)!r}, "
            f"template={self.whatsapp_template.name if self.whatsapp_template else None!r}, "
            f"idempotency_key={self.idempotency_key!r}, "
            f"other_recipients={len(self.other_recipients)}, "
            f"attachments={[a.filename for a in self.attachments]!r})"
        )


@dataclass(frozen=True, slots=True)
class SendReceipt:
    """What a provider said when it accepted a message."""

    provider: str
    provider_message_id: str
    accepted_at: datetime


@dataclass(frozen=True, slots=True)
class DeliveryStatus:
    """A provider's delivery report, normalised; ``raw`` keeps the provider's own item.

    ``job_id`` is filled when the provider echoes it back (SendGrid custom args, the job id in
    Twilio's status callback URL), so a report that overtakes the send's receipt can still be
    matched; otherwise match on ``provider_message_id``.
    """

    provider: str
    provider_message_id: str
    status: str  # one of NORMALISED_STATUSES
    occurred_at: datetime
    error_code: str | None = None
    raw: dict = field(default_factory=dict, repr=False)
    job_id: str | None = None
    # What the provider charged for the message, when it says (a positive amount in price_unit).
    price: Decimal | None = None
    price_unit: str | None = None


@dataclass(frozen=True, slots=True)
class InboundMessage:
    """A patient's message to us (a reply), as the provider reported it."""

    provider: str
    provider_message_id: str
    channel: str
    from_address: str
    to_address: str
    body: str
    received_at: datetime

    def __repr__(self) -> str:
        return (
            f"InboundMessage(provider={self.provider!r}, "
            f"provider_message_id={self.provider_message_id!r}, channel={self.channel!r}, "
            f"from_address={mask_address(self.from_address)!r}, "
            f"to_address={mask_address(self.to_address)!r}, body={_masked_body(self.body)!r}, "
            f"received_at={self.received_at!r})"
        )


class Headers(Mapping[str, str]):
    """Read-only HTTP headers with case-insensitive lookups."""

    __slots__ = ("_items",)

    def __init__(self, headers: Mapping[str, str] | None = None):
        self._items: dict[str, tuple[str, str]] = {
            k.lower(): (k, v) for k, v in (headers or {}).items()
        }

    def __getitem__(self, key: str) -> str:
        return self._items[key.lower()][1]

    def __contains__(self, key: object) -> bool:
        return isinstance(key, str) and key.lower() in self._items

    def __iter__(self) -> Iterator[str]:
        return (original for original, _ in self._items.values())

    def __len__(self) -> int:
        return len(self._items)

    def __repr__(self) -> str:
        return f"Headers({sorted(self)!r})"


@dataclass(frozen=True, slots=True)
class WebhookRequest:
    """A provider's webhook call, free of any web framework.

    ``url`` is the full URL the provider called, query included, as the provider saw it (behind a
    proxy: the public URL, e.g. ``settings.public_base_url`` + path): Twilio signs it. ``body`` is
    the raw body: signatures cover its exact bytes. ``form`` may carry an already decoded form;
    channels decode ``body`` themselves when it is ``None``.
    """

    url: str
    headers: Mapping[str, str]
    body: bytes
    form: Mapping[str, str] | None = None
    # When it arrived, on the wall clock: what a channel checks the provider's timestamps
    # against (None: not checked).
    received_at: datetime | None = None

    def __post_init__(self) -> None:
        if not isinstance(self.headers, Headers):
            object.__setattr__(self, "headers", Headers(self.headers))

    def __repr__(self) -> str:
        return f"WebhookRequest(url={self.url.split('?', 1)[0]!r}, body=<{len(self.body)} bytes>)"


class SendError(PhiFreeError):
    """A provider did not accept a message; ``provider_code`` says why in the provider's terms.

    The provider's own message may quote the recipient, so only the code leaves the process.
    """

    retryable: ClassVar[bool] = False

    def __init__(self, provider_code: str | None, message: str = ""):
        super().__init__(f"[{provider_code}] {message}" if provider_code else message)
        self.provider_code = provider_code
        self.message = message

    def phi_free_text(self) -> str:
        return f"provider code {self.provider_code}"


class TransientSendError(SendError):
    """Worth retrying later: rate limits, outages, timeouts, provider 5xx."""

    retryable = True


class PermanentSendError(SendError):
    """Retrying cannot help: unsubscribed or invalid recipient, rejected content."""


def request_failure_code(exc: BaseException) -> str:
    """``connection`` when a request could not go out (refused, no route, connect timeout),
    ``timeout`` when it went out and no answer came (the provider may have acted on it)."""
    chain: list[BaseException] = []
    current: BaseException | None = exc
    while current is not None and len(chain) < 10:
        chain.append(current)
        current = current.__cause__ or current.__context__
    names = {type(e).__name__ for e in chain}
    for e in chain:
        names.update(type(a).__name__ for a in getattr(e, "args", ()) if isinstance(a, Exception))
        reason = getattr(e, "reason", None)
        if isinstance(reason, BaseException):
            names.add(type(reason).__name__)
    refused = {"ConnectTimeout", "NewConnectionError", "ConnectionRefusedError", "gaierror"}
    return "connection" if names & refused else "timeout"


class InvalidSignature(Exception):
    """A webhook's signature is missing, malformed or wrong: answer 403 and change nothing."""


class MalformedWebhook(PhiFreeError, ValueError):
    """A correctly signed webhook whose body cannot be read; the text names the part at fault,
    never a value from it (it reaches the dead-letter topic)."""


class StaleWebhook(InvalidSignature):
    """A correctly signed webhook whose timestamp is outside the accepted window (a replay)."""


class ChannelConfigError(ValueError):
    """A channel cannot start with these settings (raised at start-up)."""


class ChannelWorker(abc.ABC):
    """One delivery channel: its capabilities as data, its provider calls, its webhook parsing.

    ``send`` is synchronous because the provider SDKs block: run it in a thread pool.
    """

    name: ClassVar[str]  # the channel name, as in the entry point and domain.Channel
    provider: ClassVar[str]  # the provider's name in receipts and statuses
    address_kind: ClassVar[AddressKind]  # which of a patient's addresses it reaches them at
    max_body_chars: ClassVar[int]  # longest body the provider accepts in one message
    supports_phi: ClassVar[bool]  # whether bodies may carry PHI (else: portal links only)
    default_rate_per_sec: ClassVar[float]  # sends/s to pace at unless configured otherwise
    status_webhook_path: ClassVar[str]  # where the provider posts delivery reports
    # The provider's status reports carry no event time: they are stamped when they arrive.
    status_times_are_arrival: ClassVar[bool] = False
    inbound_webhook_path: ClassVar[str]  # where the provider posts patients' messages
    # Largest webhook body the provider sends; the API refuses more while it streams in.
    max_webhook_bytes: ClassVar[int] = 1024 * 1024
    finds_accepted: ClassVar[bool] = False  # whether ``find_accepted`` can ask the provider

    @property
    def pacing_key(self) -> str:
        """The provider account and sender whose rate limit this channel's sends share."""
        return f"{self.provider}:{self.name}"

    @classmethod
    @abc.abstractmethod
    def from_settings(cls, settings: Settings) -> Self:
        """Build the worker from settings; raise ``ChannelConfigError`` if it cannot work."""

    @abc.abstractmethod
    def send(self, message: OutboundMessage) -> SendReceipt:
        """Hand one message to the provider; raise Transient/PermanentSendError on refusal."""

    @abc.abstractmethod
    def verify(self, request: WebhookRequest) -> None:
        """Check the provider's signature; raise ``InvalidSignature`` (and nothing else)."""

    @abc.abstractmethod
    def parse_status(self, request: WebhookRequest) -> list[DeliveryStatus]:
        """Normalised delivery reports in a verified webhook (provider-only states are skipped)."""

    @abc.abstractmethod
    def parse_inbound(self, request: WebhookRequest) -> list[InboundMessage]:
        """Patients' messages in a verified webhook."""

    def find_accepted(self, message: OutboundMessage, since: datetime) -> SendReceipt | None:
        """The provider's own record of ``message`` if it accepted it at or after ``since``,
        ``None`` if it has no trace of it (only for channels with ``finds_accepted``).

        Used when a send's outcome is unknown (a crash mid-send, a timeout, a 5xx): the job is
        sent again only if the provider has no trace. Raise ``TransientSendError`` when the
        provider cannot be asked right now.
        """
        raise NotImplementedError(f"channel {self.name!r} cannot look messages up")

    def close(self) -> None:  # noqa: B027 - optional hook, most SDK clients need no closing
        """Release the SDK's connections."""
