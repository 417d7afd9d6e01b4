"""A small clinic whose funnel is counted by hand: ten jobs of one organisation on one of its days,
their provider statuses (as the webhooks publish them), replies and appointment outcomes.

Every row is stamped on a simulated timeline (``at(minutes)``), as the pipeline's own clock
would stamp it, so the scheduler's sweep can be run between the steps. ``EXPECTED`` is the hand
count; the comments say which jobs make each number.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any

from sqlalchemy import Engine, insert, select, update

from outreach.events import StatusUpdate
from outreach.services.ingest_statuses import StatusIngestor
from outreach.sql.models import (
    Appointment,
    CommInbound,
    CommJob,
    CommStats,
    CommStatsBreakdown,
    OrgCommPrefs,
    Patient,
    comm_stats_latency,
)
from outreach.sql.store import Store

# 15:00 UTC is 10:00 in New York: every job falls on the organisation's 2 March.
START = datetime(2026, 3, 2, 15, 0, tzinfo=UTC)
ZONE = "America/New_York"


def at(minutes: float) -> datetime:
    return START + timedelta(minutes=minutes)


# The hand count of the ten jobs below.
EXPECTED = {
    "planned": 10,  # J1..J10
    "queued": 1,  # J9
    "suppressed": 1,  # J7
    "cancelled": 1,  # J8
    "sent": 7,  # J1 J2 J3 J4 J5 J6 J10
    "delivered": 4,  # J1 J3 J5 J6 (J6 only through its delivered report; J5 read)
    "opened": 2,  # J3 (click implies open) J5 (WhatsApp read)
    "clicked": 1,  # J3
    "replied": 3,  # J1 J5 J6
    "confirmed": 2,  # J1 J6
    "attended": 1,  # J1
    "no_show": 1,  # J6
    "failed": 1,  # J2 (undelivered)
    "bounced": 1,  # J4
    "unsubscribed": 1,  # J5 (replied STOP)
    "priced": 2,  # J1 J2 (Twilio's Price)
}
EXPECTED_COST_MICROS = 15_800  # 2 x 0.0079 USD
EXPECTED_BREAKDOWNS = {
    ("suppression_reason", "no_consent"): 1,
    ("reply_intent", "confirm"): 2,
    ("reply_intent", "stop"): 1,
}


@dataclass
class FunnelClinic:
    """The ten jobs, their message ids, and the statuses still to ingest (in batches)."""

    engine: Engine
    org_id: str
    jobs: dict[str, int] = field(default_factory=dict)
    messages: dict[str, str] = field(default_factory=dict)
    appointments: dict[str, str] = field(default_factory=dict)

    def status(
        self, job: str, status: str, minutes: float, price: str | None = None
    ) -> StatusUpdate:
        provider = {"J3": "sendgrid", "J4": "sendgrid", "J5": "whatsapp"}.get(job, "twilio")
        return StatusUpdate(
            provider=provider,
            provider_message_id=self.messages[job],
            status=status,
            occurred_at=at(minutes),
            price=Decimal(price) if price else None,
            price_unit="USD" if price else None,
        )

    def status_batches(self) -> list[list[StatusUpdate]]:
        """What the providers report, in the order they report it, in three webhook batches."""
        return [
            [
                self.status("J1", "sent", 1),
                self.status("J2", "sent", 1),
                self.status("J3", "sent", 1),
                self.status("J4", "sent", 1),
                self.status("J5", "sent", 1),
            ],
            [
                self.status("J1", "delivered", 2, price="0.0079"),
                self.status("J2", "failed", 2, price="0.0079"),
                self.status("J3", "delivered", 2),
                self.status("J4", "bounced", 2),
                self.status("J5", "delivered", 2),
                self.status("J6", "delivered", 3),
            ],
            [
                self.status("J3", "opened", 20),
                self.status("J3", "clicked", 50),
                self.status("J5", "opened", 30),
            ],
        ]

    def reply(self, job: str, intent: str, minutes: float, handled: datetime) -> None:
        with self.engine.begin() as connection:
            connection.execute(
                insert(CommInbound.__table__).values(
                    provider="twilio",
                    provider_message_id=f"IN{uuid.uuid4().hex}",
                    channel="sms",
                    from_address="+14155550000",
                    body="(test)",
                    received_at=at(minutes),
                    job_id=self.jobs[job],
                    intent=intent,
                    handled_at=handled,
                )
            )

    def visit(self, job: str, status: str, minutes: float, stamped: datetime) -> None:
        with self.engine.begin() as connection:
            connection.execute(
                update(Appointment.__table__)
                .where(Appointment.__table__.c.appointment_id == self.appointments[job])
                .values(
                    status=status,
                    last_event_at=at(minutes),
                    last_event_id=uuid.uuid4().hex,
                    last_event_type=f"appointment.{status}",
                    updated_at=stamped,
                )
            )

    def replies_and_visits(self, stamped: Callable[[int], datetime]) -> None:
        """J1 confirms, J5 says STOP, J6 confirms; J1 comes, J6 does not."""
        self.reply("J1", "confirm", 10, stamped(0))
        self.reply("J5", "stop", 40, stamped(1))
        self.reply("J6", "confirm", 12, stamped(2))
        self.visit("J1", "attended", 24 * 60, stamped(3))
        self.visit("J6", "no_show", 24 * 60, stamped(4))


def build_funnel_clinic(engine: Engine) -> FunnelClinic:
    """The organisation, its patients and appointments, and jobs J1..J10 as planned at START."""
    org_id = f"org-{uuid.uuid4().hex[:10]}"
    clinic = FunnelClinic(engine, org_id)
    specs: Sequence[tuple[str, dict[str, Any]]] = (
        ("J1", {"channel": "sms", "status": "sent", "appointment": True}),
        ("J2", {"channel": "sms", "status": "sent"}),
        ("J3", {"channel": "email", "status": "sent", "purpose": "appt_reminder"}),
        ("J4", {"channel": "email", "status": "sent", "purpose": "appt_reminder"}),
        ("J5", {"channel": "whatsapp", "status": "sent"}),
        ("J6", {"channel": "sms", "status": "sent", "appointment": True}),
        (
            "J7",
            {"channel": None, "status": "suppressed", "suppression_reason": "no_consent"},
        ),
        ("J8", {"channel": "sms", "status": "cancelled"}),
        ("J9", {"channel": "sms", "status": "queued"}),
        ("J10", {"channel": "sms", "status": "sent"}),
    )
    with engine.begin() as connection:
        connection.execute(
            insert(OrgCommPrefs.__table__).values(
                org_id=org_id, name="Funnel Clinic", timezone=ZONE
            )
        )
        for name, spec in specs:
            patient_id = f"{org_id}-{name}"
            connection.execute(insert(Patient.__table__).values(id=patient_id, org_id=org_id))
            appointment_id = None
            if spec.get("appointment"):
                appointment_id = f"appt-{patient_id}"
                connection.execute(
                    insert(Appointment.__table__).values(
                        appointment_id=appointment_id,
                        org_id=org_id,
                        patient_id=patient_id,
                        starts_at=at(24 * 60),
                        status="booked",
                        last_event_id=uuid.uuid4().hex,
                        last_event_type="appointment.booked",
                        last_event_at=START - timedelta(hours=1),
                        updated_at=START,
                    )
                )
                clinic.appointments[name] = appointment_id
            sent = spec["status"] == "sent"
            message_id = f"MSG{uuid.uuid4().hex[:16]}" if sent else None
            result = connection.execute(
                insert(CommJob.__table__).values(
                    idempotency_key=f"{patient_id}:{name}",
                    org_id=org_id,
                    patient_id=patient_id,
                    appointment_id=appointment_id,
                    purpose=spec.get("purpose", "appt_confirm"),
                    channel=spec["channel"],
                    status=spec["status"],
                    suppression_reason=spec.get("suppression_reason"),
                    requested_at=START,
                    scheduled_for=START,
                    sent_at=START if sent else None,
                    provider_message_id=message_id,
                    attempt=1 if sent else 0,
                    context={},
                    created_at=START,
                    updated_at=START,
                )
            )
            clinic.jobs[name] = int(result.inserted_primary_key[0])
            if message_id:
                clinic.messages[name] = message_id
    return clinic


def ingest(clinic: FunnelClinic, batch: Sequence[StatusUpdate], now: datetime) -> None:
    StatusIngestor(Store(clinic.engine), clock=lambda: now).handle(batch)


def rollup_snapshot(engine: Engine) -> dict[str, list[tuple[Any, ...]]]:
    """Every rollup row, without ids, sorted: what must be equal whichever path wrote it."""
    snapshot = {}
    for table in (CommStats.__table__, CommStatsBreakdown.__table__, comm_stats_latency):
        columns = [c for c in table.columns if c.name != "id"]
        with engine.connect() as connection:
            rows = connection.execute(select(*columns)).all()
        snapshot[table.name] = sorted(tuple(row) for row in rows)
    return snapshot


def stats_totals(engine: Engine, org_id: str) -> dict[str, int]:
    stats = CommStats.__table__
    with engine.connect() as connection:
        rows = connection.execute(select(stats).where(stats.c.org_id == org_id)).mappings().all()
    return {column: sum(int(row[column]) for row in rows) for column in EXPECTED} | {
        "cost_micros": sum(int(row["cost_micros"]) for row in rows)
    }
