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

    def first_reported_to(
        self, queries: Sequence[tuple[int, str, str, datetime]]
    ) -> dict[int, str]:
        """For (job id, provider, recipient address, since): the provider message id of an
        unattached status the provider reported to that recipient since then, if any.

        The reconciliation rule for a provider with no message lookup (WhatsApp): a send that
        may have gone out did, if the provider reported on a message to the same recipient after
        it started that no job owns. Each status answers one job at most.
        """
        if not queries:
            return {}
        rows = self.connection.execute(
            select(
                status_events.c.provider,
                status_events.c.provider_message_id,
                status_events.c.occurred_at,
                status_events.c.raw,
            )
            .where(
                status_events.c.job_id.is_(None),
                status_events.c.provider.in_(sorted({q[1] for q in queries})),
                status_events.c.occurred_at >= min(q[3] for q in queries),
            )
            .order_by(status_events.c.occurred_at)
        )
        candidates = [
            (r.provider, r.provider_message_id, r.occurred_at, _digits(_recipient(r.raw or {})))
            for r in rows
        ]
        taken: set[str] = set()
        found: dict[int, str] = {}
        for job_id, provider, address, since in queries:
            wanted = _digits(address)
            for cand_provider, message_id, at, recipient in candidates:
                if (
                    cand_provider == provider
                    and recipient == wanted
                    and at >= since
                    and message_id not in taken
                ):
                    found[job_id] = message_id
                    taken.add(message_id)
                    break
        return found

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


def _recipient(raw: Mapping[str, Any]) -> str:
    """The recipient a provider's raw status names (WhatsApp, Twilio, SendGrid spellings)."""
    for key in ("recipient_id", "To", "email", "to"):
        value = raw.get(key)
        if value:
            return str(value)
    return ""


def _digits(address: str) -> str:
    return address.lower() if "@" in address else "".join(c for c in address if c.isdigit())
