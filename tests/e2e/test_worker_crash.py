"""Issue 3: a worker killed mid-batch and restarted still gives exactly one job, and one
message, per planned communication."""

from __future__ import annotations

import uuid
from collections import Counter
from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import func, select

from outreach.sql.models import CommJob
from tests.e2e.pipeline import Pipeline, publish, wait_until
from tests.factories import booking_event, patient_event

pytestmark = pytest.mark.services

PATIENTS = 400


def _job_count(pipeline: Pipeline, tag: str) -> int:
    jobs = CommJob.__table__
    with pipeline.engine.connect() as connection:
        return connection.execute(
            select(func.count()).where(jobs.c.patient_id.like(f"{tag}-%"))
        ).scalar_one()


def test_worker_killed_mid_batch_creates_and_sends_each_job_once(pipeline: Pipeline):
    tag = f"crash-{uuid.uuid4().hex[:6]}"
    now = datetime.now(UTC)
    events = []
    for n in range(PATIENTS):
        patient_id = f"{tag}-{n}"
        events.append(patient_event(patient_id, now, phone=f"+1415557{n:04d}"))
        events.append(booking_event(patient_id, now, now + timedelta(days=2)))
    first = pipeline.start_worker(
        "orchestrator-1", roles="orchestrator", extra_env={"OUTREACH_ORCHESTRATOR_BATCH_SIZE": "50"}
    )
    publish(pipeline.kafka, events)
    wait_until(lambda: _job_count(pipeline, tag) > 0, 30, "first jobs")
    pipeline.group.kill(first)  # SIGKILL: no commit, no group leave, mid-stream
    partial = _job_count(pipeline, tag)

    second = pipeline.start_worker("orchestrator-2", roles="orchestrator")
    expected = PATIENTS * 3  # confirmation + two reminders each
    wait_until(lambda: _job_count(pipeline, tag) == expected, 90, "every job planned")

    sender = pipeline.start_worker("sender", roles="channels,status")
    scheduler = pipeline.start_scheduler("scheduler-crash")
    try:
        phones = {f"+1415557{n:04d}" for n in range(PATIENTS)}

        def confirmations() -> list[dict]:
            return [
                m for m in pipeline.sim_messages(channel="sms", limit="100000") if m["to"] in phones
            ]

        wait_until(lambda: len(confirmations()) >= PATIENTS, 90, "confirmations sent")
        per_phone = Counter(m["to"] for m in confirmations())
        assert set(per_phone.values()) == {1}, "someone got a confirmation twice"
        assert _job_count(pipeline, tag) == expected
        assert 0 < partial <= expected
    finally:
        for child in (scheduler, sender, second):
            pipeline.group.stop(child)
