"""POST /api/v1/comm/schedule: a valid request becomes one comm.requested event on core.events."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from outreach import topics
from outreach.events import parse_core_event
from outreach.planning import plan_event

from .conftest import ApiHarness, TopicProbe, unique

pytestmark = pytest.mark.asyncio(loop_scope="session")


def _request(**overrides: object) -> dict[str, object]:
    body: dict[str, object] = {
        "event_id": unique("evt"),
        "org_id": "org-1",
        "patient_id": unique("pat"),
        "provider_id": "prov-1",
        "purpose": "lab_ready",
        "channel": "sms",
        "send_at": (datetime.now(UTC) + timedelta(hours=1)).isoformat(),
        "context": {"result_id": "r-1"},
    }
    body.update(overrides)
    return body


async def test_schedule_publishes_a_comm_requested_event(api: ApiHarness) -> None:
    body = _request()
    async with TopicProbe(api.bootstrap, topics.CORE_EVENTS) as probe:
        response = await api.client.post("/api/v1/comm/schedule", json=body)
        assert response.status_code == 202, response.text
        assert response.json() == {
            "status": "accepted",
            "event_id": body["event_id"],
            "idempotency_key": f"{body['event_id']}:lab_ready:request",
        }
        [record] = await probe.expect(lambda v: v.get("event_id") == body["event_id"])
    assert record.key == str(body["patient_id"]).encode()
    event = parse_core_event(record.value)
    assert event.type == "comm.requested"
    assert (event.org_id, event.patient_id, event.provider_id) == (
        "org-1",
        body["patient_id"],
        "prov-1",
    )
    # The orchestrator plans it into the job whose key the API announced.
    [job] = plan_event(event, reminder_offsets=()).jobs
    assert job.idempotency_key == response.json()["idempotency_key"]
    assert job.channel_hint is not None and job.channel_hint.value == "sms"
    assert job.requested_at == datetime.fromisoformat(str(body["send_at"]))
    assert job.context == {"result_id": "r-1"}


@pytest.mark.parametrize(
    ("overrides", "location"),
    [
        ({"purpose": "spam"}, "body.purpose"),
        ({"purpose": None}, "body.purpose"),
        ({"channel": "fax"}, "body.channel"),
        ({"send_at": "2030-01-01T09:00:00"}, "body.send_at"),  # no zone: ambiguous
        ({"event_id": ""}, "body.event_id"),
        ({"surprise": 1}, "body.surprise"),
        ({"send_at": "2030-01-02T09:00:00Z", "deadline": "2030-01-01T09:00:00Z"}, "body"),
        ({"deadline": "2001-01-01T09:00:00Z", "send_at": None}, "body.deadline"),
        ({"context": {"blob": "x" * 20_000}}, "body.context"),
    ],
)
async def test_invalid_requests_are_clean_422s_and_publish_nothing(
    api: ApiHarness, overrides: dict[str, object], location: str
) -> None:
    body = _request(**overrides)
    async with TopicProbe(api.bootstrap, topics.CORE_EVENTS) as probe:
        response = await api.client.post("/api/v1/comm/schedule", json=body)
        assert response.status_code == 422, response.text
        payload = response.json()
        assert payload["error"] == "validation_error"
        assert any(item["loc"] == location for item in payload["detail"]), payload
        assert all(set(item) == {"loc", "msg", "type"} for item in payload["detail"])
        await probe.expect_none(lambda v: v.get("event_id") == body["event_id"])


async def test_a_body_that_is_not_json_is_a_422(api: ApiHarness) -> None:
    response = await api.client.post(
        "/api/v1/comm/schedule", content=b"{nope", headers={"Content-Type": "application/json"}
    )
    assert response.status_code == 422
    assert response.json()["error"] == "validation_error"


async def test_schedule_answers_503_when_kafka_cannot_take_it(api: ApiHarness) -> None:
    await api.publisher.stop()
    response = await api.client.post("/api/v1/comm/schedule", json=_request())
    assert response.status_code == 503
    assert response.json()["error"] == "unavailable"
    assert response.headers["Retry-After"] == "5"
