"""Typed SQLAlchemy 2.0 models for every table of DESIGN.md.

One schema for MariaDB (production) and SQLite (embedded demo). Personal fields live in
``patients`` and ``patient_comm_prefs`` only; every ``__repr__`` masks them.
"""

from __future__ import annotations

from datetime import date, datetime, time
from typing import Any

from sqlalchemy import (
    BigInteger,
    Boolean,
    Column,
    Date,
    Float,
    ForeignKey,
    Index,
    Integer,
    LargeBinary,
    PrimaryKeyConstraint,
    String,
    Table,
    Text,
    Time,
    UniqueConstraint,
)
from sqlalchemy.dialects import mysql
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column, relationship
from sqlalchemy.sql import func

from outreach.analytics.latency import BUCKETS as LATENCY_BUCKETS
from outreach.campaigns.states import CampaignState, EnrolmentState
from outreach.domain import (
    AppointmentStatus,
    Channel,
    JobStatus,
    Purpose,
    Role,
    SendTimeSource,
    SuppressionReason,
)
from outreach.sql.types import BigId, ChannelName, Json, UtcDateTime, str_enum

# Message bodies and rendered e-mails can exceed TEXT's 64 KiB on MariaDB.
LongText = Text().with_variant(mysql.MEDIUMTEXT(), "mysql", "mariadb")


class Base(DeclarativeBase):
    pass


def _now_default() -> Any:
    return func.now()


class Patient(Base):
    """The attributes of a patient that segments and templates may read (mirrored from core)."""

    __tablename__ = "patients"

    id: Mapped[str] = mapped_column(String(64), primary_key=True)
    org_id: Mapped[str] = mapped_column(String(64), index=True)
    provider_id: Mapped[str | None] = mapped_column(String(64), index=True)
    first_name: Mapped[str | None] = mapped_column(String(100))
    last_name: Mapped[str | None] = mapped_column(String(100))
    date_of_birth: Mapped[date | None] = mapped_column(Date)
    record_number: Mapped[str | None] = mapped_column(String(64))
    sex: Mapped[str | None] = mapped_column(String(16))
    postal_code: Mapped[str | None] = mapped_column(String(16))
    region: Mapped[str | None] = mapped_column(String(32))
    # Free attributes for segments (conditions, tags, last visit): never in restricted channels.
    # NULL: the core platform sent none (an upsert without attributes keeps the stored ones).
    attributes: Mapped[dict[str, Any] | None] = mapped_column(Json)
    created_at: Mapped[datetime] = mapped_column(UtcDateTime, server_default=_now_default())
    updated_at: Mapped[datetime] = mapped_column(UtcDateTime, server_default=_now_default())

    prefs: Mapped[PatientCommPrefs | None] = relationship(back_populates="patient", uselist=False)

    def __repr__(self) -> str:
        return f"Patient(id={self.id!r}, org_id={self.org_id!r})"


class _PreferenceColumns:
    """Fields shared by every level of the hierarchy; NULL means "inherit from the level above"."""

    timezone: Mapped[str | None] = mapped_column(String(64))
    language: Mapped[str | None] = mapped_column(String(16))
    quiet_hours_start: Mapped[time | None] = mapped_column(Time)
    quiet_hours_end: Mapped[time | None] = mapped_column(Time)
    avoid_work_hours: Mapped[bool | None] = mapped_column(Boolean)
    work_hours_start: Mapped[time | None] = mapped_column(Time)
    work_hours_end: Mapped[time | None] = mapped_column(Time)
    work_days: Mapped[list[int] | None] = mapped_column(Json)
    allowed_channels: Mapped[list[str] | None] = mapped_column(Json)
    preferred_channel: Mapped[Channel | None] = mapped_column(ChannelName())
    channel_order: Mapped[list[str] | None] = mapped_column(Json)
    best_hour: Mapped[int | None] = mapped_column(Integer)
    marketing_max_per_day: Mapped[int | None] = mapped_column(Integer)
    marketing_max_per_week: Mapped[int | None] = mapped_column(Integer)
    healthcare_reminder_profile: Mapped[bool | None] = mapped_column(Boolean)


