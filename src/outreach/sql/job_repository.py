"""comm_jobs: bulk creation, cancellation, exactly-once claims, send bookkeeping and statuses.

Every transition is a conditional UPDATE on the current status, so status only moves forward and
two processes racing on one job cannot both win. The provider reports themselves are stored by
``status_repository``; this module moves the jobs they name.
"""

from __future__ import annotations

import uuid
from collections import Counter, defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import Connection, case, select, tuple_, update

from outreach.campaigns.states import CampaignState
from outreach.domain import (
    FORWARD_PATH,
    Channel,
    JobRecord,
    JobStatus,
    Purpose,
    SendTimeSource,
    SuppressionReason,
    can_transition,
)
from outreach.planning import PlannedJob
from outreach.preferences import SentRecord
from outreach.sql.bulk import insert_ignore
from outreach.sql.models import CommCampaign, CommJob

jobs = CommJob.__table__
_campaigns = CommCampaign.__table__
_PAUSED_CAMPAIGNS = select(_campaigns.c.id).where(_campaigns.c.status == CampaignState.PAUSED.value)

# Jobs that count towards frequency caps: planned or gone out, not cancelled or refused.
_CAP_STATUSES = [
    JobStatus.QUEUED,
    JobStatus.PROCESSING,
    JobStatus.SENT,
    JobStatus.DELIVERED,
    JobStatus.OPENED,
    JobStatus.CLICKED,
    JobStatus.REPLIED,
]
# Columns stamped when a job reaches a status.
_STATUS_TIMESTAMPS = {
    JobStatus.DELIVERED: "delivered_at",
    JobStatus.REPLIED: "replied_at",
}
# Order in which a batch's statuses are applied: forward path first, then side exits. Status
# only moves forward, so for any story the job life allows this ends where applying the reports
# one by one in time order ends. Contradictory reports (an open after a bounce) end on the
# forward move, since the patient evidently got the message.
_APPLY_ORDER = [s for s in FORWARD_PATH if s not in (JobStatus.QUEUED, JobStatus.PROCESSING)] + [
    JobStatus.FAILED,
    JobStatus.BOUNCED,
]
_JOB_RECORD_COLUMNS = (
    jobs.c.id,
    jobs.c.idempotency_key,
    jobs.c.org_id,
    jobs.c.patient_id,
    jobs.c.provider_id,
    jobs.c.appointment_id,
    jobs.c.campaign_id,
    jobs.c.purpose,
    jobs.c.channel,
    jobs.c.status,
    jobs.c.attempt,
    jobs.c.scheduled_for,
    jobs.c.deadline,
    jobs.c.language,
    jobs.c.variant,
    jobs.c.context,
)


@dataclass(frozen=True, slots=True)
class JobDecision:
    """What the preferences decided for a planned job: queued on a channel at a time, or
    suppressed with the reason (``detail`` says more, without personal data)."""

    status: JobStatus
    scheduled_for: datetime
    channel: Channel | None = None
    language: str | None = None
    suppression_reason: SuppressionReason | None = None
    detail: str | None = None
    # How ``scheduled_for`` was chosen, and the probability its hour had of being chosen.
    send_time_source: SendTimeSource | None = None
    send_time_propensity: float | None = None


@dataclass(frozen=True, slots=True)
class NewJob:
    """A job to create: what was planned and what was decided about it."""

    planned: PlannedJob
    decision: JobDecision


@dataclass(frozen=True, slots=True)
class ClaimedJob:
    job_id: int
    patient_id: str
    purpose: Purpose
    channel: Channel
    attempt: int


@dataclass(frozen=True, slots=True)
class SentJob:
    """A job the provider accepted: its message id there and the template version it rendered."""

    job_id: int
    provider_message_id: str
    template_id: int | None


@dataclass(frozen=True, slots=True)
class ReportedStatus:
    """A provider's report about one message, as a job status."""

    provider_message_id: str
    status: JobStatus
    occurred_at: datetime
    error_code: str | None = None


