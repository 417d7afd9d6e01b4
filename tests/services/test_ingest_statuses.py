"""Provider statuses move jobs forward only, once each, whatever order they arrive in."""

from __future__ import annotations

import itertools
import uuid
from datetime import UTC, datetime, timedelta

import pytest
from hypothesis import given
from hypothesis import strategies as st
from sqlalchemy import Engine, select

from outreach.domain import JobStatus, can_transition
from outreach.events import StatusUpdate
from outreach.services.ingest_statuses import StatusIngestor, replay_statuses
from outreach.sql.job_repository import SentJob
from outreach.sql.models import CommJob, CommStatusEvent
from outreach.sql.store import Store
from tests.factories import insert_rows, job_row, patient_row
from tests.job_lifecycle import (
    ALLOWED,
    FORWARD_ORDER,
    PROVIDER_REPORTED,
    SIDE_EXITS,
    STATUSES,
)

NOW = datetime(2026, 3, 2, 15, 0, tzinfo=UTC)
jobs = CommJob.__table__


def sent_job(
    engine: Engine, *, status: str = "sent", with_message_id: bool | None = None
) -> tuple[int, str]:
    """A job in ``status``; it knows its provider message id unless still being sent."""
    if with_message_id is None:
        with_message_id = status != "processing"
    tag = uuid.uuid4().hex[:10]
    [job_id] = insert_rows(
        engine,
        patients=[patient_row(f"s-{tag}")],
        jobs=[
            job_row(
                f"s-{tag}",
                f"s-{tag}",
                NOW,
                purpose="appt_confirm",
                status=status,
                attempt=1,
                provider_message_id=f"SM{tag}" if with_message_id else None,
            )
        ],
    )
    return job_id, f"SM{tag}"


def update(message_id: str, status: str, minutes: int) -> StatusUpdate:
    return StatusUpdate(
        provider="twilio",
        provider_message_id=message_id,
        status=status,
        occurred_at=NOW + timedelta(minutes=minutes),
    )


def job_status(engine: Engine, job_id: int) -> str:
    with engine.connect() as connection:
        return connection.execute(select(jobs.c.status).where(jobs.c.id == job_id)).scalar_one()


def test_out_of_order_statuses_never_move_a_job_back(mariadb_engine) -> None:
    job_id, message = sent_job(mariadb_engine)
    handler = StatusIngestor(Store(mariadb_engine), clock=lambda: NOW)
    handler.handle([update(message, "delivered", 2)])
    handler.handle([update(message, "sent", 1)])  # late and older: ignored
    assert job_status(mariadb_engine, job_id) == "delivered"
    handler.handle([update(message, "delivered", 2)])  # redelivered webhook: stored once
    events = CommStatusEvent.__table__
    with mariadb_engine.connect() as connection:
        stored = (
            connection.execute(
                select(events.c.status).where(events.c.provider_message_id == message)
            )
            .scalars()
            .all()
        )
    assert sorted(stored) == ["delivered", "sent"]


def test_one_batch_with_the_whole_story_ends_at_the_furthest_status(mariadb_engine) -> None:
    job_id, message = sent_job(mariadb_engine)
    StatusIngestor(Store(mariadb_engine), clock=lambda: NOW).handle(
        [update(message, "opened", 3), update(message, "sent", 1), update(message, "delivered", 2)]
    )
    assert job_status(mariadb_engine, job_id) == "opened"


def test_a_status_that_overtakes_the_send_receipt_is_applied_when_it_lands(mariadb_engine):
    job_id, _ = sent_job(mariadb_engine, status="processing")
    message = f"SMearly{uuid.uuid4().hex[:8]}"
    store = Store(mariadb_engine)
    StatusIngestor(store, clock=lambda: NOW).handle([update(message, "delivered", 1)])
    # What the send path does when the provider's receipt lands.
    with store.transaction() as repos:
        repos.jobs.mark_sent([SentJob(job_id, message, None)], NOW)
        replay_statuses(repos, [message], NOW)
    assert job_status(mariadb_engine, job_id) == "delivered"


@given(st.sampled_from(STATUSES), st.sampled_from(STATUSES))
def test_status_only_moves_forward(current: str, new: str) -> None:
    """Against the hand-written job life: allowed moves are exactly the table's, and every
    allowed move along the forward path goes further along it."""
    allowed = can_transition(JobStatus(current), JobStatus(new))
    assert allowed is (new in ALLOWED[current])
    if allowed and new in FORWARD_ORDER and current in FORWARD_ORDER:
        assert FORWARD_ORDER.index(new) > FORWARD_ORDER.index(current)
    if current in SIDE_EXITS or current == new:
        assert not allowed


@pytest.mark.parametrize(
    ("current", "reported"),
    list(itertools.product(STATUSES, PROVIDER_REPORTED)),
    ids=[f"{c}+{r}" for c, r in itertools.product(STATUSES, PROVIDER_REPORTED)],
)
def test_a_reported_status_moves_a_job_only_as_the_job_life_allows(
    mariadb_engine, current: str, reported: str
) -> None:
    """What an operator sees on the job after a provider report, for every status it may be in."""
    job_id, message = sent_job(mariadb_engine, status=current, with_message_id=True)
    StatusIngestor(Store(mariadb_engine), clock=lambda: NOW).handle([update(message, reported, 1)])
    expected = reported if reported in ALLOWED[current] else current
    assert job_status(mariadb_engine, job_id) == expected