class PatientCommPrefs(_PreferenceColumns, Base):
    """Patient-level preferences, addresses and consent (the most specific level)."""

    __tablename__ = "patient_comm_prefs"

    patient_id: Mapped[str] = mapped_column(
        String(64), ForeignKey("patients.id", ondelete="CASCADE"), primary_key=True
    )
    email: Mapped[str | None] = mapped_column(String(254))
    phone: Mapped[str | None] = mapped_column(String(20), index=True)
    whatsapp: Mapped[str | None] = mapped_column(String(20), index=True)
    # Each number's check, made once when it is stored (phonenumbers costs ~60 us a number, too
    # much to pay at every decision): the number as it was checked, and its E.164 form ('' when
    # it is not a valid number). A check counts only while ``*_checked`` still equals the stored
    # number; otherwise (NULL: never checked) the decision checks the number itself.
    phone_checked: Mapped[str | None] = mapped_column(String(20))
    phone_e164: Mapped[str | None] = mapped_column(String(20))
    whatsapp_checked: Mapped[str | None] = mapped_column(String(20))
    whatsapp_e164: Mapped[str | None] = mapped_column(String(20))
    # The e-mail address's check, likewise: the address as checked and whether it is
    # deliverable. Decisions by situation (a campaign step over many patients at once, in the
    # database) need it; a patient's own decision checks the address itself.
    email_checked: Mapped[str | None] = mapped_column(String(254))
    email_valid: Mapped[bool | None] = mapped_column(Boolean)
    contact_consent: Mapped[bool] = mapped_column(Boolean, default=False)
    consent_granted_at: Mapped[datetime | None] = mapped_column(UtcDateTime)
    consent_expires_at: Mapped[datetime | None] = mapped_column(UtcDateTime, index=True)
    marketing_opt_in_email: Mapped[bool] = mapped_column(Boolean, default=False)
    marketing_opt_in_sms: Mapped[bool] = mapped_column(Boolean, default=False)
    marketing_opt_in_whatsapp: Mapped[bool] = mapped_column(Boolean, default=False)
    whatsapp_opt_in: Mapped[bool] = mapped_column(Boolean, default=False)
    # Channels whose address failed permanently (invalid number, hard bounce): skipped next time.
    failed_channels: Mapped[list[str] | None] = mapped_column(Json)
    last_inbound_whatsapp_at: Mapped[datetime | None] = mapped_column(UtcDateTime)
    # Where the learnt best_hour came from (ml): the model version, whether the patient's own
    # history weighed in ("model") or only their cohort's ("cohort_prior"), how sure it is, and
    # how many of their messages it was learnt from.
    best_hour_model_version: Mapped[int | None] = mapped_column(Integer)
    best_hour_source: Mapped[str | None] = mapped_column(String(16))
    best_hour_confidence: Mapped[float | None] = mapped_column(Float)
    best_hour_interactions: Mapped[int | None] = mapped_column(Integer)
    best_hour_learnt_at: Mapped[datetime | None] = mapped_column(UtcDateTime)
    # Recent sends against recent engagement (ml): at the threshold, fewer marketing messages.
    fatigue_score: Mapped[float | None] = mapped_column(Float)
    fatigue_scored_at: Mapped[datetime | None] = mapped_column(UtcDateTime)
    updated_at: Mapped[datetime] = mapped_column(UtcDateTime, server_default=_now_default())

    patient: Mapped[Patient] = relationship(back_populates="prefs")

    def __repr__(self) -> str:
        return f"PatientCommPrefs(patient_id={self.patient_id!r}, email=***, phone=***)"


class PatientChannelOptOut(Base):
    """A patient's opt-out of one channel (STOP, a carrier's or a mailbox's report): one row per
    channel, so a plugin's channel needs no new column. No row: not opted out."""

    __tablename__ = "patient_channel_opt_outs"

    patient_id: Mapped[str] = mapped_column(
        String(64), ForeignKey("patients.id", ondelete="CASCADE"), primary_key=True
    )
    channel: Mapped[Channel] = mapped_column(ChannelName(), primary_key=True)
    opted_out_at: Mapped[datetime] = mapped_column(UtcDateTime)
    # What recorded it: a patient's reply, a carrier's refusal, a mailbox complaint...
    source: Mapped[str] = mapped_column(String(32))


class OrgCommPrefs(_PreferenceColumns, Base):
    __tablename__ = "org_comm_prefs"

    org_id: Mapped[str] = mapped_column(String(64), primary_key=True)
    name: Mapped[str] = mapped_column(String(200))
    clinic_phone: Mapped[str | None] = mapped_column(String(20))
    booking_url: Mapped[str | None] = mapped_column(String(500))
    # Staff addresses the weekly funnel report is e-mailed to (aggregates only); NULL: none.
    analyst_emails: Mapped[list[str] | None] = mapped_column(Json)
    updated_at: Mapped[datetime] = mapped_column(UtcDateTime, server_default=_now_default())


class ProviderCommPrefs(_PreferenceColumns, Base):
    __tablename__ = "provider_comm_prefs"

    provider_id: Mapped[str] = mapped_column(String(64), primary_key=True)
    org_id: Mapped[str] = mapped_column(String(64), index=True)
    display_name: Mapped[str | None] = mapped_column(String(200))
    updated_at: Mapped[datetime] = mapped_column(UtcDateTime, server_default=_now_default())


