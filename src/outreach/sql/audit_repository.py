"""``comm_audit_log``: append-only, read back by action (compliance reviews, housekeeping)."""

from __future__ import annotations

from collections.abc import Iterable, Sequence

from sqlalchemy import Connection, select

from outreach.domain import AuditRecord
from outreach.sql.bulk import insert_rows
from outreach.sql.models import CommAuditLog

audit_log = CommAuditLog.__table__


class AuditRepository:
    def __init__(self, connection: Connection) -> None:
        self.connection = connection

    def record(self, entries: Sequence[AuditRecord]) -> None:
        insert_rows(
            self.connection,
            audit_log,
            [
                {
                    "occurred_at": entry.occurred_at,
                    "actor": entry.actor,
                    "patient_id": entry.patient_id,
                    "action": entry.action,
                    "detail": dict(entry.detail),
                    "org_id": entry.org_id,
                    "ip": entry.ip,
                    "user_agent": entry.user_agent,
                }
                for entry in entries
            ],
        )

    def details_of(self, action: str, patient_ids: Iterable[str]) -> list[tuple[str | None, dict]]:
        """(patient id, detail) of the entries of ``action`` about these patients."""
        ids = list(set(patient_ids))
        if not ids:
            return []
        rows = self.connection.execute(
            select(audit_log.c.patient_id, audit_log.c.detail).where(
                audit_log.c.action == action, audit_log.c.patient_id.in_(ids)
            )
        )
        return [(row.patient_id, row.detail or {}) for row in rows]
