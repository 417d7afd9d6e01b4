"""comm_jobs: bulk creation, cancellation, exactly-once claims, send bookkeeping and statuses.

Every transition is a conditional UPDATE on the current status, so status only moves forward and
two processes racing on one job cannot both win.
"""

from __future__ import annotations

import uuid
from collections import Counter, defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import Connection, Engine, case, select, tuple_, update

from outreach.domain import FORWARD_PATH, Channel, JobStatus, Purpose, can_transition
from outreach.preferences import SentRecord
from outreach.sql.bulk import insert_ignore
from outreach.sql.engine import is_mysql
from outreach.sql.models import CommJob, CommStatusEvent

jobs = CommJob.__table__
status_events = CommStatusEvent.__table__

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


def insert_jobs(connection: Connection, rows: Sequence[dict[str, Any]]) -> int:
    """Create jobs; a row whose idempotency key exists is skipped. Returns how many were new."""
    return insert_ignore(connection, jobs, rows)


def cancel_queued_for_appointments(
    connection: Connection, appointment_ids: Iterable[str], now: datetime
) -> int:
    ids = list(set(appointment_ids))
    if not ids:
        return 0
    result = connection.execute(
        update(jobs)
        .where(jobs.c.appointment_id.in_(ids), jobs.c.status == JobStatus.QUEUED.value)
        .values(status=JobStatus.CANCELLED.value, updated_at=now)
    )
    return result.rowcount


def cancel_pending_for_patient(
    connection: Connection,
    patient_id: str,
    channels: Iterable[Channel],
    now: datetime,
    *,
    keep_purposes: Iterable[Purpose] = (Purpose.URGENT,),
) -> int:
    """Cancel a patient's queued jobs on ``channels`` (after a STOP), sparing ``keep_purposes``."""
    result = connection.execute(
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
    connection: Connection, patient_ids: Iterable[str], since: datetime
) -> dict[str, list[SentRecord]]:
    """Planned and sent messages per patient since ``since``, for frequency caps."""
    ids = list(set(patient_ids))
    history: dict[str, list[SentRecord]] = defaultdict(list)
    if not ids:
        return history
    rows = connection.execute(
        select(jobs.c.patient_id, jobs.c.channel, jobs.c.purpose, jobs.c.scheduled_for).where(
            jobs.c.patient_id.in_(ids),
            jobs.c.scheduled_for >= since,
            jobs.c.channel.is_not(None),
            jobs.c.status.in_([s.value for s in _CAP_STATUSES]),
        )
    )
    for patient_id, channel, purpose, scheduled_for in rows:
        history[patient_id].append(SentRecord(Channel(channel), Purpose(purpose), scheduled_for))
    return history


@dataclass(frozen=True, slots=True)
class ClaimedJob:
    job_id: int
    patient_id: str
    purpose: Purpose
    channel: Channel
    attempt: int


