"""The processed-events inbox: which core events already produced their jobs."""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime

from sqlalchemy import Connection, select

from outreach.events import CoreEvent
from outreach.sql.bulk import insert_ignore
from outreach.sql.models import ProcessedEvent

processed_events = ProcessedEvent.__table__


def already_processed(connection: Connection, event_ids: Iterable[str]) -> set[str]:
    ids = list(set(event_ids))
    if not ids:
        return set()
    query = select(processed_events.c.event_id).where(processed_events.c.event_id.in_(ids))
    return set(connection.execute(query).scalars())


def record_processed(connection: Connection, events: Iterable[CoreEvent], now: datetime) -> None:
    rows = [{"event_id": e.event_id, "event_type": e.type, "processed_at": now} for e in events]
    insert_ignore(connection, processed_events, rows)