class CommTemplate(Base):
    """Immutable template versions; a job records the id (hence version) it rendered."""

    __tablename__ = "comm_templates"
    __table_args__ = (
        UniqueConstraint("family_key", "version", name="uq_comm_templates_family_version"),
        Index("ix_comm_templates_lookup", "purpose", "channel", "language", "is_active"),
    )

    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    # org/provider/purpose/channel/language/variant joined: NULL-safe uniqueness on both engines.
    family_key: Mapped[str] = mapped_column(String(191))
    org_id: Mapped[str | None] = mapped_column(String(64))
    provider_id: Mapped[str | None] = mapped_column(String(64))
    purpose: Mapped[Purpose] = mapped_column(str_enum(Purpose))
    channel: Mapped[Channel] = mapped_column(ChannelName())
    language: Mapped[str] = mapped_column(String(16))
    variant: Mapped[str] = mapped_column(String(16), default="A")
    version: Mapped[int] = mapped_column(Integer, default=1)
    subject: Mapped[str | None] = mapped_column(String(500))
    body: Mapped[str] = mapped_column(LongText)
    declared_variables: Mapped[list[str]] = mapped_column(Json, default=list)
    whatsapp_template_name: Mapped[str | None] = mapped_column(String(128))
    is_active: Mapped[bool] = mapped_column(Boolean, default=False)
    # A named family campaign steps pick (e.g. "dental_recall"); NULL: the purpose's standard
    # templates, the ones event-driven messages use.
    family: Mapped[str | None] = mapped_column(String(64))
    created_by: Mapped[str | None] = mapped_column(String(100))
    created_at: Mapped[datetime] = mapped_column(UtcDateTime, server_default=_now_default())


class PatientSegment(Base):
    """A marketer's saved segment: a JSON Logic rule over the segment catalogue (docs/segments.md).

    ``definition`` is stored only after it validated and compiled; ``patient_count`` and
    ``last_evaluated`` are the figures of its latest count.
    """

    __tablename__ = "patient_segments"
    __table_args__ = (UniqueConstraint("org_id", "name", name="uq_patient_segments_org_name"),)

    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    org_id: Mapped[str] = mapped_column(String(64), index=True)
    name: Mapped[str] = mapped_column(String(200))
    description: Mapped[str | None] = mapped_column(Text)
    definition: Mapped[dict[str, Any]] = mapped_column(Json)
    created_by: Mapped[str | None] = mapped_column(String(100))
    is_active: Mapped[bool] = mapped_column(Boolean, default=True)
    last_evaluated: Mapped[datetime | None] = mapped_column(UtcDateTime)
    patient_count: Mapped[int | None] = mapped_column(Integer)
    created_at: Mapped[datetime] = mapped_column(UtcDateTime, server_default=_now_default())
    updated_at: Mapped[datetime] = mapped_column(UtcDateTime, server_default=_now_default())


class Appointment(Base):
    """An appointment as its latest event left it: the facts segments and funnels read.

    Kept by the orchestrator in the transaction of the event batch. The newest event (by
    ``last_event_at``, then ``last_event_id``) wins, so a late, older event changes nothing.
    """

    __tablename__ = "appointments"
    __table_args__ = (
        # A patient's last attended visit, future booking, no-show count: one index range each
        # (the only index the segment SQL reads; each one more slows every event batch).
        Index("ix_appointments_patient_status_starts", "patient_id", "status", "starts_at"),
        # The stats rollup's sweep: appointments that changed (attended, no-show) since its
        # watermark.
        Index("ix_appointments_updated", "updated_at"),
    )

    appointment_id: Mapped[str] = mapped_column(String(64), primary_key=True)
    org_id: Mapped[str] = mapped_column(String(64))
    patient_id: Mapped[str] = mapped_column(ForeignKey("patients.id", ondelete="CASCADE"))
    provider_id: Mapped[str | None] = mapped_column(String(64))
    # NULL only while every event seen so far came without a start time.
    starts_at: Mapped[datetime | None] = mapped_column(UtcDateTime)
    status: Mapped[AppointmentStatus] = mapped_column(str_enum(AppointmentStatus, 16))
    # The event that set the status, and when it happened (occurred_at).
    last_event_id: Mapped[str] = mapped_column(String(64))
    last_event_type: Mapped[str] = mapped_column(String(64))
    last_event_at: Mapped[datetime] = mapped_column(UtcDateTime)
    updated_at: Mapped[datetime] = mapped_column(UtcDateTime, server_default=_now_default())


