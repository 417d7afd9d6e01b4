"""Due jobs are claimed once, re-checked for consent, and published; lost claims come back.

The dispatcher claims every due job in the database, so each test has a database of its own
(``isolated_mariadb``): what it claims cannot depend on what other tests left behind.
"""

from __future__ import annotations

import asyncio
import threading
from datetime import UTC, datetime, timedelta

from sqlalchemy import Engine, insert, select, update

from outreach.domain import Channel
from outreach.services.dispatch_due_jobs import DueJobDispatcher
from outreach.services.housekeeping import audit_expiring_consents, recover_stale_claims
from outreach.services.ingest_statuses import reconcile_unattached_statuses
from outreach.sql.job_repository import JobRepository
from outreach.sql.models import CommAuditLog, CommJob
from outreach.sql.store import Store
from tests.factories import (
    consenting_prefs_row,
    insert_rows,
    job_row,
    new_tag,
    opt_out,
    patient_row,
)


def claim_due_jobs(engine: Engine, now: datetime, limit: int, claimer: str) -> list:
    with Store(engine).transaction() as repos:
        return repos.jobs.claim_due(now, limit, claimer)


NOW = datetime(2026, 3, 2, 15, 0, tzinfo=UTC)
jobs = CommJob.__table__


def seed(
    engine: Engine,
    count: int,
    *,
    purpose: str = "appt_reminder",
    consent_expires: datetime | None = None,
) -> str:
    """``count`` consenting patients, each with one SMS job due a minute ago."""
    tag = new_tag("d")
    ids = [f"{tag}-{n}" for n in range(count)]
    expires = {"consent_expires_at": consent_expires} if consent_expires else {}
    insert_rows(
        engine,
        patients=[patient_row(i) for i in ids],
        prefs=[consenting_prefs_row(i, NOW, **expires) for i in ids],
        jobs=[
            job_row(f"{tag}:{n}", i, NOW, purpose=purpose, scheduled_for=NOW - timedelta(minutes=1))
            for n, i in enumerate(ids)
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


def test_a_stop_recorded_after_planning_suppresses_at_send_time(isolated_mariadb) -> None:
    tag = seed(isolated_mariadb, 2)
    opt_out(isolated_mariadb, f"{tag}-0", Channel.SMS)  # the patient texted STOP after planning
    publish = Recorder()
    dispatcher = DueJobDispatcher(Store(isolated_mariadb), publish, claimer="t", clock=lambda: NOW)
    asyncio.run(dispatcher.run_once())
    assert statuses(isolated_mariadb, tag) == [("suppressed", "opted_out"), ("processing", None)]
    assert all(topic == "outreach.send.sms" for topic, _, _ in publish.records)


def test_expired_consent_is_caught_at_send_time(isolated_mariadb) -> None:
    tag = seed(isolated_mariadb, 1, consent_expires=NOW - timedelta(days=1))
    dispatcher = DueJobDispatcher(
        Store(isolated_mariadb), Recorder(), claimer="t", clock=lambda: NOW
    )
    asyncio.run(dispatcher.run_once())
    assert statuses(isolated_mariadb, tag) == [("suppressed", "consent_expired")]


def test_concurrent_dispatchers_claim_each_job_once(isolated_mariadb) -> None:
    tag = seed(isolated_mariadb, 300)
    publish = Recorder()

    def run(name: str) -> None:
        dispatcher = DueJobDispatcher(
            Store(isolated_mariadb), publish, claimer=name, batch_size=40, clock=lambda: NOW
        )
        for _ in range(10):
            asyncio.run(dispatcher.run_once())

    threads = [threading.Thread(target=run, args=(f"s{n}",)) for n in range(3)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    job_ids = [r[2] for r in publish.records]
    assert len(job_ids) == 300 and len(set(job_ids)) == 300  # each job published once
    assert all(key.decode().startswith(tag) for _, key, _ in publish.records)
    with isolated_mariadb.connect() as connection:
        claims = connection.execute(select(jobs.c.status, jobs.c.claimed_by)).all()
    assert {status for status, _ in claims} == {"processing"}
    assert len({claimer for _, claimer in claims}) >= 2  # shared, not serialised behind one


def test_a_lost_send_request_is_requeued_and_a_lost_send_is_failed(isolated_mariadb) -> None:
    tag = seed(isolated_mariadb, 2)
    claimed = claim_due_jobs(isolated_mariadb, NOW, 1000, "t")
    mine = sorted(c.job_id for c in claimed)
    assert len(mine) == 2 and all(c.patient_id.startswith(tag) for c in claimed)
    with isolated_mariadb.begin() as connection:
        taken = JobRepository(connection).take_sends([(mine[1], 1)])
    assert taken == {mine[1]}
    later = NOW + timedelta(hours=1)
    recover_stale_claims(
        Store(isolated_mariadb),
        later,
        stale_after=timedelta(minutes=5),
        lost_after=timedelta(minutes=30),
    )
    with isolated_mariadb.connect() as connection:
        rows = dict(
            connection.execute(select(jobs.c.id, jobs.c.status).where(jobs.c.id.in_(mine))).all()
        )
    # Never taken: back to queued. Taken by a worker that went silent: failed, not resent.
    assert rows == {mine[0]: "queued", mine[1]: "failed"}


def test_a_redelivered_send_request_takes_nothing(isolated_mariadb) -> None:
    seed(isolated_mariadb, 1)
    [claimed] = claim_due_jobs(isolated_mariadb, NOW, 1000, "t")
    request = (claimed.job_id, claimed.attempt)
    with isolated_mariadb.begin() as connection:
        assert JobRepository(connection).take_sends([request]) == {request[0]}
    with isolated_mariadb.begin() as connection:
        assert JobRepository(connection).take_sends([request]) == set()


def test_consent_expiry_audit_flags_once(isolated_mariadb) -> None:
    tag = seed(isolated_mariadb, 1, consent_expires=NOW + timedelta(days=10))
    audit = CommAuditLog.__table__
    audit_expiring_consents(Store(isolated_mariadb), NOW, warning=timedelta(days=30))
    audit_expiring_consents(
        Store(isolated_mariadb), NOW + timedelta(days=1), warning=timedelta(days=30)
    )
    with isolated_mariadb.connect() as connection:
        flagged = connection.execute(select(audit.c.patient_id, audit.c.action)).all()
    assert [tuple(row) for row in flagged] == [(f"{tag}-0", "consent_expiring")]


def test_the_reconcile_sweep_applies_statuses_that_raced_the_send(isolated_mariadb) -> None:
    """A status stored while its job was still being marked sent is applied by the sweep."""
    from outreach.sql.models import CommStatusEvent

    tag = seed(isolated_mariadb, 1)
    [claimed] = claim_due_jobs(isolated_mariadb, NOW, 1000, "t")
    message = f"SMrace{tag}"
    with isolated_mariadb.begin() as connection:
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
            .where(jobs.c.id == claimed.job_id)
            .values(status="sent", provider_message_id=message)
        )
    reconcile_unattached_statuses(Store(isolated_mariadb), NOW, timedelta(hours=1))
    assert statuses(isolated_mariadb, tag) == [("delivered", None)]
