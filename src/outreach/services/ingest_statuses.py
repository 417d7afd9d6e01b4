"""Use case "ingest statuses": provider reports -> comm_status_events (once each) and job status
(forward only).

A status may arrive before the channel worker recorded the provider message id (fast
providers): it is stored unattached, and ``replay_statuses`` applies it once the send's
bookkeeping knows the id (right after ``mark_sent``, and in the scheduler's reconcile sweep).
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable, Sequence
from datetime import UTC, datetime, timedelta

from outreach.domain import JobStatus
from outreach.events import StatusUpdate
from outreach.sql.job_repository import ReportedStatus
from outreach.sql.status_repository import StoredStatus
from outreach.sql.store import Repositories, Store


def job_status_from_provider(value: str) -> JobStatus | None:
    """A normalised provider status as a job status (None for ones that change no job)."""
    try:
        status = JobStatus(value)
    except ValueError:
        return None
    return None if status in (JobStatus.QUEUED, JobStatus.PROCESSING) else status


def replay_statuses(repos: Repositories, provider_message_ids: Sequence[str], now: datetime) -> int:
    """Apply stored statuses of messages whose job learnt its provider id only now, and attach
    them to their job. Returns how many messages had statuses waiting."""
    owners = repos.jobs.ids_by_provider_message(provider_message_ids)
    waiting = repos.statuses.unattached(owners)
    repos.jobs.apply_statuses(
        [
            ReportedStatus(s.provider_message_id, status, s.occurred_at, s.error_code)
            for s in waiting
            if (status := job_status_from_provider(s.status)) is not None
        ],
        now,
    )
    waiting_ids = {s.provider_message_id for s in waiting}
    repos.statuses.attach({p: owners[p] for p in waiting_ids})
    return len(waiting_ids)


class StatusIngestor:
    def __init__(
        self, store: Store, clock: Callable[[], datetime] = lambda: datetime.now(UTC)
    ) -> None:
        self.store = store
        self.clock = clock

    def handle(self, updates: Sequence[StatusUpdate]) -> Counter[str]:
        """Store each report once and move its job forward; counts what happened."""
        now = self.clock()
        applied: Counter[str] = Counter()
        if not updates:
            return applied
        with self.store.transaction() as repos:
            owners = repos.jobs.ids_by_provider_message(u.provider_message_id for u in updates)
            repos.statuses.record(
                [
                    StoredStatus(
                        provider=u.provider,
                        provider_message_id=u.provider_message_id,
                        status=u.status,
                        occurred_at=u.occurred_at,
                        error_code=u.error_code,
                        job_id=owners.get(u.provider_message_id),
                        raw=u.raw,
                        price=u.price,
                        price_unit=u.price_unit,
                    )
                    for u in updates
                ],
                received_at=now,
            )
            reports = []
            for update in updates:
                status = job_status_from_provider(update.status)
                if status is None:
                    applied["ignored"] += 1
                elif update.provider_message_id not in owners:
                    applied["unmatched"] += 1  # kept; the send's bookkeeping replays it
                else:
                    reports.append(
                        ReportedStatus(
                            update.provider_message_id,
                            status,
                            update.occurred_at,
                            update.error_code,
                        )
                    )
            applied.update(repos.jobs.apply_statuses(reports, now))
        return applied


def reconcile_unattached_statuses(store: Store, now: datetime, window: timedelta) -> int:
    """Apply statuses stored before their job knew its provider message id.

    A status and the send's own bookkeeping can commit at the same moment, each unable to see
    the other (READ COMMITTED); this sweep, run every few seconds, closes that window.
    """
    with store.transaction() as repos:
        pending = repos.statuses.unattached_with_known_job(now - window)
        return replay_statuses(repos, pending, now) if pending else 0