class CommCampaign(Base):
    """A marketer's campaign: a segment, its steps, A/B weights, hold-out, dates and state."""

    __tablename__ = "comm_campaigns"

    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    org_id: Mapped[str] = mapped_column(String(64), index=True)
    name: Mapped[str] = mapped_column(String(200))
    description: Mapped[str | None] = mapped_column(Text)
    segment_id: Mapped[int] = mapped_column(ForeignKey("patient_segments.id"))
    purpose: Mapped[Purpose] = mapped_column(str_enum(Purpose), default=Purpose.CAMPAIGN_EDUCATION)
    status: Mapped[CampaignState] = mapped_column(
        str_enum(CampaignState, 16), default=CampaignState.DRAFT
    )
    # [{offset_hours, template_family, channel, wait_until, wait_timeout_hours}, ...]
    # Server defaults: campaigns saved before these columns existed got them (see 0003).
    steps: Mapped[list[dict[str, Any]]] = mapped_column(Json, default=list, server_default="[]")
    # Conditions that end an enrolment: ["booked", "replied_stop", ...].
    exit_on: Mapped[list[str]] = mapped_column(Json, default=list, server_default="[]")
    # A/B split: {"A": 50, "B": 50}; variants name template variants.
    variants: Mapped[dict[str, int]] = mapped_column(Json, default=dict)
    # Share of the segment enrolled but never messaged (the control group); 0: none.
    holdout_percent: Mapped[float] = mapped_column(Float, default=0.0, server_default="0")
    # Recurring: the daily run enrols patients who newly match the segment.
    recurring: Mapped[bool] = mapped_column(Boolean, default=False, server_default="0")
    starts_at: Mapped[datetime | None] = mapped_column(UtcDateTime)
    ends_at: Mapped[datetime | None] = mapped_column(UtcDateTime)
    # When the segment was last expanded into enrolments (NULL: not yet).
    enrolled_through: Mapped[datetime | None] = mapped_column(UtcDateTime)
    created_by: Mapped[str | None] = mapped_column(String(100))
    created_at: Mapped[datetime] = mapped_column(UtcDateTime, server_default=_now_default())


class CampaignEnrollment(Base):
    """One patient in one campaign (once): variant or hold-out, and how far the steps went.

    The jobs of an enrolment carry its campaign id, patient id and variant.
    """

    __tablename__ = "campaign_enrollments"
    __table_args__ = (
        UniqueConstraint("campaign_id", "patient_id", name="uq_campaign_enrollments_patient"),
        # Step planning: a campaign's active enrolments waiting for a given step.
        Index("ix_campaign_enrollments_progress", "campaign_id", "state", "next_step"),
    )

    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    campaign_id: Mapped[int] = mapped_column(ForeignKey("comm_campaigns.id", ondelete="CASCADE"))
    patient_id: Mapped[str] = mapped_column(ForeignKey("patients.id", ondelete="CASCADE"))
    # NULL for a held-out patient: in no variant, never messaged.
    variant: Mapped[str | None] = mapped_column(String(16))
    state: Mapped[EnrolmentState] = mapped_column(
        str_enum(EnrolmentState, 16), default=EnrolmentState.ACTIVE
    )
    # Index of the next step to plan; equal to the number of steps once all are planned.
    next_step: Mapped[int] = mapped_column(Integer, default=0)
    exit_reason: Mapped[str | None] = mapped_column(String(32))
    enrolled_at: Mapped[datetime] = mapped_column(UtcDateTime, server_default=_now_default())
    finished_at: Mapped[datetime | None] = mapped_column(UtcDateTime)


