"""Counts over the pipeline's tables: what the demo's summary (and an operator) reads."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import Connection, func, select

from outreach.domain import JobStatus
from outreach.sql.models import CommInbound, CommJob, CommStatusEvent, ProcessedEvent

jobs = CommJob.__table__
processed = ProcessedEvent.__table__
inbound = CommInbound.__table__
status_events = CommStatusEvent.__table__

_PENDING = (JobStatus.QUEUED.value, JobStatus.PROCESSING.value)


class CountsRepository:
    def __init__(self, connection: Connection) -> None:
        self.connection = connection

    def events_by_type(self) -> dict[str, int]:
        """Core events handled (the inbox), by event type."""
        rows = self.connection.execute(
            select(processed.c.event_type, func.count()).group_by(processed.c.event_type)
        )
        return {kind: count for kind, count in rows}

    def jobs_by_purpose_and_status(self) -> list[tuple[str, str, int]]:
        rows = self.connection.execute(
            select(jobs.c.purpose, jobs.c.status, func.count()).group_by(
                jobs.c.purpose, jobs.c.status
            )
        )
        return [(str(purpose), str(status), count) for purpose, status, count in rows]

    def jobs_by_channel_and_status(self) -> list[tuple[str | None, str, int]]:
        rows = self.connection.execute(
            select(jobs.c.channel, jobs.c.status, func.count()).group_by(
                jobs.c.channel, jobs.c.status
            )
        )
        return [
            (str(channel) if channel is not None else None, str(status), count)
            for channel, status, count in rows
        ]

    def suppressions_by_reason(self) -> list[tuple[str, int]]:
        """Suppressed jobs by reason, most frequent first."""
        rows = self.connection.execute(
            select(jobs.c.suppression_reason, func.count())
            .where(jobs.c.status == JobStatus.SUPPRESSED.value)
            .group_by(jobs.c.suppression_reason)
            .order_by(func.count().desc())
        )
        return [(str(reason), count) for reason, count in rows]

    def replies_by_intent(self) -> list[tuple[str | None, int]]:
        rows = self.connection.execute(
            select(inbound.c.intent, func.count()).group_by(inbound.c.intent)
        )
        return [(intent, count) for intent, count in rows]

    def provider_statuses(self) -> list[tuple[str, int]]:
        rows = self.connection.execute(
            select(status_events.c.status, func.count()).group_by(status_events.c.status)
        )
        return [(status, count) for status, count in rows]

    def jobs_by_send_time_source(self) -> list[tuple[str, int]]:
        """Planned jobs by how their send time was chosen (model, exploration, default)."""
        rows = self.connection.execute(
            select(jobs.c.send_time_source, func.count())
            .where(jobs.c.send_time_source.is_not(None))
            .group_by(jobs.c.send_time_source)
        )
        return [(str(getattr(source, "value", source)), count) for source, count in rows]

    def pending_due(self, now: datetime) -> int:
        """Jobs due by ``now`` that have not left yet (queued or being sent)."""
        return int(
            self.connection.execute(
                select(func.count()).where(jobs.c.status.in_(_PENDING), jobs.c.scheduled_for <= now)
            ).scalar_one()
        )
