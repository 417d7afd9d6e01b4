"""The vocabulary every package shares: purposes, channels, job statuses and suppression reasons.

Kept free of I/O so the pure cores (preferences, templating, replies, scheduler) can import it.
"""

from __future__ import annotations

import enum
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any


class Channel(enum.StrEnum):
    EMAIL = "email"
    SMS = "sms"
    WHATSAPP = "whatsapp"


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
