"""Due jobs are claimed once, re-checked for consent, and published; lost claims come back."""

from __future__ import annotations

import asyncio
import threading
import uuid
from datetime import UTC, datetime, timedelta

from sqlalchemy import Engine, insert, select, update

from outreach.services.dispatch_due_jobs import DueJobDispatcher
from outreach.services.housekeeping import audit_expiring_consents, recover_stale_claims
from outreach.services.ingest_statuses import reconcile_unattached_statuses
from outreach.sql.models import CommAuditLog, CommJob, Patient, PatientCommPrefs
from outreach.sql.store import Store

NOW = datetime(2026, 3, 2, 15, 0, tzinfo=UTC)
jobs = CommJob.__table__


def seed(
    engine: Engine,
    count: int,
    *,
    purpose: str = "appt_reminder",
    consent_expires: datetime | None = None,
) -> str:
    tag = f"d{uuid.uuid4().hex[:8]}"
    with engine.begin() as connection:
        connection.execute(
            insert(Patient.__table__), [{"id": f"{tag}-{n}", "org_id": "org"} for n in range(count)]
        )
        connection.execute(
            insert(PatientCommPrefs.__table__),
            [
                {
                    "patient_id": f"{tag}-{n}",
                    "phone": "+12125550147",
                    "contact_consent": True,
                    "consent_granted_at": NOW - timedelta(days=30),
                    "consent_expires_at": consent_expires or NOW + timedelta(days=600),
                    "marketing_opt_in_email": False,
                    "marketing_opt_in_sms": False,
                    "marketing_opt_in_whatsapp": False,
                    "whatsapp_opt_in": False,
                    "opted_out_email": False,
                    "opted_out_sms": False,
                    "opted_out_whatsapp": False,
                }
                for n in range(count)
            ],
        )
        connection.execute(
            insert(jobs),
            [
                {
                    "idempotency_key": f"{tag}:{n}",
                    "org_id": "org",
                    "patient_id": f"{tag}-{n}",
                    "purpose": purpose,
                    "channel": "sms",
                    "status": "queued",
                    "requested_at": NOW,
                    "scheduled_for": NOW - timedelta(minutes=1),
                    "attempt": 0,
                    "context": {},
                }
                for n in range(count)
            ],
        )
    return tag


def statuses(engine: Engine, tag: str) -> list[tuple[str, str | None]]:
    with engine.connect() as connection:
        return [
            tuple(r)
            for r in connection.execute(
                select(jobs.c.status, jobs.c.suppression_reason)
                .where(jobs.c.patient_id.like(f"{tag}-%"))
                .order_by(jobs.c.id)
            )
        ]


class Recorder:
    def __init__(self) -> None:
        self.records: list[tuple[str, bytes | None, bytes]] = []
        self.lock = threading.Lock()

    async def __call__(self, records: list[tuple[str, bytes | None, bytes]]) -> None:
        with self.lock:
            self.records.extend(records)


def test_a_stop_recorded_after_planning_suppresses_at_send_time(mariadb_engine) -> None:
    tag = seed(mariadb_engine, 2)
    with mariadb_engine.begin() as connection:  # the patient texted STOP after planning
        connection.execute(
            update(PatientCommPrefs.__table__)
            .where(PatientCommPrefs.__table__.c.patient_id == f"{tag}-0")
            .values(opted_out_sms=True)
        )
    publish = Recorder()
    dispatcher = DueJobDispatcher(Store(mariadb_engine), publish, claimer="t", clock=lambda: NOW)
    asyncio.run(dispatcher.run_once())
    assert statuses(mariadb_engine, tag) == [("suppressed", "opted_out"), ("processing", None)]
    assert all(topic == "outreach.send.sms" for topic, _, _ in publish.records)


def test_expired_consent_is_caught_at_send_time(mariadb_engine) -> None:
    tag = seed(mariadb_engine, 1, consent_expires=NOW - timedelta(days=1))
    dispatcher = DueJobDispatcher(Store(mariadb_engine), Recorder(), claimer="t", clock=lambda: NOW)
    asyncio.run(dispatcher.run_once())
    assert statuses(mariadb_engine, tag) == [("suppressed", "consent_expired")]