class CommJob(Base):
    """One communication to one patient for one purpose: planned, decided, sent, answered."""

    __tablename__ = "comm_jobs"
    __table_args__ = (
        # The scheduler's claim query: due queued jobs in send order.
        Index("ix_comm_jobs_due", "status", "scheduled_for"),
        Index("ix_comm_jobs_patient_status", "patient_id", "status"),
        Index("ix_comm_jobs_provider_message", "provider_message_id"),
        Index("ix_comm_jobs_appointment", "appointment_id"),
        Index("ix_comm_jobs_fallback_of", "fallback_of"),
        # The send-time model reads the messages sent in a window.
        Index("ix_comm_jobs_sent_at", "sent_at"),
        # The stats rollup's sweep: jobs changed since its watermark.
        Index("ix_comm_jobs_updated", "updated_at"),
        # Campaign progress (per variant and status) and exits (a campaign's queued jobs).
        Index("ix_comm_jobs_campaign", "campaign_id", "variant", "status"),
        # The send-time model reads the messages sent in a window.
        Index("ix_comm_jobs_sent_at", "sent_at"),
    )

    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    # event id + purpose + step: replays and redeliveries insert nothing twice.
    idempotency_key: Mapped[str] = mapped_column(String(191), unique=True)
    org_id: Mapped[str] = mapped_column(String(64))
    patient_id: Mapped[str] = mapped_column(ForeignKey("patients.id", ondelete="CASCADE"))
    provider_id: Mapped[str | None] = mapped_column(String(64))
    appointment_id: Mapped[str | None] = mapped_column(String(64))
    source_event_id: Mapped[str | None] = mapped_column(String(64))
    campaign_id: Mapped[int | None] = mapped_column(ForeignKey("comm_campaigns.id"))
    purpose: Mapped[Purpose] = mapped_column(str_enum(Purpose))
    channel: Mapped[Channel | None] = mapped_column(ChannelName())
    status: Mapped[JobStatus] = mapped_column(str_enum(JobStatus, 16), default=JobStatus.QUEUED)
    suppression_reason: Mapped[SuppressionReason | None] = mapped_column(
        str_enum(SuppressionReason, 32)
    )
    requested_at: Mapped[datetime] = mapped_column(UtcDateTime)
    scheduled_for: Mapped[datetime] = mapped_column(UtcDateTime)
    deadline: Mapped[datetime | None] = mapped_column(UtcDateTime)
    # The scheduler bumps ``attempt`` at each claim; a channel worker takes a send by setting
    # ``sending_attempt`` to it, so a redelivered send request for the same attempt does nothing.
    attempt: Mapped[int] = mapped_column(Integer, default=0)
    sending_attempt: Mapped[int | None] = mapped_column(Integer)
    # Which take_sends call won the send (read back to know which rows it owns).
    send_token: Mapped[str | None] = mapped_column(String(32))
    # The worker process that took the send, and when: its heartbeat says whether it still runs.
    taken_by: Mapped[str | None] = mapped_column(String(64))
    taken_at: Mapped[datetime | None] = mapped_column(UtcDateTime)
    # Transient failures so far (the retry budget); waits that are no failure do not count.
    retries: Mapped[int] = mapped_column(Integer, default=0, server_default="0")
    # A send that may have reached the provider, since when: the next attempt asks the provider
    # before sending again.
    unconfirmed_since: Mapped[datetime | None] = mapped_column(UtcDateTime)
    # Channels this message already failed on (fallback never goes back to them).
    tried_channels: Mapped[list[str] | None] = mapped_column(Json)
    # The job on an earlier channel whose later failure this job falls back from.
    fallback_of: Mapped[int | None] = mapped_column(ForeignKey("comm_jobs.id", ondelete="SET NULL"))
    language: Mapped[str | None] = mapped_column(String(16))
    template_id: Mapped[int | None] = mapped_column(ForeignKey("comm_templates.id"))
    variant: Mapped[str | None] = mapped_column(String(16))
    # Event facts needed to render (appointment time, provider...): never rendered text.
    context: Mapped[dict[str, Any]] = mapped_column(Json, default=dict)
    provider_message_id: Mapped[str | None] = mapped_column(String(128))
    # How scheduled_for was chosen (model, exploration, default) and the probability its hour
    # had of being chosen: the send-time model weighs what it learns from the job by it.
    send_time_source: Mapped[SendTimeSource | None] = mapped_column(str_enum(SendTimeSource, 16))
    send_time_propensity: Mapped[float | None] = mapped_column(Float)
    last_error: Mapped[str | None] = mapped_column(String(500))
    claimed_by: Mapped[str | None] = mapped_column(String(64))
    claimed_at: Mapped[datetime | None] = mapped_column(UtcDateTime)
    sent_at: Mapped[datetime | None] = mapped_column(UtcDateTime)
    delivered_at: Mapped[datetime | None] = mapped_column(UtcDateTime)
    replied_at: Mapped[datetime | None] = mapped_column(UtcDateTime)
    created_at: Mapped[datetime] = mapped_column(UtcDateTime, server_default=_now_default())
    updated_at: Mapped[datetime] = mapped_column(UtcDateTime, server_default=_now_default())


class ProcessHeartbeat(Base):
    """A running worker or scheduler process, as it last said so: a claim or a send held by a
    process that stopped beating is recovered at once instead of after a long timeout."""

    __tablename__ = "process_heartbeats"

    process_id: Mapped[str] = mapped_column(String(64), primary_key=True)
    role: Mapped[str] = mapped_column(String(32))
    seen_at: Mapped[datetime] = mapped_column(UtcDateTime)


class DeadLetterDecision(Base):
    """What an operator did with an ``outreach.dlq`` entry (replayed or discarded), once each."""

    __tablename__ = "dead_letter_decisions"

    entry_id: Mapped[str] = mapped_column(String(32), primary_key=True)
    decision: Mapped[str] = mapped_column(String(16))
    decided_at: Mapped[datetime] = mapped_column(UtcDateTime)
    actor: Mapped[str] = mapped_column(String(100))


class CommInbound(Base):
    """Raw inbound patient messages, de-duplicated by the provider's message id."""

    __tablename__ = "comm_inbound"
    __table_args__ = (
        UniqueConstraint("provider", "provider_message_id", name="uq_comm_inbound_provider_msg"),
        # The stats rollup's sweep: replies handled since its watermark.
        Index("ix_comm_inbound_handled", "handled_at"),
    )

    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    provider: Mapped[str] = mapped_column(String(32))
    provider_message_id: Mapped[str] = mapped_column(String(128))
    channel: Mapped[Channel] = mapped_column(ChannelName())
    from_address: Mapped[str] = mapped_column(String(254), index=True)
    to_address: Mapped[str | None] = mapped_column(String(254))
    body: Mapped[str] = mapped_column(LongText)
    received_at: Mapped[datetime] = mapped_column(UtcDateTime)
    patient_id: Mapped[str | None] = mapped_column(String(64), index=True)
    job_id: Mapped[int | None] = mapped_column(ForeignKey("comm_jobs.id", ondelete="SET NULL"))
    intent: Mapped[str | None] = mapped_column(String(16))
    confidence: Mapped[float | None] = mapped_column(Float)
    language: Mapped[str | None] = mapped_column(String(8))
    handled_at: Mapped[datetime | None] = mapped_column(UtcDateTime)
    created_at: Mapped[datetime] = mapped_column(UtcDateTime, server_default=_now_default())

    def __repr__(self) -> str:
        return f"CommInbound(id={self.id!r}, provider={self.provider!r}, body=***)"