def _job_row(job: NewJob, now: datetime) -> dict[str, Any]:
    planned, decision = job.planned, job.decision
    return {
        "idempotency_key": planned.idempotency_key,
        "org_id": planned.org_id,
        "patient_id": planned.patient_id,
        "provider_id": planned.provider_id,
        "appointment_id": planned.appointment_id,
        "source_event_id": planned.source_event_id,
        "campaign_id": planned.campaign_id,
        "variant": planned.variant,
        "purpose": planned.purpose.value,
        "requested_at": planned.requested_at,
        "deadline": planned.deadline,
        "context": planned.context,
        "attempt": 0,
        "channel": decision.channel.value if decision.channel is not None else None,
        "status": decision.status.value,
        "suppression_reason": (
            decision.suppression_reason.value if decision.suppression_reason else None
        ),
        "scheduled_for": decision.scheduled_for,
        "language": decision.language,
        "last_error": decision.detail[:500] if decision.detail else None,
        "send_time_source": (
            decision.send_time_source.value if decision.send_time_source is not None else None
        ),
        "send_time_propensity": decision.send_time_propensity,
        "created_at": now,
        "updated_at": now,
    }


def _predecessors(status: JobStatus) -> list[str]:
    return [s.value for s in JobStatus if can_transition(s, status)]


