"""``outreach.status`` -> comm_status_events (once each) and job status (forward only).

A status may arrive before the channel worker recorded the provider message id (fast
providers): it is stored unattached, and ``job_repository.mark_sent`` replays it then.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable, Sequence
from datetime import UTC, datetime

from sqlalchemy import Engine, select

from outreach.events import StatusUpdate
from outreach.sql import job_repository

jobs = job_repository.jobs


class StatusBatchHandler:
    def __init__(
        self, engine: Engine, clock: Callable[[], datetime] = lambda: datetime.now(UTC)
    ) -> None:
        self.engine = engine
        self.clock = clock

    def handle(self, updates: Sequence[StatusUpdate]) -> Counter[str]:
        now = self.clock()
        applied: Counter[str] = Counter()
        if not updates:
            return applied
        ids = list({u.provider_message_id for u in updates})
        with self.engine.begin() as connection:
            owners = dict(
                connection.execute(
                    select(jobs.c.provider_message_id, jobs.c.id).where(
                        jobs.c.provider_message_id.in_(ids)
                    )
                ).all()
            )
            job_repository.record_status_events(
                connection,
                [
                    {
                        "job_id": owners.get(u.provider_message_id),
                        "provider": u.provider,
                        "provider_message_id": u.provider_message_id,
                        "status": u.status,
                        "error_code": u.error_code,
                        "occurred_at": u.occurred_at,
                        "raw": u.raw,
                        "received_at": now,
                    }
                    for u in updates
                ],
            )
            reported = []
            for update in updates:
                status = job_repository.job_status_from_provider(update.status)
                if status is None:
                    applied["ignored"] += 1
                elif update.provider_message_id not in owners:
                    applied["unmatched"] += 1  # kept; the send's bookkeeping replays it
                else:
                    reported.append(
                        (update.provider_message_id, status, update.occurred_at, update.error_code)
                    )
            applied.update(job_repository.apply_job_statuses(connection, reported, now))
        return applied
