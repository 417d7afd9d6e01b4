"""Provider statuses move jobs forward only, once each, whatever order they arrive in."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta

from hypothesis import given
from hypothesis import strategies as st
from sqlalchemy import Engine, insert, select

from outreach.domain import FORWARD_PATH, JobStatus, can_transition
from outreach.events import StatusUpdate
from outreach.services.ingest_statuses import StatusIngestor, replay_statuses
from outreach.sql.job_repository import SentJob
from outreach.sql.models import CommJob, CommStatusEvent, Patient
from outreach.sql.store import Store

NOW = datetime(2026, 3, 2, 15, 0, tzinfo=UTC)
jobs = CommJob.__table__


def sent_job(engine: Engine, *, status: str = "sent") -> tuple[int, str]:
    tag = uuid.uuid4().hex[:10]
    with engine.begin() as connection:
        connection.execute(insert(Patient.__table__), [{"id": f"s-{tag}", "org_id": "org"}])
        job_id = connection.execute(
            insert(jobs).values(
                idempotency_key=f"s-{tag}",
                org_id="org",
                patient_id=f"s-{tag}",
                purpose="appt_confirm",
                channel="sms",
                status=status,
                requested_at=NOW,
                scheduled_for=NOW,
                attempt=1,
                context={},
                provider_message_id=f"SM{tag}" if status != "processing" else None,
            )
        ).inserted_primary_key[0]
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


@given(st.sampled_from(list(JobStatus)), st.sampled_from(list(JobStatus)))
def test_status_only_moves_forward(current: JobStatus, new: JobStatus) -> None:
    if can_transition(current, new) and new in FORWARD_PATH and current in FORWARD_PATH:
        assert FORWARD_PATH.index(new) > FORWARD_PATH.index(current)
    if current in (JobStatus.FAILED, JobStatus.BOUNCED, JobStatus.CANCELLED, JobStatus.SUPPRESSED):
        assert not can_transition(current, new)
    assert not can_transition(current, current)
