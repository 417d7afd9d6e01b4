"""Fixtures for the inbound-reply edge: the migrated MariaDB, the provider simulator with the
real channel workers pointed at it, and builders for the rows a reply meets (clinic, patient,
jobs) and the envelopes the webhooks publish.

Each test makes its own clinic, patients and addresses, so tests share the database and the
simulator without seeing each other's rows or messages.
"""

from __future__ import annotations

import random
import uuid
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import pytest
from sqlalchemy import Engine, insert, select

from outreach.channels import ChannelWorker, load_channels
from outreach.clock import system_clock
from outreach.config import Settings
from outreach.domain import Channel, JobStatus, Purpose
from outreach.events import InboundEnvelope
from outreach.preferences.addresses import normalise_phone
from outreach.replies.inbound_handler import ReplyHandler
from outreach.sim.provider import SimConfig, SimServerThread
from outreach.sim.provider.recorder import WebhookRecorder
from outreach.sql.models import (
    CommAuditLog,
    CommInbound,
    CommJob,
    OrgCommPrefs,
    Patient,
    PatientCommPrefs,
)

BOOKING_URL = "https://portal.clinic.example/book"
CLINIC_BOOKING_URL = "https://book.sunrise.example/new"
MATCH_WINDOW = timedelta(hours=72)

jobs = CommJob.__table__
prefs = PatientCommPrefs.__table__
inbound = CommInbound.__table__
audit = CommAuditLog.__table__


@pytest.fixture(scope="session")
def recorder() -> Iterator[WebhookRecorder]:
    with WebhookRecorder(keep=False) as running:
        yield running


@pytest.fixture(scope="session")
def sim(recorder: WebhookRecorder) -> Iterator[SimServerThread]:
    config = SimConfig(
        webhook_base_url=recorder.base_url,
        callback_delay_ms=5,
        callback_retry_backoff_ms=20,
        seed=7,
    )
    with SimServerThread(config) as running:
        yield running


@pytest.fixture(scope="session")
def settings(sim: SimServerThread, recorder: WebhookRecorder) -> Settings:
    return sim.channel_settings(public_base_url=recorder.base_url)


@pytest.fixture(scope="session")
def channels(settings: Settings) -> Iterator[dict[str, ChannelWorker]]:
    workers = load_channels(settings)
    yield workers
    for worker in workers.values():
        worker.close()


@pytest.fixture(scope="session")
def send_pool() -> Iterator[ThreadPoolExecutor]:
    pool = ThreadPoolExecutor(max_workers=8, thread_name_prefix="test-reply-send")
    yield pool
    pool.shutdown(wait=True)


@pytest.fixture
def sim_client(sim: SimServerThread) -> Iterator[httpx.Client]:
    with sim.client() as client:
        yield client


@pytest.fixture
def handler(
    mariadb_engine: Engine, channels: dict[str, ChannelWorker], send_pool: ThreadPoolExecutor
) -> ReplyHandler:
    return ReplyHandler(
        mariadb_engine,
        channels,
        clock=system_clock,
        match_window=MATCH_WINDOW,
        booking_url=BOOKING_URL,
        send_pool=send_pool,
    )


def new_phone() -> str:
    """A valid, unused US number (E.164)."""
    while True:
        candidate = f"+1415{random.randint(2_000_000, 9_999_999)}"
        if normalise_phone(candidate) == candidate:
            return candidate


def new_id(prefix: str) -> str:
    return f"{prefix}-{uuid.uuid4().hex[:12]}"


