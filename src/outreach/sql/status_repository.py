"""comm_status_events: every delivery status a provider reported, stored once each.

A status may arrive before the channel worker recorded the provider message id (fast
providers): it is stored unattached (no job id) and attached once the job knows its id.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from decimal import ROUND_HALF_EVEN, Decimal
from typing import Any

from sqlalchemy import Connection, case, select, update

from outreach.sql.bulk import insert_ignore
from outreach.sql.models import CommJob, CommStatusEvent

status_events = CommStatusEvent.__table__
jobs = CommJob.__table__


@dataclass(frozen=True, slots=True)
class StoredStatus:
    """One provider report as stored (``status`` is the provider's normalised word)."""

    provider: str
    provider_message_id: str
    status: str
    occurred_at: datetime
    error_code: str | None = None
    job_id: int | None = None
    raw: Mapping[str, Any] = field(default_factory=dict, repr=False)
    price: Decimal | None = None
    price_unit: str | None = None


def price_micros(price: Decimal | None) -> int | None:
    """A price as whole millionths of its currency (what the column keeps)."""
    if price is None:
        return None
    return int((price * 1_000_000).to_integral_value(ROUND_HALF_EVEN))


class StatusRepository:
    def __init__(self, connection: Connection) -> None:
        self.connection = connection

    def record(self, statuses: Sequence[StoredStatus], received_at: datetime) -> int:
        """Store statuses once each (unique provider + message id + status); returns how many
        were new."""
        return insert_ignore(
            self.connection,
            status_events,
            [
                {
                    "job_id": s.job_id,
                    "provider": s.provider,
                    "provider_message_id": s.provider_message_id,
                    "status": s.status,
                    "error_code": s.error_code,
                    "occurred_at": s.occurred_at,
                    "raw": dict(s.raw),
                    "price_micros": price_micros(s.price),
                    "price_unit": s.price_unit,
                    "received_at": received_at,
                }
                for s in statuses
            ],
        )

    def unattached(self, provider_message_ids: Iterable[str]) -> list[StoredStatus]:
        """Stored statuses of these messages that no job claimed yet, oldest first."""
        ids = list(set(provider_message_ids))
        if not ids:
            return []
        rows = self.connection.execute(
            select(
                status_events.c.provider,
                status_events.c.provider_message_id,
                status_events.c.status,
                status_events.c.occurred_at,
                status_events.c.error_code,
            )
            .where(status_events.c.provider_message_id.in_(ids), status_events.c.job_id.is_(None))
            .order_by(status_events.c.occurred_at)
        )
        return [
            StoredStatus(r.provider, r.provider_message_id, r.status, r.occurred_at, r.error_code)
            for r in rows
        ]

    def attach(self, owners: Mapping[str, int]) -> None:
        """Give unattached statuses of these provider messages their job id."""
        if not owners:
            return
        self.connection.execute(
            update(status_events)
            .where(
                status_events.c.provider_message_id.in_(list(owners)),
                status_events.c.job_id.is_(None),
            )
            .values(job_id=case(dict(owners), value=status_events.c.provider_message_id))
        )

    def unattached_with_known_job(self, received_since: datetime) -> list[str]:
        """Provider message ids received since then whose statuses wait for a job that now
        knows its provider id (the send/status race the reconcile sweep closes)."""
        rows = self.connection.execute(
            select(status_events.c.provider_message_id)
            .join(jobs, jobs.c.provider_message_id == status_events.c.provider_message_id)
            .where(status_events.c.job_id.is_(None), status_events.c.received_at >= received_since)
            .distinct()
        )
        return list(rows.scalars())