class JobRepository:
    def __init__(self, connection: Connection) -> None:
        self.connection = connection

    # ---- planning ----

    def insert(self, new_jobs: Sequence[NewJob], now: datetime) -> int:
        """Create jobs; one whose idempotency key exists is skipped. Returns how many were new."""
        return insert_ignore(self.connection, jobs, [_job_row(job, now) for job in new_jobs])

    def cancel_queued_for_appointments(self, appointment_ids: Iterable[str], now: datetime) -> int:
        ids = list(set(appointment_ids))
        if not ids:
            return 0
        result = self.connection.execute(
            update(jobs)
            .where(jobs.c.appointment_id.in_(ids), jobs.c.status == JobStatus.QUEUED.value)
            .values(status=JobStatus.CANCELLED.value, updated_at=now)
        )
        return result.rowcount

    def cancel_pending_for_patient(
        self,
        patient_id: str,
        channels: Iterable[Channel],
        now: datetime,
        *,
        keep_purposes: Iterable[Purpose] = (Purpose.URGENT,),
    ) -> int:
        """Cancel a patient's queued jobs on ``channels`` (after a STOP), sparing
        ``keep_purposes``."""
        result = self.connection.execute(
            update(jobs)
            .where(
                jobs.c.patient_id == patient_id,
                jobs.c.status == JobStatus.QUEUED.value,
                jobs.c.channel.in_([Channel(c).value for c in channels]),
                jobs.c.purpose.not_in([Purpose(p).value for p in keep_purposes]),
            )
            .values(status=JobStatus.CANCELLED.value, updated_at=now)
        )
        return result.rowcount

    def recent_history(
        self, patient_ids: Iterable[str], since: datetime
    ) -> dict[str, list[SentRecord]]:
        """Planned and sent messages per patient since ``since``, for frequency caps."""
        ids = list(set(patient_ids))
        history: dict[str, list[SentRecord]] = defaultdict(list)
        if not ids:
            return history
        rows = self.connection.execute(
            select(jobs.c.patient_id, jobs.c.channel, jobs.c.purpose, jobs.c.scheduled_for).where(
                jobs.c.patient_id.in_(ids),
                jobs.c.scheduled_for >= since,
                jobs.c.channel.is_not(None),
                jobs.c.status.in_([s.value for s in _CAP_STATUSES]),
            )
        )
        for patient_id, channel, purpose, scheduled_for in rows:
            history[patient_id].append(
                SentRecord(Channel(channel), Purpose(purpose), scheduled_for)
            )
        return history

    # ---- dispatch ----

    def claim_due(self, now: datetime, limit: int, claimer: str) -> list[ClaimedJob]:
        """Move up to ``limit`` due queued jobs to ``processing``, each to exactly one claimer.

        MariaDB: ``SELECT ... FOR UPDATE SKIP LOCKED`` lets several schedulers claim disjoint
        jobs without waiting on each other. SQLite has one writer at a time, so a plain
        transaction is already exclusive. The UPDATE re-checks ``status = 'queued'`` either way.
        Run it in a transaction of its own, so the claim commits before the jobs are published.
        """
        due = (
            select(jobs.c.id)
            .where(
                jobs.c.status == JobStatus.QUEUED.value,
                jobs.c.scheduled_for <= now,
                # A queued job always has a channel once decided; a row without one (written by
                # hand or by a foreign tool) must not stop the claim loop for everyone else.
                jobs.c.channel.is_not(None),
                # A paused campaign's jobs wait, queued, until it resumes.
                jobs.c.campaign_id.is_(None) | jobs.c.campaign_id.not_in(_PAUSED_CAMPAIGNS),
            )
            .order_by(jobs.c.scheduled_for)
            .limit(limit)
        )
        if self.connection.dialect.name in ("mysql", "mariadb"):
            due = due.with_for_update(skip_locked=True)
        ids = list(self.connection.execute(due).scalars())
        if not ids:
            return []
        self.connection.execute(
            update(jobs)
            .where(jobs.c.id.in_(ids), jobs.c.status == JobStatus.QUEUED.value)
            .values(
                status=JobStatus.PROCESSING.value,
                attempt=jobs.c.attempt + 1,
                claimed_by=claimer,
                claimed_at=now,
                updated_at=now,
            )
        )
        rows = self.connection.execute(
            select(
                jobs.c.id, jobs.c.patient_id, jobs.c.purpose, jobs.c.channel, jobs.c.attempt
            ).where(
                jobs.c.id.in_(ids),
                jobs.c.claimed_by == claimer,
                jobs.c.status == JobStatus.PROCESSING.value,
            )
        ).all()
        return [
            ClaimedJob(r.id, r.patient_id, Purpose(r.purpose), Channel(r.channel), r.attempt)
            for r in rows
        ]

    def requeue_stale_claims(self, older_than: datetime, now: datetime) -> int:
        """Jobs claimed but never taken by a channel worker (a lost send request) go back to
        queued.

        Only jobs no worker has taken (``sending_attempt`` below ``attempt``) are requeued: a job
        taken and then silent may have reached the provider, and resending it could duplicate.
        """
        result = self.connection.execute(
            update(jobs)
            .where(
                jobs.c.status == JobStatus.PROCESSING.value,
                jobs.c.claimed_at < older_than,
                (jobs.c.sending_attempt.is_(None)) | (jobs.c.sending_attempt < jobs.c.attempt),
            )
            .values(status=JobStatus.QUEUED.value, scheduled_for=now, updated_at=now)
        )
        return result.rowcount

    def fail_lost_sends(self, older_than: datetime, now: datetime) -> int:
        """Jobs a channel worker took but never reported on (it died mid-send) end ``failed``.

        The provider may or may not have the message; sending again could message the patient
        twice, so the job is closed with a reason operators can see instead of being retried.
        """
        result = self.connection.execute(
            update(jobs)
            .where(
                jobs.c.status == JobStatus.PROCESSING.value,
                jobs.c.claimed_at < older_than,
                jobs.c.sending_attempt == jobs.c.attempt,
            )
            .values(
                status=JobStatus.FAILED.value,
                updated_at=now,
                last_error="send outcome unknown: the channel worker stopped mid-send",
            )
        )
        return result.rowcount

    # ---- sending ----

    def take_sends(self, requests: Sequence[tuple[int, int]]) -> set[int]:
        """Take (job id, attempt) pairs for sending; returns the job ids this caller now owns.

        A redelivered request, or one for an attempt that is no longer current, takes nothing.
        The UPDATE stamps a fresh token, and only rows carrying it are read back as owned.
        """
        if not requests:
            return set()
        pairs = list(set(requests))
        token = uuid.uuid4().hex
        self.connection.execute(
            update(jobs)
            .where(
                tuple_(jobs.c.id, jobs.c.attempt).in_(pairs),
                jobs.c.status == JobStatus.PROCESSING.value,
                (jobs.c.sending_attempt.is_(None)) | (jobs.c.sending_attempt < jobs.c.attempt),
            )
            .values(sending_attempt=jobs.c.attempt, send_token=token)
        )
        rows = self.connection.execute(
            select(jobs.c.id).where(
                jobs.c.id.in_([job_id for job_id, _ in pairs]), jobs.c.send_token == token
            )
        )
        return set(rows.scalars())

    def load(self, job_ids: Iterable[int]) -> dict[int, JobRecord]:
        ids = list(set(job_ids))
        if not ids:
            return {}
        rows = self.connection.execute(select(*_JOB_RECORD_COLUMNS).where(jobs.c.id.in_(ids)))
        return {
            row.id: JobRecord(
                id=row.id,
                idempotency_key=row.idempotency_key,
                org_id=row.org_id,
                patient_id=row.patient_id,
                provider_id=row.provider_id,
                appointment_id=row.appointment_id,
                campaign_id=row.campaign_id,
                purpose=Purpose(row.purpose),
                channel=Channel(row.channel) if row.channel is not None else None,
                status=JobStatus(row.status),
                attempt=row.attempt,
                scheduled_for=row.scheduled_for,
                deadline=row.deadline,
                language=row.language,
                variant=row.variant,
                context=row.context or {},
            )
            for row in rows
        }

    def mark_sent(self, sent: Sequence[SentJob], now: datetime) -> None:
        """processing -> sent for the jobs a provider accepted.

        One UPDATE for the whole batch (CASE on the id): the driver would otherwise send one
        statement per job, and this runs at the send rate.
        """
        if not sent:
            return
        self.connection.execute(
            update(jobs)
            .where(
                jobs.c.id.in_([s.job_id for s in sent]),
                jobs.c.status == JobStatus.PROCESSING.value,
            )
            .values(
                status=JobStatus.SENT.value,
                provider_message_id=case(
                    {s.job_id: s.provider_message_id for s in sent}, value=jobs.c.id
                ),
                template_id=case({s.job_id: s.template_id for s in sent}, value=jobs.c.id),
                sent_at=now,
                updated_at=now,
                last_error=None,
            )
        )

    def retry_later(
        self,
        job_id: int,
        run_at: datetime,
        error: str,
        now: datetime,
        *,
        channel: Channel | None = None,
    ) -> bool:
        """processing -> queued again for ``run_at`` (on ``channel`` when falling back)."""
        values: dict[str, Any] = {
            "status": JobStatus.QUEUED.value,
            "scheduled_for": run_at,
            "last_error": error[:500],
            "updated_at": now,
        }
        if channel is not None:
            values["channel"] = channel.value
        result = self.connection.execute(
            update(jobs)
            .where(jobs.c.id == job_id, jobs.c.status == JobStatus.PROCESSING.value)
            .values(**values)
        )
        return result.rowcount == 1

    def end(
        self,
        job_id: int,
        status: JobStatus,
        now: datetime,
        *,
        reason: str | None = None,
        error: str | None = None,
        from_statuses: Iterable[JobStatus] = (JobStatus.PROCESSING,),
    ) -> bool:
        """Move a job to a side exit (failed / suppressed / cancelled) if it is still where we
        think it is."""
        values: dict[str, Any] = {"status": status.value, "updated_at": now}
        if reason is not None:
            values["suppression_reason"] = reason
        if error is not None:
            values["last_error"] = error[:500]
        result = self.connection.execute(
            update(jobs)
            .where(jobs.c.id == job_id, jobs.c.status.in_([s.value for s in from_statuses]))
            .values(**values)
        )
        return result.rowcount == 1

    # ---- provider statuses ----

    def ids_by_provider_message(self, provider_message_ids: Iterable[str]) -> dict[str, int]:
        """The job each provider message id belongs to (those known so far)."""
        ids = list(set(provider_message_ids))
        if not ids:
            return {}
        rows = self.connection.execute(
            select(jobs.c.provider_message_id, jobs.c.id).where(jobs.c.provider_message_id.in_(ids))
        )
        return {row.provider_message_id: row.id for row in rows}

    def apply_statuses(self, reports: Sequence[ReportedStatus], now: datetime) -> Counter[str]:
        """Move jobs forward to the reported statuses, one UPDATE per status value.

        Returns how many jobs moved per status; a status that would move a job backwards
        changes nothing.
        """
        moved: Counter[str] = Counter()
        by_status: dict[JobStatus, dict[str, tuple[datetime, str | None]]] = defaultdict(dict)
        for report in sorted(reports, key=lambda r: r.occurred_at):
            by_status[report.status].setdefault(
                report.provider_message_id, (report.occurred_at, report.error_code)
            )
        for status in _APPLY_ORDER:
            reported = by_status.get(status)
            if not reported:
                continue
            values: dict[str, Any] = {"status": status.value, "updated_at": now}
            stamp = _STATUS_TIMESTAMPS.get(status)
            if stamp:
                values[stamp] = case(
                    {p: at for p, (at, _) in reported.items()}, value=jobs.c.provider_message_id
                )
            errors = {p: e for p, (_, e) in reported.items() if e}
            if errors:
                values["last_error"] = case(
                    errors, value=jobs.c.provider_message_id, else_=jobs.c.last_error
                )
            result = self.connection.execute(
                update(jobs)
                .where(
                    jobs.c.provider_message_id.in_(list(reported)),
                    jobs.c.status.in_(_predecessors(status)),
                )
                .values(**values)
            )
            moved[status.value] += result.rowcount
        return moved
