"""What happened with one patient lately: their jobs, and when they last got, opened and answered
a message. Read by the comm-context API; identifiers, times, channels and purposes only, never
message bodies, context or addresses.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import Connection, Row, select

from outreach.domain import Channel, JobStatus, Purpose, SuppressionReason
from outreach.sql.models import CommInbound, CommJob, CommStatusEvent

jobs = CommJob.__table__
status_events = CommStatusEvent.__table__
inbound = CommInbound.__table__

_PENDING = (JobStatus.QUEUED.value, JobStatus.PROCESSING.value)
# Provider reports that say the patient looked at a message.
_ENGAGED = (JobStatus.OPENED.value, JobStatus.CLICKED.value)


@dataclass(frozen=True, slots=True)
class JobSummary:
    """One job as a patient's history shows it (no context, no provider ids)."""

    id: int
    purpose: Purpose
    channel: Channel | None
    status: JobStatus
    scheduled_for: datetime
    suppression_reason: SuppressionReason | None
    appointment_id: str | None


@dataclass(frozen=True, slots=True)
class PatientJobs:
    """The latest jobs already due or finished (newest first) and pending ones still to come."""

    recent: tuple[JobSummary, ...]
    upcoming: tuple[JobSummary, ...]


@dataclass(frozen=True, slots=True)
class ActivityMoment:
    """When something happened to a patient's message, and which message it was.

    ``job_id`` and ``purpose`` are None for a reply that matched no job; ``signal`` says which
    report it was when that varies (``opened`` or ``clicked``)."""

    at: datetime
    channel: Channel | None
    purpose: Purpose | None
    job_id: int | None
    signal: str | None = None


@dataclass(frozen=True, slots=True)
class RecentActivity:
    last_sent: ActivityMoment | None
    last_opened: ActivityMoment | None
    last_replied: ActivityMoment | None


def _summary(row: Row[Any]) -> JobSummary:
    return JobSummary(
        id=row.id,
        purpose=Purpose(row.purpose),
        channel=Channel(row.channel) if row.channel is not None else None,
        status=JobStatus(row.status),
        scheduled_for=row.scheduled_for,
        suppression_reason=(
            SuppressionReason(row.suppression_reason)
            if row.suppression_reason is not None
            else None
        ),
        appointment_id=row.appointment_id,
    )


class ActivityRepository:
    def __init__(self, connection: Connection) -> None:
        self.connection = connection

    def jobs_of_patient(self, patient_id: str, now: datetime, limit: int) -> PatientJobs:
        """Up to ``limit`` upcoming jobs (pending, due after ``now``, soonest first) and up to
        ``limit`` recent ones (everything else, newest first)."""
        columns = (
            jobs.c.id,
            jobs.c.purpose,
            jobs.c.channel,
            jobs.c.status,
            jobs.c.scheduled_for,
            jobs.c.suppression_reason,
            jobs.c.appointment_id,
        )
        upcoming = self.connection.execute(
            select(*columns)
            .where(
                jobs.c.patient_id == patient_id,
                jobs.c.scheduled_for > now,
                jobs.c.status.in_(_PENDING),
            )
            .order_by(jobs.c.scheduled_for, jobs.c.id)
            .limit(limit)
        ).all()
        recent = self.connection.execute(
            select(*columns)
            .where(
                jobs.c.patient_id == patient_id,
                (jobs.c.scheduled_for <= now) | jobs.c.status.not_in(_PENDING),
            )
            .order_by(jobs.c.scheduled_for.desc(), jobs.c.id.desc())
            .limit(limit)
        ).all()
        return PatientJobs(
            recent=tuple(_summary(row) for row in recent),
            upcoming=tuple(_summary(row) for row in upcoming),
        )

    def recent_activity(self, patient_id: str) -> RecentActivity:
        """The patient's last sent message, last open or click, and last reply."""
        return RecentActivity(
            last_sent=self._last_sent(patient_id),
            last_opened=self._last_opened(patient_id),
            last_replied=self._last_replied(patient_id),
        )

    def _last_sent(self, patient_id: str) -> ActivityMoment | None:
        row = self.connection.execute(
            select(jobs.c.id, jobs.c.channel, jobs.c.purpose, jobs.c.sent_at)
            .where(jobs.c.patient_id == patient_id, jobs.c.sent_at.is_not(None))
            .order_by(jobs.c.sent_at.desc(), jobs.c.id.desc())
            .limit(1)
        ).first()
        if row is None:
            return None
        return ActivityMoment(
            at=row.sent_at,
            channel=Channel(row.channel) if row.channel is not None else None,
            purpose=Purpose(row.purpose),
            job_id=row.id,
        )

    def _last_opened(self, patient_id: str) -> ActivityMoment | None:
        """From the stored provider reports: jobs keep no time of their own for opens."""
        row = self.connection.execute(
            select(
                status_events.c.occurred_at,
                status_events.c.status,
                jobs.c.id,
                jobs.c.channel,
                jobs.c.purpose,
            )
            .select_from(status_events.join(jobs, jobs.c.id == status_events.c.job_id))
            .where(jobs.c.patient_id == patient_id, status_events.c.status.in_(_ENGAGED))
            .order_by(status_events.c.occurred_at.desc(), status_events.c.id.desc())
            .limit(1)
        ).first()
        if row is None:
            return None
        return ActivityMoment(
            at=row.occurred_at,
            channel=Channel(row.channel) if row.channel is not None else None,
            purpose=Purpose(row.purpose),
            job_id=row.id,
            signal=row.status,
        )

    def _last_replied(self, patient_id: str) -> ActivityMoment | None:
        """From the stored inbound messages (a reply that matched no job counts too)."""
        row = self.connection.execute(
            select(inbound.c.received_at, inbound.c.channel, inbound.c.job_id, jobs.c.purpose)
            .select_from(inbound.outerjoin(jobs, jobs.c.id == inbound.c.job_id))
            .where(inbound.c.patient_id == patient_id)
            .order_by(inbound.c.received_at.desc(), inbound.c.id.desc())
            .limit(1)
        ).first()
        if row is None:
            return None
        return ActivityMoment(
            at=row.received_at,
            channel=Channel(row.channel),
            purpose=Purpose(row.purpose) if row.purpose is not None else None,
            job_id=row.job_id,
        )
