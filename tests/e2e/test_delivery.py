"""Issue 13, end to end through the processes: delivery on every channel, a plugin's included,
failures that arrive later, and crashes of the processes mid-send."""

from __future__ import annotations

import uuid
from collections import Counter
from datetime import UTC, datetime, timedelta

import httpx
import pytest

from tests.e2e.pipeline import Pipeline, publish, wait_until
from tests.factories import booking_event, patient_event

pytestmark = pytest.mark.services


@pytest.fixture(scope="module")
def rcs_template(pipeline: Pipeline) -> int:
    """The clinic's confirmation on the plugin's channel, saved through the API like any other
    template (before the worker starts, so its catalog sees it at once)."""
    response = httpx.post(
        f"{pipeline.api_url}/api/v1/templates",
        json={
            "purpose": "appt_confirm",
            "channel": "rcs",
            "language": "en",
            "body": "Hi {{ first_name }}, your visit is booked. Reply C to confirm.",
            "declared_variables": ["first_name"],
            "activate": True,
        },
        headers={"X-Actor": "e2e"},
        timeout=10,
    )
    assert response.status_code == 201, response.text
    return response.json()["id"]


@pytest.fixture(scope="module")
def worker(pipeline: Pipeline, rcs_template: int):
    child = pipeline.start_worker()
    yield child
    pipeline.group.stop(child)


@pytest.fixture(scope="module")
def scheduler(pipeline: Pipeline):
    child = pipeline.start_scheduler()
    yield child
    pipeline.group.stop(child)


def _statuses(pipeline: Pipeline, patient_id: str) -> Counter:
    return Counter(j["status"] for j in pipeline.jobs_for(patient_id))


def test_a_plugin_channel_delivers_end_to_end(pipeline: Pipeline, worker, scheduler) -> None:
    """A channel registered by another distribution's entry point is chosen, sent by the worker
    through its own provider, and its signed status comes back through the API."""
    now = datetime.now(UTC)
    patient_id = f"rcs-{uuid.uuid4().hex[:8]}"
    phone = f"+1415556{uuid.uuid4().int % 10_000:04d}"
    publish(
        pipeline.kafka,
        [
            patient_event(
                patient_id,
                now,
                phone=phone,
                preferred_channel="rcs",
                allowed_channels=["rcs", "sms"],
            ),
            booking_event(patient_id, now, now + timedelta(days=3)),
        ],
    )
    wait_until(
        lambda: any(
            j["purpose"] == "appt_confirm" and j["status"] == "delivered"
            for j in pipeline.jobs_for(patient_id)
        ),
        45,
        "the confirmation delivered on rcs",
    )
    confirmation = next(j for j in pipeline.jobs_for(patient_id) if j["purpose"] == "appt_confirm")
    assert confirmation["channel"] == "rcs"
    sent = [m for m in pipeline.sim_messages(channel="rcs") if m["to"] == phone]
    assert len(sent) == 1 and sent[0]["job_id"] == str(confirmation["id"])
    assert sent[0]["body"].startswith("Hi Ana, your visit is booked")
