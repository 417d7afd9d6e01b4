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
from outreach.services.housekeeping import audit_expiring_consents, recover_stopped_work
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


class Ledger:
    """The send ledger as recovery reads it: which (job, attempt) started, and when."""

    def __init__(self, started: dict[tuple[int, int], datetime], *, shared: bool = True):
        self.started = started
        self.shared = shared

    def started_at(self, sends):
        return {send: self.started[send] for send in sends if send in self.started}


def recovery_setup(engine) -> dict[str, int]:
    """Four claimed jobs: one never taken, three taken (by a live worker, and by a stopped
    worker: one started, one not)."""
    tag = seed(engine, 4)
    claimed = sorted(c.job_id for c in claim_due_jobs(engine, NOW, 1000, "scheduler-gone"))
    assert len(claimed) == 4 and tag
    names = ["never_taken", "live_worker", "started", "never_started"]
    ids = dict(zip(names, claimed, strict=True))
    with Store(engine).transaction() as repos:
        repos.jobs.take_sends([(ids["live_worker"], 1)], "worker-alive", NOW)
        repos.jobs.take_sends([(ids["started"], 1), (ids["never_started"], 1)], "worker-gone", NOW)
        repos.heartbeats.beat("worker-alive", "worker", NOW + timedelta(minutes=1))
    return ids


def test_what_stopped_processes_held_goes_back_at_once_never_twice(isolated_mariadb) -> None:
    """A scheduler killed between claim and publish, a worker killed mid-send: the claims and
    the sends that never started go back to the queue at once; one that started is marked
    unconfirmed (the next attempt asks the provider); a live worker's send is left alone."""
    ids = recovery_setup(isolated_mariadb)
    started_at = NOW + timedelta(seconds=1)
    later = NOW + timedelta(minutes=1)
    recovery = recover_stopped_work(
        Store(isolated_mariadb),
        Ledger({(ids["started"], 1): started_at}),
        later,
        real_now=later,
        dead_after=timedelta(seconds=15),
        stale_after=timedelta(minutes=5),
    )
    with isolated_mariadb.connect() as connection:
        rows = {
            r.id: (r.status, r.unconfirmed_since)
            for r in connection.execute(
                select(jobs.c.id, jobs.c.status, jobs.c.unconfirmed_since).where(
                    jobs.c.id.in_(ids.values())
                )
            )
        }
    assert rows[ids["never_taken"]] == ("queued", None)
    assert rows[ids["never_started"]] == ("queued", None)
    assert rows[ids["started"]] == ("queued", started_at)
    assert rows[ids["live_worker"]] == ("processing", None)
    assert (recovery.requeued_claims, recovery.never_started, recovery.unconfirmed) == (1, 1, 1)


def test_without_a_shared_ledger_every_stopped_send_asks_the_provider(isolated_mariadb) -> None:
    ids = recovery_setup(isolated_mariadb)
    later = NOW + timedelta(minutes=1)
    recover_stopped_work(
        Store(isolated_mariadb),
        Ledger({}, shared=False),
        later,
        real_now=later,
        dead_after=timedelta(seconds=15),
        stale_after=timedelta(minutes=5),
    )
    with isolated_mariadb.connect() as connection:
        unconfirmed = dict(
            connection.execute(
                select(jobs.c.id, jobs.c.unconfirmed_since).where(
                    jobs.c.id.in_([ids["started"], ids["never_started"]])
                )
            ).all()
        )
    assert set(unconfirmed.values()) == {NOW}  # since it was taken: nobody can tell more


def test_a_redelivered_send_request_takes_nothing(isolated_mariadb) -> None:
    seed(isolated_mariadb, 1)
    [claimed] = claim_due_jobs(isolated_mariadb, NOW, 1000, "t")
    request = (claimed.job_id, claimed.attempt)
    with isolated_mariadb.begin() as connection:
        assert JobRepository(connection).take_sends([request], "w", NOW) == {request[0]}
    with isolated_mariadb.begin() as connection:
        assert JobRepository(connection).take_sends([request], "w", NOW) == set()


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
