"""``appointments``: the facts the appointment events leave, written with the batch that saw them.

Rows in, typed values out. Which event wins is decided in the statement itself (the newest by
``occurred_at``, then event id), so a batch can be written in one round trip whatever the order
its events, or older ones replayed later, arrive in.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import Connection, select

from outreach.domain import AppointmentFact, AppointmentStatus
from outreach.sql.bulk import upsert_newest
from outreach.sql.models import Appointment

appointments = Appointment.__table__


@dataclass(frozen=True, slots=True)
class StoredAppointment:
    """An ``appointments`` row: where the appointment stands, and the event that said so."""

    appointment_id: str
    org_id: str
    patient_id: str
    provider_id: str | None
    starts_at: datetime | None
    status: AppointmentStatus
    last_event_id: str
    last_event_type: str
    last_event_at: datetime


class AppointmentRepository:
    def __init__(self, connection: Connection) -> None:
        self.connection = connection

    def record(self, facts: Sequence[AppointmentFact], now: datetime) -> None:
        """Apply the facts of a batch in one statement; a fact older than the stored one (or
        the same one again) changes nothing. The patients must exist."""
        rows = [
            {
                "appointment_id": fact.appointment_id,
                "org_id": fact.org_id,
                "patient_id": fact.patient_id,
                "provider_id": fact.provider_id,
                "starts_at": fact.starts_at,
                "status": fact.status.value,
                "last_event_type": fact.event_type,
                "updated_at": now,
                "last_event_at": fact.occurred_at,
                "last_event_id": fact.event_id,
            }
            for fact in facts
        ]
        upsert_newest(
            self.connection,
            appointments,
            rows,
            key_columns=["appointment_id"],
            order_columns=["last_event_at", "last_event_id"],
            keep_when_null=["starts_at", "provider_id"],
        )

    def of_patients(self, patient_ids: Iterable[str]) -> dict[str, list[StoredAppointment]]:
        """Every stored appointment of each patient (patients without any are left out)."""
        ids = list(set(patient_ids))
        if not ids:
            return {}
        rows = self.connection.execute(
            select(appointments).where(appointments.c.patient_id.in_(ids))
        ).mappings()
        found: dict[str, list[StoredAppointment]] = {}
        for row in rows:
            found.setdefault(row["patient_id"], []).append(
                StoredAppointment(
                    appointment_id=row["appointment_id"],
                    org_id=row["org_id"],
                    patient_id=row["patient_id"],
                    provider_id=row["provider_id"],
                    starts_at=row["starts_at"],
                    status=AppointmentStatus(row["status"]),
                    last_event_id=row["last_event_id"],
                    last_event_type=row["last_event_type"],
                    last_event_at=row["last_event_at"],
                )
            )
        return found
