"""comm_jobs bookkeeping on MariaDB: exactly-once claims, the two sweeps for claims that went
quiet, and provider statuses applied forward only.

The claims and sweeps act on every row in the database, so each test has one of its own
(``isolated_mariadb``) and can assert on everything it sees.
"""

from __future__ import annotations

import random
import threading
from datetime import UTC, datetime, timedelta

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy import Engine, select
from tests.factories import insert_rows, job_row, new_tag, patient_row
from tests.job_lifecycle import ALLOWED, PROVIDER_REPORTED

from outreach.domain import JobStatus
from outreach.services.ingest_statuses import job_status_from_provider
from outreach.sql.job_repository import JobRepository, ReportedStatus, Requeue
from outreach.sql.models import CommJob
from outreach.sql.store import Store

NOW = datetime(2026, 3, 2, 15, 0, tzinfo=UTC)
jobs = CommJob.__table__


def add_jobs(engine: Engine, *specs: dict) -> list[int]:
    """One patient and a job per spec (``job_row`` overrides); returns the job ids in order."""
    tag = new_tag("j")
    return insert_rows(
        engine,
        patients=[patient_row(tag)],
        jobs=[job_row(f"{tag}:{n}", tag, NOW, **spec) for n, spec in enumerate(specs)],
    )


def rows(engine: Engine, job_ids: list[int]) -> list[dict]:
    with engine.connect() as connection:
        found = {
            row["id"]: dict(row)
            for row in connection.execute(select(jobs).where(jobs.c.id.in_(job_ids))).mappings()
        }
    return [found[job_id] for job_id in job_ids]


def status_of(engine: Engine, job_ids: list[int]) -> list[str]:
    return [row["status"] for row in rows(engine, job_ids)]


# claim_due_jobs


def test_a_claim_takes_only_due_queued_jobs(isolated_mariadb: Engine) -> None:
    due, due_earlier, *not_claimable = add_jobs(
        isolated_mariadb,
        {"scheduled_for": NOW},
        {"scheduled_for": NOW - timedelta(hours=1)},
        {"scheduled_for": NOW + timedelta(seconds=1)},  # not due yet
        {"status": "processing", "scheduled_for": NOW - timedelta(hours=1)},
        {"status": "sent", "scheduled_for": NOW - timedelta(hours=1)},
        {"status": "cancelled", "scheduled_for": NOW - timedelta(hours=1)},
        {"status": "suppressed", "scheduled_for": NOW - timedelta(hours=1)},
        {"status": "failed", "scheduled_for": NOW - timedelta(hours=1)},
        {"channel": None, "scheduled_for": NOW - timedelta(hours=1)},  # never decided
    )
    before = rows(isolated_mariadb, not_claimable)

    claimed = claim_due_jobs(isolated_mariadb, NOW, 100, "scheduler-a")

    assert sorted(c.job_id for c in claimed) == sorted([due, due_earlier])
    for row in rows(isolated_mariadb, [due, due_earlier]):
        assert (row["status"], row["claimed_by"], row["claimed_at"]) == (
            "processing",
            "scheduler-a",
            NOW,
        )
    assert rows(isolated_mariadb, not_claimable) == before  # untouched, to the column


def test_a_claim_bumps_the_attempt_each_time(isolated_mariadb: Engine) -> None:
    [job_id] = add_jobs(isolated_mariadb, {"attempt": 2})
    [first] = claim_due_jobs(isolated_mariadb, NOW, 10, "a")
    assert (first.job_id, first.attempt) == (job_id, 3)
    with isolated_mariadb.begin() as connection:  # a transient error: back to queued
        assert JobRepository(connection).requeue(job_id, NOW, NOW, Requeue(note="busy"))
    [second] = claim_due_jobs(isolated_mariadb, NOW, 10, "b")
    assert second.attempt == 4
    assert rows(isolated_mariadb, [job_id])[0]["attempt"] == 4


def test_a_claim_is_limited_and_takes_the_longest_waiting_first(isolated_mariadb: Engine) -> None:
    minutes = [5, 1, 4, 2, 3]
    ids = add_jobs(
        isolated_mariadb, *({"scheduled_for": NOW - timedelta(minutes=m)} for m in minutes)
    )
    by_wait = [job_id for _, job_id in sorted(zip(minutes, ids, strict=True), reverse=True)]
    first = claim_due_jobs(isolated_mariadb, NOW, 2, "a")
    assert sorted(c.job_id for c in first) == sorted(by_wait[:2])
    second = claim_due_jobs(isolated_mariadb, NOW, 2, "a")
    assert sorted(c.job_id for c in second) == sorted(by_wait[2:4])


