"""The vocabulary every package shares: purposes, channels, job statuses and suppression reasons.

Kept free of I/O so the pure cores (preferences, templating, replies, scheduler) can import it.
"""

from __future__ import annotations

import enum
import re
import threading
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, ClassVar

_CHANNEL_NAME = re.compile(r"^[a-z][a-z0-9_]{0,15}$")


class Channel(str):
    """A channel's name: ``email``, ``sms`` and ``whatsapp`` are built in, a plugin adds more.

    Channels are names, not a closed set: a plugin registered in the ``outreach.channels`` entry
    point brings a new one without changing outreach. A name is lower-case letters, digits and
    ``_`` (at most 16, it names a Kafka topic and a column value). Each name has one instance,
    so the rules may compare channels by identity (``channel is Channel.EMAIL``).
    """

    __slots__ = ()
    _interned: ClassVar[dict[str, Channel]] = {}
    _lock: ClassVar[threading.Lock] = threading.Lock()
    EMAIL: ClassVar[Channel]
    SMS: ClassVar[Channel]
    WHATSAPP: ClassVar[Channel]

    def __new__(cls, name: str) -> Channel:
        if name.__class__ is cls:
            return name  # type: ignore[return-value]
        found = cls._interned.get(name)
        if found is not None:
            return found
        if not isinstance(name, str) or not _CHANNEL_NAME.fullmatch(name):
            raise ValueError(f"{name!r} is not a channel name (a-z, 0-9, _; at most 16)")
        with cls._lock:
            return cls._interned.setdefault(name, str.__new__(cls, name))

    @property
    def value(self) -> str:
        """The plain name (what is stored, published and used in topic names)."""
        return str.__str__(self)

    def __repr__(self) -> str:
        return f"Channel({self.value!r})"

    def __reduce__(self) -> tuple[type[Channel], tuple[str]]:
        return (Channel, (self.value,))

    @classmethod
    def __get_pydantic_core_schema__(cls, source: Any, handler: Any) -> Any:
        from pydantic_core import core_schema

        return core_schema.no_info_after_validator_function(
            cls,
            core_schema.str_schema(pattern=_CHANNEL_NAME.pattern, max_length=16),
            serialization=core_schema.plain_serializer_function_ser_schema(
                str.__str__, when_used="always"
            ),
        )


Channel.EMAIL = Channel("email")
Channel.SMS = Channel("sms")
Channel.WHATSAPP = Channel("whatsapp")
# The channels outreach ships; plugins register more (``register_channel``).
BUILTIN_CHANNELS: tuple[Channel, ...] = (Channel.EMAIL, Channel.SMS, Channel.WHATSAPP)


class AddressKind(enum.StrEnum):
    """Which of a patient's stored addresses a channel reaches them at."""

    EMAIL = "email"
    PHONE = "phone"
    WHATSAPP = "whatsapp"  # the WhatsApp number, else the phone number


_ADDRESS_KINDS: dict[Channel, AddressKind] = {
    Channel.EMAIL: AddressKind.EMAIL,
    Channel.SMS: AddressKind.PHONE,
    Channel.WHATSAPP: AddressKind.WHATSAPP,
}


def register_channel(name: str, address_kind: AddressKind | str) -> Channel:
    """Make a plugin's channel known to the rules: the address it reaches patients at.

    Called when the channel registry loads a plugin; a channel nobody registered has no address,
    so the rules never choose it.
    """
    channel = Channel(name)
    kind = AddressKind(address_kind)
    if channel in BUILTIN_CHANNELS and _ADDRESS_KINDS[channel] is not kind:
        raise ValueError(f"channel {name!r} is built in and reaches patients by {kind.value}")
    _ADDRESS_KINDS[channel] = kind
    return channel


def address_kind_of(channel: Channel) -> AddressKind | None:
    """The address kind a channel uses, or ``None`` for a channel no one registered."""
    return _ADDRESS_KINDS.get(channel)


def known_channels() -> tuple[Channel, ...]:
    """Built-in channels and every plugin channel registered in this process."""
    return tuple(_ADDRESS_KINDS)


class Purpose(enum.StrEnum):
    APPT_CONFIRM = "appt_confirm"
    APPT_REMINDER = "appt_reminder"
    NO_SHOW = "no_show"
    RX_REFILL = "rx_refill"
    LAB_READY = "lab_ready"
    CAMPAIGN_EDUCATION = "campaign_education"
    URGENT = "urgent"

    @property
    def is_marketing(self) -> bool:
        """Marketing needs the channel's marketing opt-in and counts against frequency caps."""
        return self is Purpose.CAMPAIGN_EDUCATION

    @property
    def is_transactional(self) -> bool:
        return not self.is_marketing


