"""The channel worker's batch: render, send through the real SDK to the simulator, record;
retries, fallback after a permanent failure, and the send-time PHI guard."""

from __future__ import annotations

import uuid
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import Engine, insert, select

from outreach.events import SendRequest
from outreach.services.send_jobs import JobSender
from outreach.services.template_versions import seed_shipped_templates
from outreach.sql.models import CommAuditLog, CommJob, OrgCommPrefs, PatientCommPrefs
from outreach.sql.store import Store
from outreach.sql.template_repository import family_key
from outreach.wiring import message_builder
from tests.factories import consenting_prefs_row, insert_rows, job_row, patient_row

NOW = datetime.now(UTC)
jobs = CommJob.__table__


@pytest.fixture
def seeded(isolated_mariadb: Engine) -> Engine:
    """A database of the test's own with the shipped templates: the worker's claims and the
    assertions on them see only this test's jobs."""
    seed_shipped_templates(Store(isolated_mariadb))
    return isolated_mariadb


@pytest.fixture
def handler(seeded: Engine, channels, settings) -> JobSender:
    pool = ThreadPoolExecutor(8)
    yield JobSender(
        Store(seeded), channels, message_builder(settings, seeded), pool=pool, clock=lambda: NOW
    )
    pool.shutdown()


def claimed_job(
    engine: Engine,
    *,
    org_id: str = "org-send",
    purpose: str = "lab_ready",
    channel: str = "sms",
    email: str | None = None,
    context: dict | None = None,
) -> tuple[int, str, str]:
    """One consenting patient's job, claimed by the scheduler as attempt 1."""
    tag = uuid.uuid4().hex[:8]
    patient_id = f"w-{tag}"
    phone = f"+1212555{int(tag, 16) % 10000:04d}"
    [job_id] = insert_rows(
        engine,
        patients=[patient_row(patient_id, org_id=org_id, first_name="Ana")],
        prefs=[consenting_prefs_row(patient_id, NOW, phone=phone, email=email, timezone="UTC")],
        jobs=[
            job_row(
                patient_id,
                patient_id,
                NOW,
                org_id=org_id,
                purpose=purpose,
                channel=channel,
                language="en",
                context=context or {"result_id": "r1", "lab_test_name": "HIV test"},
            )
        ],
    )
    with Store(engine).transaction() as repos:
        [claimed] = repos.jobs.claim_due(NOW, 10_000, "t")
    assert (claimed.job_id, claimed.attempt) == (job_id, 1)
    return job_id, phone, patient_id


def row(engine: Engine, job_id: int) -> dict:
    with engine.connect() as connection:
        return dict(connection.execute(select(jobs).where(jobs.c.id == job_id)).mappings().one())


def test_a_job_is_rendered_sent_and_recorded_once(seeded, handler, sim_client) -> None:
    job_id, phone, _ = claimed_job(seeded)
    result = handler.handle([SendRequest(job_id=job_id, attempt=1)])
    again = handler.handle([SendRequest(job_id=job_id, attempt=1)])  # Kafka redelivery
    assert (result.sent, again.taken) == (1, 0)
    job = row(seeded, job_id)
    assert job["status"] == "sent" and job["provider_message_id"].startswith("SM")
    assert job["template_id"] is not None  # the version it rendered is on record
    messages = sim_client.get("/_sim/messages", params={"to": phone}).json()
    assert len(messages) == 1
    assert "HIV" not in messages[0]["body"] and "portal" in messages[0]["body"].lower()
    with seeded.connect() as connection:
        [audit] = connection.execute(
            select(CommAuditLog).where(CommAuditLog.action == "message_sent")
        ).all()
    assert (audit.actor, audit.patient_id, audit.org_id) == (
        "system:channels",
        job["patient_id"],
        job["org_id"],
    )
    assert audit.detail["job_id"] == job_id and phone not in str(audit.detail)


def test_a_transient_error_is_retried_later(seeded, handler, sim_client) -> None:
    job_id, phone, _ = claimed_job(seeded)
    sim_client.post("/_sim/config", json={"forced_errors_by_address": {phone: 20429}})
    result = handler.handle([SendRequest(job_id=job_id, attempt=1)])
    job = row(seeded, job_id)
    assert result.retried == 1 and job["status"] == "queued"
    assert NOW + timedelta(seconds=0.4) < job["scheduled_for"] <= NOW + timedelta(seconds=1)


def test_a_permanent_error_falls_back_to_the_next_channel(seeded, handler, sim_client) -> None:
    job_id, phone, patient_id = claimed_job(seeded, email="ana@example.com")
    sim_client.post("/_sim/config", json={"forced_errors_by_address": {phone: 21211}})
    result = handler.handle([SendRequest(job_id=job_id, attempt=1)])
    job = row(seeded, job_id)
    assert result.fell_back == 1 and (job["status"], job["channel"]) == ("queued", "email")
    prefs = PatientCommPrefs.__table__
    with seeded.connect() as connection:
        failed = connection.execute(
            select(prefs.c.failed_channels).where(prefs.c.patient_id == patient_id)
        ).scalar_one()
    assert failed == ["sms"]  # skipped next time


def test_a_phi_template_inserted_straight_into_the_database_sends_nothing(
    seeded, handler, sim_client
) -> None:
    """Defence in depth: save-time validation bypassed, the renderer still refuses."""
    from outreach.sql.models import CommTemplate

    org_id = f"org-{uuid.uuid4().hex[:6]}"
    with seeded.begin() as connection:
        connection.execute(insert(OrgCommPrefs.__table__).values(org_id=org_id, name="Clinic"))
        connection.execute(
            insert(CommTemplate.__table__).values(
                family_key=family_key(org_id, None, "lab_ready", "sms", "en", "A"),
                org_id=org_id,
                purpose="lab_ready",
                channel="sms",
                language="en",
                variant="A",
                version=1,
                body="Your {{ lab_test_name }} result is in: {{ portal_link }}",
                declared_variables=["lab_test_name", "portal_link"],
                is_active=True,
            )
        )
    job_id, phone, _ = claimed_job(seeded, org_id=org_id)
    result = handler.handle([SendRequest(job_id=job_id, attempt=1)])
    job = row(seeded, job_id)
    assert result.failed == 1 and job["status"] == "failed"
    assert "lab_test_name" in job["last_error"]
    assert sim_client.get("/_sim/messages", params={"to": phone}).json() == []