def claim_due_jobs(engine: Engine, now: datetime, limit: int, claimer: str) -> list[ClaimedJob]:
    """Move up to ``limit`` due queued jobs to ``processing``, each to exactly one claimer.

    MariaDB: ``SELECT ... FOR UPDATE SKIP LOCKED`` lets several schedulers claim disjoint jobs
    without waiting on each other. SQLite has one writer at a time, so a plain transaction is
    already exclusive. The UPDATE re-checks ``status = 'queued'`` either way.
    """
    due = (
        select(jobs.c.id)
        .where(
            jobs.c.status == JobStatus.QUEUED.value,
            jobs.c.scheduled_for <= now,
            # A queued job always has a channel once decided; a row without one (written by
            # hand or by a foreign tool) must not stop the claim loop for everyone else.
            jobs.c.channel.is_not(None),
        )
        .order_by(jobs.c.scheduled_for)
        .limit(limit)
    )
    with engine.begin() as connection:
        if is_mysql(engine):
            due = due.with_for_update(skip_locked=True)
        ids = list(connection.execute(due).scalars())
        if not ids:
            return []
        connection.execute(
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
        rows = connection.execute(
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


def requeue_stale_claims(connection: Connection, older_than: datetime, now: datetime) -> int:
    """Jobs claimed but never taken by a channel worker (a lost send request) go back to queued.

    Only jobs no worker has taken (``sending_attempt`` below ``attempt``) are requeued: a job
    taken and then silent may have reached the provider, and resending it could duplicate.
    """
    result = connection.execute(
        update(jobs)
        .where(
            jobs.c.status == JobStatus.PROCESSING.value,
            jobs.c.claimed_at < older_than,
            (jobs.c.sending_attempt.is_(None)) | (jobs.c.sending_attempt < jobs.c.attempt),
        )
        .values(status=JobStatus.QUEUED.value, scheduled_for=now, updated_at=now)
    )
    return result.rowcount


def fail_lost_sends(connection: Connection, older_than: datetime, now: datetime) -> int:
    """Jobs a channel worker took but never reported on (it died mid-send) end ``failed``.

    The provider may or may not have the message; sending again could message the patient
    twice, so the job is closed with a reason operators can see instead of being retried.
    """
    result = connection.execute(
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


def take_sends(connection: Connection, requests: Sequence[tuple[int, int]]) -> set[int]:
    """Take (job id, attempt) pairs for sending; returns the job ids this caller now owns.

    A redelivered request, or one for an attempt that is no longer current, takes nothing. The
    UPDATE stamps a fresh token, and only rows carrying it are read back as owned.
    """
    if not requests:
        return set()
    pairs = list(set(requests))
    token = uuid.uuid4().hex
    connection.execute(
        update(jobs)
        .where(
            tuple_(jobs.c.id, jobs.c.attempt).in_(pairs),
            jobs.c.status == JobStatus.PROCESSING.value,
            (jobs.c.sending_attempt.is_(None)) | (jobs.c.sending_attempt < jobs.c.attempt),
        )
        .values(sending_attempt=jobs.c.attempt, send_token=token)
    )
    rows = connection.execute(
        select(jobs.c.id).where(
            jobs.c.id.in_([job_id for job_id, _ in pairs]), jobs.c.send_token == token
        )
    )
    return set(rows.scalars())


def load_jobs(connection: Connection, job_ids: Iterable[int]) -> dict[int, dict[str, Any]]:
    ids = list(set(job_ids))
    if not ids:
        return {}
    rows = connection.execute(select(jobs).where(jobs.c.id.in_(ids))).mappings()
    return {row["id"]: dict(row) for row in rows}


def mark_sent(connection: Connection, sent: Sequence[dict[str, Any]], now: datetime) -> None:
    """``sent``: dicts with job_id, provider_message_id, template_id. processing -> sent only.

    One UPDATE for the whole batch (CASE on the id): the driver would otherwise send one
    statement per job, and this runs at the send rate.
    """
    if not sent:
        return
    ids = [s["job_id"] for s in sent]
    connection.execute(
        update(jobs)
        .where(jobs.c.id.in_(ids), jobs.c.status == JobStatus.PROCESSING.value)
        .values(
            status=JobStatus.SENT.value,
            provider_message_id=case(
                {s["job_id"]: s["provider_message_id"] for s in sent}, value=jobs.c.id
            ),
            template_id=case({s["job_id"]: s.get("template_id") for s in sent}, value=jobs.c.id),
            sent_at=now,
            updated_at=now,
            last_error=None,
        )
    )
    # Statuses that raced ahead of this bookkeeping (fast providers) are applied now.
    replay_recorded_statuses(connection, [s["provider_message_id"] for s in sent], now)


def retry_later(
    connection: Connection,
    job_id: int,
    run_at: datetime,
    error: str,
    now: datetime,
    *,
    channel: Channel | None = None,
) -> bool:
    values: dict[str, Any] = {
        "status": JobStatus.QUEUED.value,
        "scheduled_for": run_at,
        "last_error": error[:500],
        "updated_at": now,
    }
    if channel is not None:
        values["channel"] = channel.value
    result = connection.execute(
        update(jobs)
        .where(jobs.c.id == job_id, jobs.c.status == JobStatus.PROCESSING.value)
        .values(**values)
    )
    return result.rowcount == 1


def end_job(
    connection: Connection,
    job_id: int,
    status: JobStatus,
    now: datetime,
    *,
    reason: str | None = None,
    error: str | None = None,
    from_statuses: Iterable[JobStatus] = (JobStatus.PROCESSING,),
) -> bool:
    """Move a job to a side exit (failed / suppressed / cancelled) if it is still where we think."""
    values: dict[str, Any] = {"status": status.value, "updated_at": now}
    if reason is not None:
        values["suppression_reason"] = reason
    if error is not None:
        values["last_error"] = error[:500]
    result = connection.execute(
        update(jobs)
        .where(jobs.c.id == job_id, jobs.c.status.in_([s.value for s in from_statuses]))
        .values(**values)
    )
    return result.rowcount == 1


# Columns stamped when a job reaches a status.
_STATUS_TIMESTAMPS = {
    JobStatus.DELIVERED: "delivered_at",
    JobStatus.REPLIED: "replied_at",
}


def _predecessors(status: JobStatus) -> list[str]:
    return [s.value for s in JobStatus if can_transition(s, status)]


def record_status_events(connection: Connection, updates: Sequence[dict[str, Any]]) -> int:
    """Store provider statuses once each (unique provider + message id + status)."""
    return insert_ignore(connection, status_events, list(updates))


# Order in which a batch's statuses are applied: forward path first, then side exits. Status
# only moves forward, so this gives the same end state as applying them one by one in time order.
_APPLY_ORDER = [s for s in FORWARD_PATH if s not in (JobStatus.QUEUED, JobStatus.PROCESSING)] + [
    JobStatus.FAILED,
    JobStatus.BOUNCED,
]


def apply_job_statuses(
    connection: Connection,
    updates: Sequence[tuple[str, JobStatus, datetime, str | None]],
    now: datetime,
) -> Counter[str]:
    """Move jobs forward to the reported statuses, one UPDATE per status value.

    ``updates``: (provider message id, status, occurred_at, error code). Returns how many jobs
    moved per status; a status that would move a job backwards changes nothing.
    """
    moved: Counter[str] = Counter()
    by_status: dict[JobStatus, dict[str, tuple[datetime, str | None]]] = defaultdict(dict)
    for provider_message_id, status, occurred_at, error in sorted(updates, key=lambda u: u[2]):
        by_status[status].setdefault(provider_message_id, (occurred_at, error))
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
        result = connection.execute(
            update(jobs)
            .where(
                jobs.c.provider_message_id.in_(list(reported)),
                jobs.c.status.in_(_predecessors(status)),
            )
            .values(**values)
        )
        moved[status.value] += result.rowcount
    return moved


def replay_recorded_statuses(
    connection: Connection, provider_message_ids: Sequence[str], now: datetime
) -> None:
    """Apply stored statuses for messages whose job learnt its provider id only now, and attach
    those status events to their job."""
    if not provider_message_ids:
        return
    ids = list(provider_message_ids)
    owners = dict(
        connection.execute(
            select(jobs.c.provider_message_id, jobs.c.id).where(jobs.c.provider_message_id.in_(ids))
        ).all()
    )
    rows = connection.execute(
        select(
            status_events.c.provider_message_id,
            status_events.c.status,
            status_events.c.occurred_at,
            status_events.c.error_code,
        )
        .where(
            status_events.c.provider_message_id.in_(list(owners)), status_events.c.job_id.is_(None)
        )
        .order_by(status_events.c.occurred_at)
    ).all()
    apply_job_statuses(
        connection,
        [
            (row.provider_message_id, status, row.occurred_at, row.error_code)
            for row in rows
            if (status := _job_status(row.status)) is not None
        ],
        now,
    )
    waiting = {row.provider_message_id for row in rows}
    if waiting:
        connection.execute(
            update(status_events)
            .where(
                status_events.c.provider_message_id.in_(waiting), status_events.c.job_id.is_(None)
            )
            .values(
                job_id=case(
                    {p: owners[p] for p in waiting}, value=status_events.c.provider_message_id
                )
            )
        )


def reconcile_unattached_statuses(connection: Connection, since: datetime, now: datetime) -> int:
    """Apply statuses stored before their job knew its provider message id.

    A status and the send's own bookkeeping can commit at the same moment, each unable to see
    the other (READ COMMITTED); this sweep, run every few seconds, closes that window.
    """
    pending = (
        connection.execute(
            select(status_events.c.provider_message_id)
            .join(jobs, jobs.c.provider_message_id == status_events.c.provider_message_id)
            .where(status_events.c.job_id.is_(None), status_events.c.received_at >= since)
            .distinct()
        )
        .scalars()
        .all()
    )
    replay_recorded_statuses(connection, list(pending), now)
    return len(pending)


def _job_status(value: str) -> JobStatus | None:
    try:
        status = JobStatus(value)
    except ValueError:
        return None
    return None if status in (JobStatus.QUEUED, JobStatus.PROCESSING) else status


def job_status_from_provider(value: str) -> JobStatus | None:
    """A normalised provider status as a job status (None for ones that change nothing)."""
    return _job_status(value)


STALE_CLAIM_AFTER = timedelta(minutes=5)
LOST_SEND_AFTER = timedelta(minutes=30)
