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

from sqlalchemy import ColumnElement, Connection, case, select, tuple_, update

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
    jobs.c.retries,
    jobs.c.unconfirmed_since,
    jobs.c.tried_channels,
)


def _job_record(row: Any) -> JobRecord:
    return JobRecord(
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
        retries=row.retries or 0,
        unconfirmed_since=row.unconfirmed_since,
        tried_channels=frozenset(Channel(c) for c in row.tried_channels or ()),
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
    deadline: datetime | None = None


@dataclass(frozen=True, slots=True)
class SentRecordForAudit:
    job_id: int
    patient_id: str
    purpose: Purpose
    channel: Channel
    deadline: datetime | None
    sent_at: datetime


@dataclass(frozen=True, slots=True)
class StoppedSend:
    """A send taken by a worker that stopped: when it was taken, and since when (if ever) an
    earlier attempt may already have reached the provider."""

    job_id: int
    attempt: int
    taken_at: datetime
    unconfirmed_since: datetime | None


@dataclass(frozen=True, slots=True)
class Requeue:
    """What changes when a taken job goes back to the queue (``None``: unchanged)."""

    note: str | None = None  # PHI-free, shown in last_error
    channel: Channel | None = None  # falling back to another channel
    retries: int | None = None  # the retry budget spent so far
    unconfirmed_since: datetime | None = None  # the send may have reached the provider
    confirmed_unsent: bool = False  # the provider was asked: it has no trace
    tried: frozenset[Channel] | None = None  # channels this message already failed on


@dataclass(frozen=True, slots=True)
class SentJob:
    """A job the provider accepted: its message id there and the template version it rendered."""

    job_id: int
    provider_message_id: str
    template_id: int | None
    # When it went, in the pipeline's time: the last check before the provider call (the
    # batch's bookkeeping comes later). None: when it is recorded.
    sent_at: datetime | None = None


@dataclass(frozen=True, slots=True)
class ReportedStatus:
    """A provider's report about one message, as a job status."""

    provider_message_id: str
    status: JobStatus
    occurred_at: datetime
    error_code: str | None = None


# The columns a new job's row sets (``job_row_values``); the others keep their defaults.
PLANNED_JOB_COLUMNS = (
    "idempotency_key",
    "org_id",
    "patient_id",
    "provider_id",
    "appointment_id",
    "source_event_id",
    "campaign_id",
    "variant",
    "purpose",
    "requested_at",
    "deadline",
    "context",
    "attempt",
    "channel",
    "status",
    "suppression_reason",
    "scheduled_for",
    "language",
    "last_error",
    "send_time_source",
    "send_time_propensity",
    "created_at",
    "updated_at",
)


def job_row_values(job: NewJob, now: datetime) -> dict[str, Any]:
    """The ``comm_jobs`` row of a new job, as every planning path stores it."""
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


def counted_by_caps(since: datetime) -> list[ColumnElement[bool]]:
    """The jobs frequency caps count: planned or gone out on a channel since ``since``."""
    return [
        jobs.c.scheduled_for >= since,
        jobs.c.channel.is_not(None),
        jobs.c.status.in_([s.value for s in _CAP_STATUSES]),
    ]


def _predecessors(status: JobStatus) -> list[str]:
    return [s.value for s in JobStatus if can_transition(s, status)]


class JobRepository:
    def __init__(self, connection: Connection) -> None:
        self.connection = connection

    # ---- planning ----

    def insert(self, new_jobs: Sequence[NewJob], now: datetime) -> int:
        """Create jobs; one whose idempotency key exists is skipped. Returns how many were new."""
        return insert_ignore(self.connection, jobs, [job_row_values(job, now) for job in new_jobs])

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
                jobs.c.patient_id.in_(ids), *counted_by_caps(since)
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
                jobs.c.id,
                jobs.c.patient_id,
                jobs.c.purpose,
                jobs.c.channel,
                jobs.c.attempt,
                jobs.c.deadline,
            ).where(
                jobs.c.id.in_(ids),
                jobs.c.claimed_by == claimer,
                jobs.c.status == JobStatus.PROCESSING.value,
            )
        ).all()
        return [
            ClaimedJob(
                r.id, r.patient_id, Purpose(r.purpose), Channel(r.channel), r.attempt, r.deadline
            )
            for r in rows
        ]

    def requeue_stale_claims(
        self, older_than: datetime, now: datetime, *, alive: Iterable[str] = ()
    ) -> int:
        """Jobs claimed but never taken by a channel worker go back to queued: those whose
        claimer stopped (not in ``alive``) at once, any other once claimed before ``older_than``
        (its send request was lost on the way).

        Only jobs no worker has taken (``sending_attempt`` below ``attempt``) are requeued: a job
        taken may have reached the provider, and ``stopped_sends`` handles it.
        """
        living = sorted(set(alive))
        claimer_stopped = jobs.c.claimed_by.is_(None) | jobs.c.claimed_by.not_in(living or [""])
        result = self.connection.execute(
            update(jobs)
            .where(
                jobs.c.status == JobStatus.PROCESSING.value,
                (jobs.c.sending_attempt.is_(None)) | (jobs.c.sending_attempt < jobs.c.attempt),
                (jobs.c.claimed_at < older_than) | claimer_stopped,
            )
            .values(status=JobStatus.QUEUED.value, scheduled_for=now, updated_at=now)
        )
        return result.rowcount

    def stopped_sends(self, alive: Iterable[str], taken_before: datetime) -> list[StoppedSend]:
        """Sends taken by a worker process that stopped (not in ``alive``), taken before
        ``taken_before``: their outcome is known only to the provider."""
        living = sorted(set(alive))
        rows = self.connection.execute(
            select(jobs.c.id, jobs.c.attempt, jobs.c.taken_at, jobs.c.unconfirmed_since).where(
                jobs.c.status == JobStatus.PROCESSING.value,
                jobs.c.sending_attempt == jobs.c.attempt,
                jobs.c.taken_at < taken_before,
                jobs.c.taken_by.is_(None) | jobs.c.taken_by.not_in(living or [""]),
            )
        )
        return [StoppedSend(r.id, r.attempt, r.taken_at, r.unconfirmed_since) for r in rows]

    # ---- sending ----

    def take_sends(
        self, requests: Sequence[tuple[int, int]], taker: str, now: datetime
    ) -> set[int]:
        """Take (job id, attempt) pairs for sending; returns the job ids this caller now owns.

        A redelivered request, or one for an attempt that is no longer current, takes nothing.
        The UPDATE stamps a fresh token, and only rows carrying it are read back as owned;
        ``taker`` (the worker process) and the time let the scheduler recover the sends of a
        worker that stops.
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
            .values(sending_attempt=jobs.c.attempt, send_token=token, taken_by=taker, taken_at=now)
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
        return {row.id: _job_record(row) for row in rows}

    def mark_sent(self, sent: Sequence[SentJob], now: datetime) -> None:
        """processing -> sent for the jobs a provider accepted (or was found to have).

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
                sent_at=case({s.job_id: s.sent_at or now for s in sent}, value=jobs.c.id),
                updated_at=now,
                last_error=None,
                unconfirmed_since=None,
            )
        )

    def requeue(self, job_id: int, run_at: datetime, now: datetime, change: Requeue) -> bool:
        """processing -> queued again for ``run_at``, with what changed (see ``Requeue``)."""
        values: dict[str, Any] = {
            "status": JobStatus.QUEUED.value,
            "scheduled_for": run_at,
            "updated_at": now,
        }
        if change.note is not None:
            values["last_error"] = change.note[:500]
        if change.channel is not None:
            values["channel"] = change.channel.value
        if change.retries is not None:
            values["retries"] = change.retries
        if change.unconfirmed_since is not None:
            # The earliest start is what the provider lookup must cover.
            values["unconfirmed_since"] = case(
                (jobs.c.unconfirmed_since.is_(None), change.unconfirmed_since),
                else_=jobs.c.unconfirmed_since,
            )
        if change.confirmed_unsent:
            values["unconfirmed_since"] = None
        if change.tried is not None:
            values["tried_channels"] = sorted(c.value for c in change.tried)
        result = self.connection.execute(
            update(jobs)
            .where(jobs.c.id == job_id, jobs.c.status == JobStatus.PROCESSING.value)
            .values(**values)
        )
        return result.rowcount == 1

    def requeue_stopped_send(
        self,
        job_id: int,
        attempt: int,
        run_at: datetime,
        now: datetime,
        started_at: datetime | None,
    ) -> bool:
        """A send whose worker stopped goes back to the queue: at once if it never started
        (``started_at`` None), else marked unconfirmed so the next attempt asks the provider."""
        values: dict[str, Any] = {
            "status": JobStatus.QUEUED.value,
            "scheduled_for": run_at,
            "updated_at": now,
            "last_error": "recovered: the worker that took it stopped",
        }
        if started_at is not None:
            values["unconfirmed_since"] = case(
                (jobs.c.unconfirmed_since.is_(None), started_at), else_=jobs.c.unconfirmed_since
            )
        result = self.connection.execute(
            update(jobs)
            .where(
                jobs.c.id == job_id,
                jobs.c.attempt == attempt,
                jobs.c.sending_attempt == attempt,
                jobs.c.status == JobStatus.PROCESSING.value,
            )
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

    def insert_fallback(
        self, job: JobRecord, channel: Channel, run_at: datetime, now: datetime
    ) -> int | None:
        """A new job carrying ``job``'s message to ``channel`` after ``job`` failed there once
        sent; once per (job, channel), whatever is replayed. Returns its id if it is new."""
        tried = job.tried_channels | ({job.channel} if job.channel is not None else set())
        return self._insert_again(
            job,
            f"fallback:{job.id}:{channel.value}",
            channel,
            run_at,
            now,
            fallback_of=job.id,
            tried=tried,
        )

    def insert_replay(self, job: JobRecord, entry_id: str, now: datetime) -> int | None:
        """``job`` planned again, as a new job due now, for a replayed dead letter (once per
        entry). Its channels are open again: an operator fixed what failed."""
        assert job.channel is not None
        return self._insert_again(job, f"replay:{entry_id}", job.channel, now, now)

    def _insert_again(
        self,
        job: JobRecord,
        key: str,
        channel: Channel,
        run_at: datetime,
        now: datetime,
        *,
        fallback_of: int | None = None,
        tried: frozenset[Channel] = frozenset(),
    ) -> int | None:
        inserted = insert_ignore(
            self.connection,
            jobs,
            [
                {
                    "idempotency_key": key,
                    "org_id": job.org_id,
                    "patient_id": job.patient_id,
                    "provider_id": job.provider_id,
                    "appointment_id": job.appointment_id,
                    "campaign_id": job.campaign_id,
                    "variant": job.variant,
                    "purpose": job.purpose.value,
                    "requested_at": now,
                    "deadline": job.deadline,
                    "context": dict(job.context),
                    "attempt": 0,
                    "channel": channel.value,
                    "status": JobStatus.QUEUED.value,
                    "scheduled_for": run_at,
                    "language": job.language,
                    "fallback_of": fallback_of,
                    "tried_channels": sorted(c.value for c in tried),
                    "created_at": now,
                    "updated_at": now,
                }
            ],
        )
        if not inserted:
            return None
        return self.connection.execute(
            select(jobs.c.id).where(jobs.c.idempotency_key == key)
        ).scalar_one()

    def sent_since(self, since: datetime) -> list[SentRecordForAudit]:
        """Jobs that went out at or after ``since`` (``sent_at``), for the send-time audit."""
        rows = self.connection.execute(
            select(
                jobs.c.id,
                jobs.c.patient_id,
                jobs.c.purpose,
                jobs.c.channel,
                jobs.c.deadline,
                jobs.c.sent_at,
            ).where(jobs.c.sent_at >= since, jobs.c.channel.is_not(None))
        )
        return [
            SentRecordForAudit(
                r.id, r.patient_id, Purpose(r.purpose), Channel(r.channel), r.deadline, r.sent_at
            )
            for r in rows
        ]

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

    def failing(self, reports: Sequence[ReportedStatus]) -> list[tuple[JobRecord, ReportedStatus]]:
        """The jobs that these failure reports (failed, bounced) are about to end, each with its
        report: read before ``apply_statuses``, so that only the report that ends a job acts
        (fallback, opt-outs), not a redelivered one."""
        by_message = {
            r.provider_message_id: r
            for r in sorted(reports, key=lambda r: r.occurred_at, reverse=True)
            if r.status in (JobStatus.FAILED, JobStatus.BOUNCED)
        }
        if not by_message:
            return []
        rows = self.connection.execute(
            select(*_JOB_RECORD_COLUMNS, jobs.c.provider_message_id).where(
                jobs.c.provider_message_id.in_(list(by_message)),
                jobs.c.status.in_(_predecessors(JobStatus.FAILED)),
            )
        )
        return [(_job_record(row), by_message[row.provider_message_id]) for row in rows]

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
