"""process_heartbeats: each worker and scheduler process says, every few seconds, that it runs."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import Connection, select

from outreach.sql.bulk import upsert
from outreach.sql.models import ProcessHeartbeat

heartbeats = ProcessHeartbeat.__table__


class HeartbeatRepository:
    def __init__(self, connection: Connection) -> None:
        self.connection = connection

    def beat(self, process_id: str, role: str, now: datetime) -> None:
        upsert(
            self.connection,
            heartbeats,
            [{"process_id": process_id[:64], "role": role[:32], "seen_at": now}],
            ["process_id"],
        )

    def alive_since(self, since: datetime) -> set[str]:
        """Processes heard from at or after ``since``."""
        rows = self.connection.execute(
            select(heartbeats.c.process_id).where(heartbeats.c.seen_at >= since)
        )
        return set(rows.scalars())