def test_concurrent_dispatchers_claim_each_job_once(mariadb_engine) -> None:
    tag = seed(mariadb_engine, 300)
    publish = Recorder()

    def run(name: str) -> None:
        dispatcher = DueJobDispatcher(
            Store(mariadb_engine), publish, claimer=name, batch_size=40, clock=lambda: NOW
        )
        for _ in range(10):
            asyncio.run(dispatcher.run_once())

    threads = [threading.Thread(target=run, args=(f"s{n}",)) for n in range(3)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    ours = [r for r in publish.records if r[1].decode().startswith(tag)]
    job_ids = [r[2] for r in ours]
    assert len(job_ids) == 300 and len(set(job_ids)) == 300
    with mariadb_engine.connect() as connection:
        claimers = set(
            connection.execute(
                select(jobs.c.claimed_by).where(jobs.c.patient_id.like(f"{tag}-%"))
            ).scalars()
        )
    assert len(claimers) >= 2  # the work was shared, not serialised behind one claimer


def test_a_lost_send_request_is_requeued_and_a_lost_send_is_failed(mariadb_engine) -> None:
    tag = seed(mariadb_engine, 2)
    store = Store(mariadb_engine)
    with store.transaction() as repos:
        claimed = repos.jobs.claim_due(NOW, 1000, "t")
    mine = sorted(c.job_id for c in claimed if c.patient_id.startswith(tag))
    with store.transaction() as repos:
        taken = repos.jobs.take_sends([(mine[1], 1)])
    assert taken == {mine[1]}
    later = NOW + timedelta(hours=1)
    recover_stale_claims(
        store, later, stale_after=timedelta(minutes=5), lost_after=timedelta(minutes=30)
    )
    with mariadb_engine.connect() as connection:
        rows = dict(
            connection.execute(select(jobs.c.id, jobs.c.status).where(jobs.c.id.in_(mine))).all()
        )
    # Never taken: back to queued. Taken by a worker that went silent: failed, not resent.
    assert rows == {mine[0]: "queued", mine[1]: "failed"}


def test_a_redelivered_send_request_takes_nothing(mariadb_engine) -> None:
    tag = seed(mariadb_engine, 1)
    store = Store(mariadb_engine)
    with store.transaction() as repos:
        claimed = [c for c in repos.jobs.claim_due(NOW, 1000, "t") if c.patient_id.startswith(tag)]
    request = (claimed[0].job_id, claimed[0].attempt)
    with store.transaction() as repos:
        assert repos.jobs.take_sends([request]) == {request[0]}
    with store.transaction() as repos:
        assert repos.jobs.take_sends([request]) == set()


def test_consent_expiry_audit_flags_once(mariadb_engine) -> None:
    tag = seed(mariadb_engine, 1, consent_expires=NOW + timedelta(days=10))
    audit = CommAuditLog.__table__
    store = Store(mariadb_engine)
    audit_expiring_consents(store, NOW, warning=timedelta(days=30))
    audit_expiring_consents(store, NOW + timedelta(days=1), warning=timedelta(days=30))
    with mariadb_engine.connect() as connection:
        flagged = (
            connection.execute(select(audit.c.action).where(audit.c.patient_id == f"{tag}-0"))
            .scalars()
            .all()
        )
    assert flagged == ["consent_expiring"]


def test_the_reconcile_sweep_applies_statuses_that_raced_the_send(mariadb_engine) -> None:
    """A status stored while its job was still being marked sent is applied by the sweep."""
    from outreach.sql.models import CommStatusEvent

    tag = seed(mariadb_engine, 1)
    with Store(mariadb_engine).transaction() as repos:
        claimed = [c for c in repos.jobs.claim_due(NOW, 1000, "t") if c.patient_id.startswith(tag)]
    message = f"SMrace{tag}"
    with mariadb_engine.begin() as connection:
        # The race: the status lands unattached, then the send is recorded without a replay.
        connection.execute(
            insert(CommStatusEvent.__table__).values(
                provider="twilio",
                provider_message_id=message,
                status="delivered",
                occurred_at=NOW,
                received_at=NOW,
                raw={},
            )
        )
        connection.execute(
            update(jobs)
            .where(jobs.c.id == claimed[0].job_id)
            .values(status="sent", provider_message_id=message)
        )
    reconcile_unattached_statuses(Store(mariadb_engine), NOW, timedelta(hours=1))
    assert statuses(mariadb_engine, tag) == [("delivered", None)]
