"""dead_letter_decisions: what an operator did with each ``outreach.dlq`` entry, once each."""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime

from sqlalchemy import Connection, select

from outreach.sql.bulk import insert_ignore
from outreach.sql.models import DeadLetterDecision

decisions = DeadLetterDecision.__table__


class DeadLetterRepository:
    def __init__(self, connection: Connection) -> None:
        self.connection = connection

    def decide(self, entry_id: str, decision: str, actor: str, now: datetime) -> bool:
        """Record the decision; False when the entry was already replayed or discarded."""
        return (
            insert_ignore(
                self.connection,
                decisions,
                [
                    {
                        "entry_id": entry_id[:32],
                        "decision": decision[:16],
                        "decided_at": now,
                        "actor": actor[:100],
                    }
                ],
            )
            == 1
        )

    def decisions_of(self, entry_ids: Iterable[str]) -> dict[str, tuple[str, datetime, str]]:
        """(decision, when, who) for the entries that have one."""
        ids = list(set(entry_ids))
        if not ids:
            return {}
        rows = self.connection.execute(
            select(
                decisions.c.entry_id,
                decisions.c.decision,
                decisions.c.decided_at,
                decisions.c.actor,
            ).where(decisions.c.entry_id.in_(ids))
        )
        return {r.entry_id: (r.decision, r.decided_at, r.actor) for r in rows}