class JobStatus(enum.StrEnum):
    QUEUED = "queued"
    PROCESSING = "processing"
    SENT = "sent"
    DELIVERED = "delivered"
    OPENED = "opened"
    CLICKED = "clicked"
    REPLIED = "replied"
    FAILED = "failed"
    BOUNCED = "bounced"
    CANCELLED = "cancelled"
    SUPPRESSED = "suppressed"

    @property
    def is_terminal_exit(self) -> bool:
        """Side exits end a job's life: nothing moves it on afterwards."""
        return self in _SIDE_EXITS


# The forward path of a job; a status may only move to a higher rank.
_FORWARD_RANK: dict[JobStatus, int] = {
    JobStatus.QUEUED: 0,
    JobStatus.PROCESSING: 1,
    JobStatus.SENT: 2,
    JobStatus.DELIVERED: 3,
    JobStatus.OPENED: 4,
    JobStatus.CLICKED: 5,
    JobStatus.REPLIED: 6,
}
# The forward path in order (queued first); side exits are not on it.
FORWARD_PATH: tuple[JobStatus, ...] = tuple(sorted(_FORWARD_RANK, key=_FORWARD_RANK.__getitem__))
_SIDE_EXITS = frozenset(
    {JobStatus.FAILED, JobStatus.BOUNCED, JobStatus.CANCELLED, JobStatus.SUPPRESSED}
)
# Side exits reachable from each point of the forward path.
_EXITS_BEFORE_SEND = frozenset({JobStatus.CANCELLED, JobStatus.SUPPRESSED, JobStatus.FAILED})
_EXITS_AFTER_SEND = frozenset({JobStatus.FAILED, JobStatus.BOUNCED})


def can_transition(current: JobStatus, new: JobStatus) -> bool:
    """Whether a job may move from ``current`` to ``new``: status only ever moves forward.

    Side exits are final. Before a provider accepted the message a job may be cancelled,
    suppressed or failed; after it, only a provider report (failed/bounced) can end it early.
    """
    if current in _SIDE_EXITS:
        return False
    if new in _SIDE_EXITS:
        rank = _FORWARD_RANK[current]
        if rank < _FORWARD_RANK[JobStatus.SENT]:
            return new in _EXITS_BEFORE_SEND
        # A bounce or failure report can only follow a send that was not yet delivered/read.
        return new in _EXITS_AFTER_SEND and rank <= _FORWARD_RANK[JobStatus.DELIVERED]
    return _FORWARD_RANK[new] > _FORWARD_RANK[current]


class SendTimeSource(enum.StrEnum):
    """How a job's send time was chosen, recorded on the job so the send-time model can weigh
    what it learns from it."""

    MODEL = "model"  # moved to the patient's learnt best hour
    EXPLORATION = "exploration"  # a random allowed hour, so the model sees hours it would not use
    DEFAULT = "default"  # the earliest allowed time


class SuppressionReason(enum.StrEnum):
    """Machine-readable reasons for a job ending ``suppressed``."""

    OPTED_OUT = "opted_out"
    NO_CONSENT = "no_consent"
    NO_MARKETING_OPT_IN = "no_marketing_opt_in"
    NO_WHATSAPP_OPT_IN = "no_whatsapp_opt_in"  # WhatsApp needs its own explicit opt-in
    CONSENT_EXPIRED = "consent_expired"
    QUIET_HOURS_DEADLINE = "quiet_hours_deadline"
    FREQUENCY_CAP = "frequency_cap"
    NO_REACHABLE_CHANNEL = "no_reachable_channel"
    PHI_POLICY = "phi_policy"
    DEADLINE_PASSED = "deadline_passed"


class AppointmentStatus(enum.StrEnum):
    """Where an appointment stands, as the last of its events says (the ``appointments`` facts)."""

    BOOKED = "booked"  # booked or rescheduled: expected to take place at ``starts_at``
    CANCELLED = "cancelled"
    NO_SHOW = "no_show"
    ATTENDED = "attended"