class CommStatusEvent(Base):
    """Every delivery status a provider reported, once each (idempotent on redelivery)."""

    __tablename__ = "comm_status_events"
    __table_args__ = (
        UniqueConstraint(
            "provider", "provider_message_id", "status", name="uq_comm_status_events_once"
        ),
        # The stats rollup's sweep: statuses received since its watermark.
        Index("ix_comm_status_events_received", "received_at"),
    )

    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    job_id: Mapped[int | None] = mapped_column(
        ForeignKey("comm_jobs.id", ondelete="SET NULL"), index=True
    )
    provider: Mapped[str] = mapped_column(String(32))
    provider_message_id: Mapped[str] = mapped_column(String(128))
    status: Mapped[str] = mapped_column(String(16))
    error_code: Mapped[str | None] = mapped_column(String(32))
    occurred_at: Mapped[datetime] = mapped_column(UtcDateTime)
    received_at: Mapped[datetime] = mapped_column(UtcDateTime, server_default=_now_default())
    # What the provider charged, when it says (Twilio's Price), in millionths of price_unit.
    price_micros: Mapped[int | None] = mapped_column(BigInteger)
    price_unit: Mapped[str | None] = mapped_column(String(8))
    raw: Mapped[dict[str, Any]] = mapped_column(Json, default=dict)


class _RollupKey:
    """The key every rollup row shares, which is its primary key: the organisation, its day the
    jobs were asked for, and the dimensions reports cut by. "-" and 0 stand for "none".

    Organisation and day lead, so a report's rows (one organisation, a range of days) lie
    together in the table (InnoDB keeps rows in primary key order): a year is one range read.
    """

    org_id: Mapped[str] = mapped_column(String(64))
    day: Mapped[date] = mapped_column(Date)
    purpose: Mapped[str] = mapped_column(String(32))
    # "-": the job never got a channel (suppressed before one was chosen).
    channel: Mapped[str] = mapped_column(String(16))
    campaign_id: Mapped[int] = mapped_column(Integer, autoincrement=False, default=0)
    variant: Mapped[str] = mapped_column(String(16), default="-")
    # "-": no provider report yet (or never sent).
    provider: Mapped[str] = mapped_column(String(32), default="-")


ROLLUP_KEY = ("org_id", "day", "purpose", "channel", "campaign_id", "variant", "provider")


class CommStats(_RollupKey, Base):
    """Daily rollups for reports: one row per organisation, day, purpose, channel, campaign,
    variant and provider, each counter a number of jobs (docs/analytics.md says what each one
    means). Written only by the rollup (``services/roll_up_stats.py``)."""

    __tablename__ = "comm_stats"
    __table_args__ = (
        PrimaryKeyConstraint(*ROLLUP_KEY),
        # Every organisation's rows of some days (a rebuild, a report over all organisations).
        Index("ix_comm_stats_day", "day"),
    )

    planned: Mapped[int] = mapped_column(Integer, default=0)
    queued: Mapped[int] = mapped_column(Integer, default=0)
    suppressed: Mapped[int] = mapped_column(Integer, default=0)
    cancelled: Mapped[int] = mapped_column(Integer, default=0)
    sent: Mapped[int] = mapped_column(Integer, default=0)
    delivered: Mapped[int] = mapped_column(Integer, default=0)
    opened: Mapped[int] = mapped_column(Integer, default=0)
    clicked: Mapped[int] = mapped_column(Integer, default=0)
    replied: Mapped[int] = mapped_column(Integer, default=0)
    confirmed: Mapped[int] = mapped_column(Integer, default=0)
    attended: Mapped[int] = mapped_column(Integer, default=0)
    no_show: Mapped[int] = mapped_column(Integer, default=0)
    failed: Mapped[int] = mapped_column(Integer, default=0)
    bounced: Mapped[int] = mapped_column(Integer, default=0)
    unsubscribed: Mapped[int] = mapped_column(Integer, default=0)
    # Jobs whose provider reported a price, and the sum of those prices in millionths of
    # ``cost_currency`` (integers: exact on both engines).
    priced: Mapped[int] = mapped_column(Integer, default=0)
    cost_micros: Mapped[int] = mapped_column(BigInteger, default=0)
    cost_currency: Mapped[str | None] = mapped_column(String(8))