@dataclass
class Clinic:
    """One organisation and the rows a test creates under it."""

    engine: Engine
    org_id: str
    name: str = "Sunrise Clinic"
    phone: str = "+14155550100"

    def patient(
        self,
        *,
        phone: str | None = None,
        email: str | None = None,
        whatsapp: str | None = None,
        language: str | None = "en",
        opted_out: tuple[Channel, ...] = (),
    ) -> str:
        patient_id = new_id("pat")
        with self.engine.begin() as connection:
            connection.execute(insert(Patient.__table__).values(id=patient_id, org_id=self.org_id))
            connection.execute(
                insert(prefs).values(
                    patient_id=patient_id,
                    phone=phone,
                    email=email,
                    whatsapp=whatsapp,
                    language=language,
                    contact_consent=True,
                    consent_granted_at=datetime.now(UTC) - timedelta(days=30),
                    whatsapp_opt_in=whatsapp is not None,
                    **{f"opted_out_{c.value}": c in opted_out for c in Channel},
                )
            )
        return patient_id

    def job(
        self,
        patient_id: str,
        *,
        channel: Channel = Channel.SMS,
        purpose: Purpose = Purpose.APPT_REMINDER,
        status: JobStatus = JobStatus.SENT,
        sent_ago: timedelta | None = timedelta(hours=1),
        appointment_id: str | None = None,
    ) -> int:
        now = datetime.now(UTC)
        sent_at = now - sent_ago if sent_ago is not None and status != JobStatus.QUEUED else None
        with self.engine.begin() as connection:
            result = connection.execute(
                insert(jobs).values(
                    idempotency_key=new_id("idem"),
                    org_id=self.org_id,
                    patient_id=patient_id,
                    appointment_id=appointment_id,
                    purpose=purpose.value,
                    channel=channel.value,
                    status=status.value,
                    requested_at=now - timedelta(days=2),
                    scheduled_for=sent_at or now + timedelta(hours=6),
                    sent_at=sent_at,
                    context={},
                )
            )
            return int(result.inserted_primary_key[0])


@pytest.fixture
def clinic(mariadb_engine: Engine) -> Clinic:
    org_id = new_id("org")
    with mariadb_engine.begin() as connection:
        connection.execute(
            insert(OrgCommPrefs.__table__).values(
                org_id=org_id,
                name="Sunrise Clinic",
                clinic_phone="+14155550100",
                booking_url=CLINIC_BOOKING_URL,
                language="en",
            )
        )
    return Clinic(mariadb_engine, org_id)


def envelope(
    from_: str,
    body: str,
    *,
    channel: Channel = Channel.SMS,
    message_id: str | None = None,
    received_at: datetime | None = None,
    provider: str | None = None,
) -> InboundEnvelope:
    default_provider = {
        Channel.SMS: "twilio",
        Channel.WHATSAPP: "whatsapp",
        Channel.EMAIL: "sendgrid",
    }[channel]
    return InboundEnvelope(
        provider=provider or default_provider,
        channel=channel,
        from_=from_,
        to="+14155550100" if channel is not Channel.EMAIL else "replies@clinic.example",
        body=body,
        received_at=received_at or datetime.now(UTC),
        provider_message_id=message_id or new_id("SM"),
    )


def job_row(engine: Engine, job_id: int) -> dict[str, Any]:
    with engine.connect() as connection:
        return dict(connection.execute(select(jobs).where(jobs.c.id == job_id)).mappings().one())


def prefs_row(engine: Engine, patient_id: str) -> dict[str, Any]:
    with engine.connect() as connection:
        return dict(
            connection.execute(select(prefs).where(prefs.c.patient_id == patient_id))
            .mappings()
            .one()
        )


def inbound_rows(engine: Engine, provider_message_id: str) -> list[dict[str, Any]]:
    with engine.connect() as connection:
        return [
            dict(r)
            for r in connection.execute(
                select(inbound).where(inbound.c.provider_message_id == provider_message_id)
            ).mappings()
        ]


def audit_actions(engine: Engine, patient_id: str) -> list[str]:
    with engine.connect() as connection:
        return list(
            connection.execute(
                select(audit.c.action).where(audit.c.patient_id == patient_id).order_by(audit.c.id)
            ).scalars()
        )


def sent_to(sim_client: httpx.Client, address: str, channel: Channel = Channel.SMS) -> list[dict]:
    """What the simulated provider accepted for ``address`` (the patient's phone or mailbox)."""
    response = sim_client.get("/_sim/messages", params={"to": address, "channel": channel.value})
    response.raise_for_status()
    return response.json()
