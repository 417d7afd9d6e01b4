"""The processed-events inbox: which core events already produced their jobs."""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime

from sqlalchemy import Connection, select

from outreach.events import CoreEvent
from outreach.sql.bulk import insert_ignore
from outreach.sql.models import ProcessedEvent

processed_events = ProcessedEvent.__table__


class InboxRepository:
    def __init__(self, connection: Connection) -> None:
        self.connection = connection

    def already_processed(self, event_ids: Iterable[str]) -> set[str]:
        ids = list(set(event_ids))
        if not ids:
            return set()
        query = select(processed_events.c.event_id).where(processed_events.c.event_id.in_(ids))
        return set(self.connection.execute(query).scalars())

    def record_processed(self, events: Iterable[CoreEvent], now: datetime) -> None:
        rows = [{"event_id": e.event_id, "event_type": e.type, "processed_at": now} for e in events]
        insert_ignore(self.connection, processed_events, rows)