class CommStatsBreakdown(_RollupKey, Base):
    """Jobs per suppression reason and per reply intent, with the key of ``comm_stats``."""

    __tablename__ = "comm_stats_breakdowns"
    __table_args__ = (
        PrimaryKeyConstraint(*ROLLUP_KEY, "kind", "label"),
        Index("ix_comm_stats_breakdowns_day", "day"),
    )

    kind: Mapped[str] = mapped_column(String(32))  # suppression_reason, reply_intent
    label: Mapped[str] = mapped_column(String(64))
    jobs: Mapped[int] = mapped_column(Integer, default=0)


LATENCY_BUCKET_COLUMNS = tuple(f"b{bucket:02d}" for bucket in range(LATENCY_BUCKETS))

# Time between two funnel steps as a histogram (``analytics/latency.py``): jobs per bucket, so
# medians can be read over any set of rows. Kept per organisation, day, campaign and channel only
# (reports show medians overall and per channel): a few dozen rows per organisation and day.
# Forty bucket columns: a plain table, not a class.
comm_stats_latency = Table(
    "comm_stats_latency",
    Base.metadata,
    Column("org_id", String(64), primary_key=True),
    Column("day", Date, primary_key=True),
    Column("campaign_id", Integer, primary_key=True, autoincrement=False),
    Column("channel", String(16), primary_key=True),
    Column("pair", String(24), primary_key=True),  # e.g. sent>delivered
    Column("jobs", Integer, nullable=False, default=0),
    *(Column(name, Integer, nullable=False, default=0) for name in LATENCY_BUCKET_COLUMNS),
    Index("ix_comm_stats_latency_day", "day"),
)
LATENCY_KEY = ("org_id", "day", "campaign_id", "channel", "pair")


class CommFunnelFact(Base):
    """One job's funnel as the rollup last counted it (``analytics/job_facts.py``).

    The rollup's memory: the incremental path takes a job's old facts away from the rollups and
    adds its new ones. Derived data, rebuilt by ``outreach stats rebuild``; no foreign key, so a
    deleted job's facts wait for a rebuild instead of silently leaving the counts wrong.
    """

    __tablename__ = "comm_funnel_facts"
    __table_args__ = (Index("ix_comm_funnel_facts_day_org", "day", "org_id"),)

    job_id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=False)
    day: Mapped[date] = mapped_column(Date)
    org_id: Mapped[str] = mapped_column(String(64))
    purpose: Mapped[str] = mapped_column(String(32))
    channel: Mapped[str] = mapped_column(String(16))
    campaign_id: Mapped[int] = mapped_column(Integer)
    variant: Mapped[str] = mapped_column(String(16))
    provider: Mapped[str] = mapped_column(String(32))
    state: Mapped[str] = mapped_column(String(16))
    suppression_reason: Mapped[str | None] = mapped_column(String(32))
    planned_at: Mapped[datetime] = mapped_column(UtcDateTime)
    sent_at: Mapped[datetime | None] = mapped_column(UtcDateTime)
    delivered_at: Mapped[datetime | None] = mapped_column(UtcDateTime)
    opened_at: Mapped[datetime | None] = mapped_column(UtcDateTime)
    clicked_at: Mapped[datetime | None] = mapped_column(UtcDateTime)
    replied_at: Mapped[datetime | None] = mapped_column(UtcDateTime)
    confirmed_at: Mapped[datetime | None] = mapped_column(UtcDateTime)
    # The intents of the job's replies, sorted and comma-separated ("confirm,stop").
    reply_intents: Mapped[str] = mapped_column(String(100), default="")
    unsubscribed: Mapped[bool] = mapped_column(Boolean, default=False)
    visit_outcome: Mapped[str | None] = mapped_column(String(16))  # attended, no_show
    visit_at: Mapped[datetime | None] = mapped_column(UtcDateTime)
    price_micros: Mapped[int | None] = mapped_column(BigInteger)
    price_unit: Mapped[str | None] = mapped_column(String(8))


class CommRollupState(Base):
    """The rollup's watermark and lock: one row per rollup ("stats").

    Every rollup transaction starts by updating its row, which serialises the scheduler's sweeps
    and rebuilds (a row lock on MariaDB, the write lock on SQLite)."""

    __tablename__ = "comm_rollup_state"

    name: Mapped[str] = mapped_column(String(32), primary_key=True)
    # Changes stamped before this were rolled up (the sweep re-reads a margin before it).
    through_at: Mapped[datetime | None] = mapped_column(UtcDateTime)
    locked_at: Mapped[datetime | None] = mapped_column(UtcDateTime)


class CommReportDelivery(Base):
    """A report sent (or being sent) to an organisation's analysts: once per kind and period."""

    __tablename__ = "comm_report_deliveries"
    __table_args__ = (
        UniqueConstraint("org_id", "kind", "period_start", name="uq_comm_report_deliveries"),
    )

    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    org_id: Mapped[str] = mapped_column(String(64))
    kind: Mapped[str] = mapped_column(String(32))  # weekly_funnel
    period_start: Mapped[date] = mapped_column(Date)
    period_end: Mapped[date] = mapped_column(Date)  # the last day included
    recipients: Mapped[int] = mapped_column(Integer)
    claimed_at: Mapped[datetime] = mapped_column(UtcDateTime)
    sent_at: Mapped[datetime | None] = mapped_column(UtcDateTime)
    provider_message_id: Mapped[str | None] = mapped_column(String(128))