@dataclass(frozen=True, slots=True)
class AppointmentFact:
    """What one appointment event says about its appointment, to keep in ``appointments``.

    The newest event of an appointment (``occurred_at``, then ``event_id`` at the same instant)
    decides its status whatever order the events arrive in. ``starts_at`` and ``provider_id``
    come from the newest event too, but one that does not carry them leaves the stored values,
    and an older event only fills them in while they are missing.
    """

    appointment_id: str
    org_id: str
    patient_id: str
    provider_id: str | None
    starts_at: datetime | None
    status: AppointmentStatus
    event_id: str
    event_type: str
    occurred_at: datetime


@dataclass(frozen=True, slots=True)
class JobRecord:
    """A stored ``comm_jobs`` row as the send path reads it (no bookkeeping columns).

    ``context`` holds the event facts a template may name; its values may be PHI, so the
    ``repr`` shows only its keys.
    """

    id: int
    idempotency_key: str
    org_id: str
    patient_id: str
    provider_id: str | None
    appointment_id: str | None
    campaign_id: int | None
    purpose: Purpose
    channel: Channel | None
    status: JobStatus
    attempt: int
    scheduled_for: datetime
    deadline: datetime | None
    language: str | None
    variant: str | None
    context: Mapping[str, Any] = field(default_factory=dict)
    retries: int = 0  # transient failures so far
    unconfirmed_since: datetime | None = None  # an earlier attempt may have reached the provider
    tried_channels: frozenset[Channel] = frozenset()  # channels this message already failed on

    def __repr__(self) -> str:
        return (
            f"JobRecord(id={self.id!r}, purpose={self.purpose.value!r}, "
            f"channel={self.channel.value if self.channel else None!r}, "
            f"status={self.status.value!r}, attempt={self.attempt!r}, "
            f"context_keys={sorted(self.context)!r})"
        )


@dataclass(frozen=True, slots=True)
class ClinicContact:
    """What a message may say about the clinic (an organisation): nothing about any patient."""

    org_id: str
    name: str | None
    phone: str | None
    booking_url: str | None
    language: str | None


@dataclass(frozen=True, slots=True)
class AuditRecord:
    """One append-only ``comm_audit_log`` entry: who did what, to whom, when, from where.

    ``actor`` comes from a credential (an API key's prefix, a token's subject) or names the
    process that acted (``system:channels``); ``ip`` and ``user_agent`` are the HTTP caller's.
    ``detail`` holds identifiers and flags, never personal data.
    """

    occurred_at: datetime
    actor: str
    action: str
    patient_id: str | None = None
    detail: Mapping[str, Any] = field(default_factory=dict)
    org_id: str | None = None
    ip: str | None = None
    user_agent: str | None = None


@dataclass(frozen=True, slots=True)
class Actor:
    """Who acts and from where, as the audit log records it."""

    name: str  # "key:<prefix>", "sso:<subject>", "cli:<user>" or "system:<process role>"
    org_id: str | None = None
    ip: str | None = None
    user_agent: str | None = None

    def audit(
        self,
        action: str,
        at: datetime,
        *,
        patient_id: str | None = None,
        detail: Mapping[str, Any] | None = None,
        org_id: str | None = None,
    ) -> AuditRecord:
        """An audit entry for ``action`` by this actor (``org_id`` defaults to the actor's)."""
        return AuditRecord(
            occurred_at=at,
            actor=self.name,
            action=action,
            patient_id=patient_id,
            detail=dict(detail or {}),
            org_id=org_id or self.org_id,
            ip=self.ip,
            user_agent=self.user_agent,
        )


class Role(enum.StrEnum):
    """What a credential may do; each API route declares the roles it admits."""

    PLATFORM = "platform"  # the clinic's core platform: scheduling, comm-context
    MARKETER = "marketer"  # templates (and segments, campaigns) of its organisation
    ANALYST = "analyst"  # reports, read only
    ADMIN = "admin"  # organisation settings, global templates, API keys


@dataclass(frozen=True, slots=True)
class Principal:
    """Who is calling, as a verified credential says: never taken from a header or a body."""

    actor: str  # what the audit log names: "key:<visible prefix>" or "sso:<token subject>"
    org_id: str  # the one organisation the credential acts for
    role: Role


class PhiFreeError(Exception):
    """An error whose text we wrote ourselves and which names no personal data.

    Only such errors' text reaches logs, dead letters and callers; any other error is reduced
    to its type name (a database error quotes bound parameters, an SDK error the recipient).
    """

    def phi_free_text(self) -> str:
        return str(self)