def test_concurrent_claimers_take_disjoint_jobs_and_leave_none(isolated_mariadb: Engine) -> None:
    ids = add_jobs(isolated_mariadb, *({} for _ in range(240)))
    claims: dict[str, list[int]] = {}
    barrier = threading.Barrier(4)

    def claim(name: str) -> None:
        mine = claims.setdefault(name, [])
        barrier.wait()  # all four start together, so their claims really overlap in time
        while batch := claim_due_jobs(isolated_mariadb, NOW, 15, name):
            mine.extend(c.job_id for c in batch)

    threads = [threading.Thread(target=claim, args=(f"s{n}",)) for n in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()

    everything = [job_id for mine in claims.values() for job_id in mine]
    assert sorted(everything) == sorted(ids)  # every job once: none twice, none left
    owners = {job_id: name for name, mine in claims.items() for job_id in mine}
    for row in rows(isolated_mariadb, ids):
        assert (row["status"], row["claimed_by"], row["attempt"]) == (
            "processing",
            owners[row["id"]],
            1,
        )


# requeue_stale_claims and stopped_sends

STALE_BEFORE = NOW - timedelta(minutes=5)
LONG_AGO = NOW - timedelta(minutes=10)
RECENTLY = NOW - timedelta(minutes=1)
ALIVE = {"scheduler-alive", "worker-alive"}


def quiet_claims(engine: Engine) -> dict[str, int]:
    """Claimed jobs in every situation the two sweeps tell apart, by name."""
    claimed = {"claimed_by": "scheduler-alive"}
    names = [
        "never_taken",
        "taken_for_an_earlier_attempt",
        "taken_for_this_attempt",
        "never_taken_but_recent",
        "taken_recently",
        "claimed_by_a_stopped_scheduler",
        "queued",
        "sent",
    ]
    ids = add_jobs(
        engine,
        {"status": "processing", "attempt": 1, "claimed_at": LONG_AGO, **claimed},
        {
            "status": "processing",
            "attempt": 2,
            "sending_attempt": 1,
            "claimed_at": LONG_AGO,
            **claimed,
        },
        {
            "status": "processing",
            "attempt": 2,
            "sending_attempt": 2,
            "claimed_at": LONG_AGO,
            "taken_by": "worker-gone",
            "taken_at": LONG_AGO,
            **claimed,
        },
        {"status": "processing", "attempt": 1, "claimed_at": RECENTLY, **claimed},
        {
            "status": "processing",
            "attempt": 1,
            "sending_attempt": 1,
            "claimed_at": RECENTLY,
            "taken_by": "worker-alive",
            "taken_at": RECENTLY,
            **claimed,
        },
        {
            "status": "processing",
            "attempt": 1,
            "claimed_at": RECENTLY,
            "claimed_by": "scheduler-gone",
        },
        {"status": "queued", "scheduled_for": LONG_AGO},
        {"status": "sent", "attempt": 1, "sending_attempt": 1, "claimed_at": LONG_AGO},
    )
    return dict(zip(names, ids, strict=True))


def by_name(engine: Engine, jobs_by_name: dict[str, int]) -> dict[str, dict]:
    return dict(zip(jobs_by_name, rows(engine, list(jobs_by_name.values())), strict=True))


def test_requeue_returns_only_claims_no_worker_took(isolated_mariadb: Engine) -> None:
    jobs_by_name = quiet_claims(isolated_mariadb)
    with isolated_mariadb.begin() as connection:
        requeued = JobRepository(connection).requeue_stale_claims(STALE_BEFORE, NOW, alive=ALIVE)
    after = by_name(isolated_mariadb, jobs_by_name)

    assert requeued == 3
    for name in ("never_taken", "taken_for_an_earlier_attempt", "claimed_by_a_stopped_scheduler"):
        assert (after[name]["status"], after[name]["scheduled_for"]) == ("queued", NOW), name
    # A worker took this attempt: it may have reached the provider, so it is not resent here.
    assert after["taken_for_this_attempt"]["status"] == "processing"
    assert after["never_taken_but_recent"]["status"] == "processing"
    assert after["taken_recently"]["status"] == "processing"
    assert after["queued"]["scheduled_for"] == LONG_AGO
    assert after["sent"]["status"] == "sent"


def test_sends_of_a_stopped_worker_are_found_not_those_of_a_live_one(
    isolated_mariadb: Engine,
) -> None:
    jobs_by_name = quiet_claims(isolated_mariadb)
    with isolated_mariadb.begin() as connection:
        stopped = JobRepository(connection).stopped_sends(ALIVE, NOW)
    found = {send.job_id for send in stopped} & set(jobs_by_name.values())
    assert found == {jobs_by_name["taken_for_this_attempt"]}
    [send] = [s for s in stopped if s.job_id in found]
    assert (send.attempt, send.taken_at, send.unconfirmed_since) == (2, LONG_AGO, None)


def test_a_stopped_send_goes_back_marked_unconfirmed_once(isolated_mariadb: Engine) -> None:
    jobs_by_name = quiet_claims(isolated_mariadb)
    job_id = jobs_by_name["taken_for_this_attempt"]
    with isolated_mariadb.begin() as connection:
        repository = JobRepository(connection)
        assert repository.requeue_stopped_send(job_id, 2, NOW, NOW, LONG_AGO)
        assert not repository.requeue_stopped_send(job_id, 2, NOW, NOW, LONG_AGO)  # once
    row = by_name(isolated_mariadb, jobs_by_name)["taken_for_this_attempt"]
    assert (row["status"], row["unconfirmed_since"], row["last_error"]) == (
        "queued",
        LONG_AGO,
        "recovered: the worker that took it stopped",
    )


# apply_job_statuses


def sent_jobs(engine: Engine, count: int) -> tuple[list[int], list[str]]:
    tag = new_tag("m")
    messages = [f"SM{tag}{n}" for n in range(count)]
    ids = add_jobs(
        engine,
        *({"status": "sent", "attempt": 1, "provider_message_id": m} for m in messages),
    )
    return ids, messages


def report(message: str, status: str, minutes: int, error: str | None = None) -> ReportedStatus:
    return ReportedStatus(message, JobStatus(status), NOW + timedelta(minutes=minutes), error)


def claim_due_jobs(engine: Engine, now: datetime, limit: int, claimer: str) -> list:
    """One claim round, in a transaction of its own (as the dispatcher runs it)."""
    with Store(engine).transaction() as repos:
        return repos.jobs.claim_due(now, limit, claimer)


def test_statuses_move_jobs_forward_only(isolated_mariadb: Engine) -> None:
    ids, messages = sent_jobs(isolated_mariadb, 4)
    with isolated_mariadb.begin() as connection:
        JobRepository(connection).apply_statuses(
            [report(messages[0], "opened", 2), report(messages[1], "replied", 3)],
            NOW,
        )
    with isolated_mariadb.begin() as connection:
        moved = JobRepository(connection).apply_statuses(
            [
                report(messages[0], "delivered", 1),  # late: opened is further on
                report(messages[1], "clicked", 2),  # late: replied is further on
                report(messages[1], "failed", 4),  # an answered message did not fail
                report(messages[2], "bounced", 1),
                report(messages[3], "delivered", 1),
            ],
            NOW,
        )
    assert status_of(isolated_mariadb, ids) == ["opened", "replied", "bounced", "delivered"]
    assert dict(+moved) == {"bounced": 1, "delivered": 1}  # the refused ones are not counted


def test_a_status_stamps_when_it_happened(isolated_mariadb: Engine) -> None:
    ids, messages = sent_jobs(isolated_mariadb, 3)
    applied_at = NOW + timedelta(hours=1)
    with isolated_mariadb.begin() as connection:
        JobRepository(connection).apply_statuses(
            [
                report(messages[0], "delivered", 2),
                report(messages[0], "delivered", 7),  # a repeated report: the first one counts
                report(messages[1], "delivered", 1),
                report(messages[1], "replied", 9),
                report(messages[2], "failed", 3, error="30003"),
            ],
            applied_at,
        )
    first, second, third = rows(isolated_mariadb, ids)
    assert (first["status"], first["delivered_at"], first["replied_at"]) == (
        "delivered",
        NOW + timedelta(minutes=2),
        None,
    )
    assert (second["status"], second["delivered_at"], second["replied_at"]) == (
        "replied",
        NOW + timedelta(minutes=1),
        NOW + timedelta(minutes=9),
    )
    assert (third["status"], third["last_error"], third["delivered_at"]) == (
        "failed",
        "30003",
        None,
    )
    assert {row["updated_at"] for row in (first, second, third)} == {applied_at}


@st.composite
def provider_stories(draw: st.DrawFn) -> list[str]:
    """What a provider may report about a sent message, in the order it happened: each status
    one the job life allows after the one before (so never a bounce after an open)."""
    story: list[str] = []
    current = "sent"
    for candidate in draw(st.lists(st.sampled_from(PROVIDER_REPORTED), max_size=8)):
        if candidate in ALLOWED[current]:
            story.append(candidate)
            current = candidate
    return story


@settings(
    max_examples=25,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture],  # each example has its own job
)
@given(story=provider_stories(), seed=st.integers(0, 2**32 - 1))
def test_a_batch_in_any_order_ends_where_the_story_ends(
    isolated_mariadb: Engine, story: list[str], seed: int
) -> None:
    """Providers' reports arrive out of order; a batch holding a whole story ends the job at the
    story's last status, as if each report had been applied as it happened."""
    ids, messages = sent_jobs(isolated_mariadb, 2)
    in_time_order = [report(messages[0], status, n) for n, status in enumerate(story, 1)]
    shuffled = [report(messages[1], status, n) for n, status in enumerate(story, 1)]
    random.Random(seed).shuffle(shuffled)
    for one in in_time_order:
        with isolated_mariadb.begin() as connection:
            JobRepository(connection).apply_statuses([one], NOW)
    with isolated_mariadb.begin() as connection:
        JobRepository(connection).apply_statuses(shuffled, NOW)

    expected = story[-1] if story else "sent"
    one_by_one, batched = rows(isolated_mariadb, ids)
    assert one_by_one["status"] == batched["status"] == expected
    assert one_by_one["delivered_at"] == batched["delivered_at"]
    assert one_by_one["replied_at"] == batched["replied_at"]


def test_only_statuses_that_move_a_job_are_taken_from_providers() -> None:
    assert job_status_from_provider("delivered") is JobStatus.DELIVERED
    for status in ("queued", "processing", "undelivered-ish", ""):
        assert job_status_from_provider(status) is None, status