class CommAuditLog(Base):
    """Append-only record of who did what: sends, receipts, consent, settings, templates, keys,
    reads of a patient's comm-context."""

    __tablename__ = "comm_audit_log"
    __table_args__ = (
        Index("ix_comm_audit_log_patient", "patient_id", "occurred_at"),
        Index("ix_comm_audit_log_org", "org_id", "occurred_at"),
    )

    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    occurred_at: Mapped[datetime] = mapped_column(UtcDateTime)
    actor: Mapped[str] = mapped_column(String(100))
    patient_id: Mapped[str | None] = mapped_column(String(64))
    action: Mapped[str] = mapped_column(String(64))
    detail: Mapped[dict[str, Any]] = mapped_column(Json, default=dict)
    org_id: Mapped[str | None] = mapped_column(String(64))
    # The HTTP caller's address and client, for actions that came through the API.
    ip: Mapped[str | None] = mapped_column(String(45))
    user_agent: Mapped[str | None] = mapped_column(String(255))


class ApiKey(Base):
    """An API credential: shown once, stored as a SHA-256 digest, scoped to one org and role."""

    __tablename__ = "api_keys"

    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    # The visible part of the key ("ork_" + 8 characters): how people and the audit log name it.
    prefix: Mapped[str] = mapped_column(String(16), unique=True)
    key_hash: Mapped[str] = mapped_column(String(64))
    org_id: Mapped[str] = mapped_column(String(64), index=True)
    role: Mapped[Role] = mapped_column(str_enum(Role, 16))
    name: Mapped[str] = mapped_column(String(100))
    created_by: Mapped[str] = mapped_column(String(100))
    created_at: Mapped[datetime] = mapped_column(UtcDateTime)
    revoked_at: Mapped[datetime | None] = mapped_column(UtcDateTime)
    revoked_by: Mapped[str | None] = mapped_column(String(100))

    def __repr__(self) -> str:
        return f"ApiKey(prefix={self.prefix!r}, org_id={self.org_id!r}, role={self.role!r})"


class ConsoleSession(Base):
    """A signed-in console user: the cookie holds a random token, the table only its digest.

    A session ends at sign-out, at its absolute expiry, after an idle spell, or when the API key
    it was opened with is revoked; the CSRF token every console form carries is the session's.
    """

    __tablename__ = "console_sessions"

    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    token_hash: Mapped[str] = mapped_column(String(64), unique=True)
    csrf_token: Mapped[str] = mapped_column(String(64))
    actor: Mapped[str] = mapped_column(String(100))
    org_id: Mapped[str] = mapped_column(String(64), index=True)
    role: Mapped[Role] = mapped_column(str_enum(Role, 16))
    # The visible prefix of the API key signed in with (None for single sign-on).
    api_key_prefix: Mapped[str | None] = mapped_column(String(16))
    created_at: Mapped[datetime] = mapped_column(UtcDateTime)
    last_seen_at: Mapped[datetime] = mapped_column(UtcDateTime)
    expires_at: Mapped[datetime] = mapped_column(UtcDateTime)
    ended_at: Mapped[datetime | None] = mapped_column(UtcDateTime)

    def __repr__(self) -> str:
        return f"ConsoleSession(id={self.id!r}, org_id={self.org_id!r}, role={self.role!r})"


class ProcessedEvent(Base):
    """The inbox: core events already turned into jobs, written in the same transaction.

    A replayed or redelivered event is skipped whole, so a cancel/reschedule that ran once cannot
    run again over the jobs its own first run created.
    """

    __tablename__ = "processed_events"

    event_id: Mapped[str] = mapped_column(String(64), primary_key=True)
    event_type: Mapped[str] = mapped_column(String(64))
    processed_at: Mapped[datetime] = mapped_column(UtcDateTime)


class MlModel(Base):
    """Trained models, versioned per name; at most one per name is active (the one in use)."""

    __tablename__ = "ml_models"
    __table_args__ = (UniqueConstraint("name", "version", name="uq_ml_models_name_version"),)

    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    name: Mapped[str] = mapped_column(String(100))
    version: Mapped[int] = mapped_column(Integer)
    trained_at: Mapped[datetime] = mapped_column(UtcDateTime)
    metrics: Mapped[dict[str, Any]] = mapped_column(Json, default=dict)
    artifact: Mapped[bytes] = mapped_column(
        LargeBinary().with_variant(mysql.LONGBLOB(), "mysql", "mariadb")
    )
    is_active: Mapped[bool] = mapped_column(Boolean, default=False)
