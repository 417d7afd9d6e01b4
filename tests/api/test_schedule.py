"""POST /api/v1/comm/schedule and GET /api/v1/comm/requests/{id}: a request becomes one
comm.requested event on core.events, and the caller gets the orchestrator's plan for it: at once
when it is ready within the API's wait, else 202 and a status URL that answers once it is.

The orchestrator is played by its own use case (``EventPlanner``), handed the very event the API
published (read back from Kafka), as its worker would be.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator, Sequence
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from aiokafka.structs import ConsumerRecord
from sqlalchemy import Engine, select

from outreach import topics
from outreach.channels import ChannelWorker
from outreach.config import Settings
from outreach.domain import Role
from outreach.events import parse_core_event
from outreach.planning import plan_event
from outreach.services.plan_events import EventPlanner
from outreach.sim.deployment import daytime_zone
from outreach.sql.models import (
    CommCampaign,
    CommJob,
    CommTemplate,
    Patient,
    PatientCommPrefs,
    PatientSegment,
)
from outreach.sql.store import Store

from .conftest import ApiHarness, TopicProbe, running_api, unique

pytestmark = pytest.mark.asyncio(loop_scope="session")

SCHEDULE = "/api/v1/comm/schedule"
ANSWER_KEYS = {
    "request_id",
    "status",
    "job_id",
    "scheduled_at",
    "channel",
    "estimated_delivery",
    "suppression_reason",
    "status_url",
}


async def plan_consumed(engine: Engine, records: Sequence[ConsumerRecord]) -> None:
    """Hand events read from core.events to the orchestrator's use case, in a thread as its
    worker does."""
    planner = EventPlanner(Store(engine), reminder_offsets=())
    result = await asyncio.to_thread(planner.handle, [(r.key, r.value) for r in records])
    assert result.jobs_created == len(records) and not result.dead_letters


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
    return {name: value for name, value in body.items() if value is not ...}


def create_reachable_patient(engine: Engine, *, consent: bool = True, org_id: str = "org-1") -> str:
    """A patient with a phone (and contact consent, unless not), where it is mid-morning now."""
    patient_id = unique("pat")
    now = datetime.now(UTC)
    with engine.begin() as connection:
        connection.execute(Patient.__table__.insert(), [{"id": patient_id, "org_id": org_id}])
        connection.execute(
            PatientCommPrefs.__table__.insert(),
            [
                {
                    "patient_id": patient_id,
                    "phone": "+14155552671",
                    "timezone": daytime_zone(now),
                    "contact_consent": consent,
                    "consent_granted_at": now - timedelta(days=1) if consent else None,
                }
            ],
        )
    return patient_id


def stored_job(engine: Engine, idempotency_key: str) -> Any:
    jobs = CommJob.__table__
    with engine.connect() as connection:
        return connection.execute(
            select(jobs).where(jobs.c.idempotency_key == idempotency_key)
        ).one()


def _at(value: str | None) -> datetime | None:
    return datetime.fromisoformat(value) if value is not None else None


@pytest.fixture
async def waiting_api(
    api_settings: Settings,
    mariadb_engine: Engine,
    channels: dict[str, ChannelWorker],
    redis_client: Any,
    kafka_topics: str,
) -> AsyncIterator[ApiHarness]:
    """The API with a wait long enough for a test to play the orchestrator meanwhile."""
    settings = api_settings.model_copy(update={"schedule_answer_wait_seconds": 10.0})
    async with running_api(settings, mariadb_engine, channels, redis_client) as harness:
        harness.act_as(Role.PLATFORM, "org-1")
        yield harness


@pytest.fixture
async def impatient_api(
    api_settings: Settings,
    mariadb_engine: Engine,
    channels: dict[str, ChannelWorker],
    redis_client: Any,
    kafka_topics: str,
) -> AsyncIterator[ApiHarness]:
    """The API answering before any orchestrator could plan (nobody runs one here)."""
    settings = api_settings.model_copy(update={"schedule_answer_wait_seconds": 0.2})
    async with running_api(settings, mariadb_engine, channels, redis_client) as harness:
        harness.act_as(Role.PLATFORM, "org-1")
        yield harness


async def _post_while_planning(
    api: ApiHarness, engine: Engine, body: dict[str, object]
) -> tuple[Any, list[ConsumerRecord]]:
    """POST ``body``; meanwhile read its event from Kafka and let the orchestrator plan it."""
    async with TopicProbe(api.bootstrap, topics.CORE_EVENTS) as probe:
        posting = asyncio.create_task(api.client.post(SCHEDULE, json=body))
        records = await probe.expect(lambda v: v.get("event_id") == body["event_id"])
        assert not posting.done()  # the API is still waiting for the plan
        await plan_consumed(engine, records)
        response = await posting
    return response, records


async def test_a_plan_ready_within_the_wait_is_the_answer(
    waiting_api: ApiHarness, mariadb_engine: Engine
) -> None:
    body = _request(patient_id=create_reachable_patient(mariadb_engine))
    response, _ = await _post_while_planning(waiting_api, mariadb_engine, body)

    assert response.status_code == 201, response.text
    answer = response.json()
    job = stored_job(mariadb_engine, f"{body['event_id']}:lab_ready:request")
    status_url = f"/api/v1/comm/requests/{body['event_id']}"
    assert answer == {
        "request_id": body["event_id"],
        "status": "queued",
        "job_id": job.id,
        "scheduled_at": answer["scheduled_at"],
        "channel": "sms",
        "estimated_delivery": answer["estimated_delivery"],
        "suppression_reason": None,
        "status_url": status_url,
    }
    scheduled_at = _at(answer["scheduled_at"])
    assert scheduled_at == job.scheduled_for
    assert scheduled_at is not None and scheduled_at >= datetime.fromisoformat(str(body["send_at"]))
    # An estimate: the planned moment plus SMS's typical latency.
    assert _at(answer["estimated_delivery"]) == scheduled_at + timedelta(seconds=30)
    assert response.headers["Location"] == status_url

    # The same request again: the same job, 200, and nothing published a second time.
    async with TopicProbe(waiting_api.bootstrap, topics.CORE_EVENTS) as probe:
        again = await waiting_api.client.post(SCHEDULE, json=body)
        assert again.status_code == 200, again.text
        assert again.json() == answer
        await probe.expect_none(lambda v: v.get("event_id") == body["event_id"])
    followed = await waiting_api.client.get(status_url)
    assert (followed.status_code, followed.json()) == (200, answer)


async def test_a_suppressed_plan_is_answered_with_its_reason(
    waiting_api: ApiHarness, mariadb_engine: Engine
) -> None:
    # No purpose, is_urgent instead; a patient who gave no consent.
    body = _request(
        patient_id=create_reachable_patient(mariadb_engine, consent=False),
        purpose=...,
        is_urgent=True,
        channel=...,
        preferred_channel="sms",
    )
    response, [record] = await _post_while_planning(waiting_api, mariadb_engine, body)

    assert response.status_code == 201, response.text
    answer = response.json()
    assert set(answer) == ANSWER_KEYS
    assert answer["status"] == "suppressed" and answer["suppression_reason"] == "no_consent"
    assert answer["channel"] is None and answer["scheduled_at"] is None
    assert answer["estimated_delivery"] is None
    job = stored_job(mariadb_engine, f"{body['event_id']}:urgent:request")
    assert answer["job_id"] == job.id and job.purpose == "urgent"
    data = parse_core_event(record.value).data
    assert (data["purpose"], data["channel"]) == ("urgent", "sms")


async def test_a_plan_not_ready_is_a_202_whose_status_url_answers_once_planned(
    impatient_api: ApiHarness, mariadb_engine: Engine
) -> None:
    api = impatient_api
    body = _request(patient_id=create_reachable_patient(mariadb_engine))
    async with TopicProbe(api.bootstrap, topics.CORE_EVENTS) as probe:
        response = await api.client.post(SCHEDULE, json=body)
        assert response.status_code == 202, response.text
        records = await probe.expect(lambda v: v.get("event_id") == body["event_id"])
    status_url = f"/api/v1/comm/requests/{body['event_id']}"
    pending = {
        "request_id": body["event_id"],
        "status": "pending",
        "job_id": None,
        "scheduled_at": None,
        "channel": None,
        "estimated_delivery": None,
        "suppression_reason": None,
        "status_url": status_url,
    }
    assert response.json() == pending
    assert response.headers["Location"] == status_url

    # The event is the orchestrator's usual comm.requested, keyed by patient.
    [record] = records
    assert record.key == str(body["patient_id"]).encode()
    event = parse_core_event(record.value)
    assert event.type == "comm.requested"
    assert (event.org_id, event.patient_id, event.provider_id) == (
        "org-1",
        body["patient_id"],
        "prov-1",
    )
    [planned] = plan_event(event, reminder_offsets=()).jobs
    assert planned.channel_hint is not None and planned.channel_hint.value == "sms"
    assert planned.requested_at == datetime.fromisoformat(str(body["send_at"]))
    assert planned.context == {"result_id": "r-1"}

    # Accepted, not planned: pending (not unknown) on the status URL.
    still = await api.client.get(status_url)
    assert (still.status_code, still.json()) == (202, pending)

    await plan_consumed(mariadb_engine, records)
    planned_answer = await api.client.get(status_url)
    assert planned_answer.status_code == 200, planned_answer.text
    answer = planned_answer.json()
    job = stored_job(mariadb_engine, planned.idempotency_key)
    assert (answer["status"], answer["job_id"], answer["channel"]) == ("queued", job.id, "sms")
    assert _at(answer["scheduled_at"]) == job.scheduled_for
    assert answer["status_url"] == status_url


async def test_unknown_request_ids_are_404s(api: ApiHarness) -> None:
    api.act_as(Role.PLATFORM, "org-1")
    response = await api.client.get(f"/api/v1/comm/requests/{unique('never')}")
    assert response.status_code == 404
    assert response.json() == {"error": "not_found", "detail": "unknown request"}


async def test_without_redis_a_request_not_planned_yet_answers_404(
    api_settings: Settings,
    mariadb_engine: Engine,
    channels: dict[str, ChannelWorker],
    kafka_topics: str,
) -> None:
    settings = api_settings.model_copy(update={"schedule_answer_wait_seconds": 0.0})
    async with running_api(settings, mariadb_engine, channels, None) as harness:
        harness.act_as(Role.PLATFORM, "org-1")
        body = _request(patient_id=create_reachable_patient(mariadb_engine))
        response = await harness.client.post(SCHEDULE, json=body)
        assert response.status_code == 202, response.text
        followed = await harness.client.get(response.json()["status_url"])
    assert followed.status_code == 404  # documented: no pending markers without Redis


async def test_an_event_id_reused_for_another_patient_is_a_409(
    waiting_api: ApiHarness, mariadb_engine: Engine
) -> None:
    body = _request(patient_id=create_reachable_patient(mariadb_engine))
    first, _ = await _post_while_planning(waiting_api, mariadb_engine, body)
    assert first.status_code == 201, first.text
    other = {**body, "patient_id": create_reachable_patient(mariadb_engine)}
    async with TopicProbe(waiting_api.bootstrap, topics.CORE_EVENTS) as probe:
        response = await waiting_api.client.post(SCHEDULE, json=other)
        assert response.status_code == 409, response.text
        assert response.json()["error"] == "conflict"
        assert str(body["patient_id"]) not in response.text
        await probe.expect_none(lambda v: v.get("event_id") == body["event_id"])


def _template_and_campaign(engine: Engine, org_id: str) -> tuple[int, int]:
    with engine.begin() as connection:
        template_id = connection.execute(
            CommTemplate.__table__.insert().values(
                family_key=unique("family"),
                org_id=org_id,
                purpose="lab_ready",
                channel="whatsapp",
                language="en",
                variant="A",
                version=1,
                body="Your results are ready: {{ portal_link }}",
                declared_variables=["portal_link"],
                is_active=False,
            )
        ).inserted_primary_key[0]
        segment_id = connection.execute(
            PatientSegment.__table__.insert().values(
                org_id=org_id, name="all", definition={}, is_active=True
            )
        ).inserted_primary_key[0]
        campaign_id = connection.execute(
            CommCampaign.__table__.insert().values(
                org_id=org_id, name="flu", segment_id=segment_id, variants={}
            )
        ).inserted_primary_key[0]
    return int(template_id), int(campaign_id)


async def test_template_campaign_and_variables_reach_the_event(
    impatient_api: ApiHarness, mariadb_engine: Engine
) -> None:
    org_id = unique("org")
    impatient_api.act_as(Role.PLATFORM, org_id)
    template_id, campaign_id = _template_and_campaign(mariadb_engine, org_id)
    # No purpose and no channel: the pinned template version gives both.
    body = _request(
        org_id=org_id,
        patient_id=create_reachable_patient(mariadb_engine, org_id=org_id),
        purpose=...,
        channel=...,
        template_id=template_id,
        campaign_id=campaign_id,
        is_urgent=False,
        variables={"result_id": "r-9", "fasting": True, "count": 2, "note": None},
    )
    async with TopicProbe(impatient_api.bootstrap, topics.CORE_EVENTS) as probe:
        response = await impatient_api.client.post(SCHEDULE, json=body)
        assert response.status_code == 202, response.text
        [record] = await probe.expect(lambda v: v.get("event_id") == body["event_id"])
    data = parse_core_event(record.value).data
    assert (data["purpose"], data["channel"]) == ("lab_ready", "whatsapp")
    assert data["context"] == {
        "result_id": "r-1",
        "template_id": template_id,
        "campaign_id": campaign_id,
        "variables": {"result_id": "r-9", "fasting": True, "count": 2, "note": None},
    }


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
        ({"preferred_channel": "email"}, "body.preferred_channel"),  # channel says sms
        ({"is_urgent": True}, "body.is_urgent"),  # purpose says lab_ready
        ({"purpose": "urgent", "is_urgent": False}, "body.is_urgent"),
        ({"template_id": 2_000_000_000}, "body.template_id"),
        ({"template_id": 0}, "body.template_id"),
        ({"campaign_id": 2_000_000_000}, "body.campaign_id"),
        ({"variables": {"bad name": "SECRET-VALUE"}}, "body.variables"),
        ({"variables": {"ok": "SECRET\x07VALUE"}}, "body.variables"),
        ({"variables": {"ok": "SECRET-VALUE" * 100}}, "body.variables"),
        ({"variables": {f"v{i}": "SECRET-VALUE" for i in range(51)}}, "body.variables"),
        ({"variables": {f"v{i}": "SECRET-" + "x" * 980 for i in range(20)}}, "body"),
        (
            {"variables": {"x": 1}, "context": {"variables": "SECRET-VALUE"}},
            "body.context.variables",
        ),
    ],
)
async def test_invalid_requests_are_clean_422s_and_publish_nothing(
    api: ApiHarness, overrides: dict[str, object], location: str
) -> None:
    api.act_as(Role.PLATFORM, "org-1")
    body = _request(**overrides)
    async with TopicProbe(api.bootstrap, topics.CORE_EVENTS) as probe:
        response = await api.client.post(SCHEDULE, json=body)
        assert response.status_code == 422, response.text
        payload = response.json()
        assert payload["error"] == "validation_error"
        assert any(item["loc"] == location for item in payload["detail"]), payload
        assert all(set(item) == {"loc", "msg", "type"} for item in payload["detail"])
        assert "SECRET" not in response.text  # the values sent are never echoed
        await probe.expect_none(lambda v: v.get("event_id") == body["event_id"])


async def test_a_template_of_another_organisation_is_unknown(
    api: ApiHarness, mariadb_engine: Engine
) -> None:
    api.act_as(Role.PLATFORM, "org-1")
    template_id, campaign_id = _template_and_campaign(mariadb_engine, unique("org"))
    body = _request(channel="whatsapp", template_id=template_id, campaign_id=campaign_id)
    response = await api.client.post(SCHEDULE, json=body)
    assert response.status_code == 422
    details = {(item["loc"], item["msg"]) for item in response.json()["detail"]}
    assert details == {
        ("body.template_id", "unknown template"),
        ("body.campaign_id", "unknown campaign"),
    }


async def test_a_body_that_is_not_json_is_a_422(api: ApiHarness) -> None:
    api.act_as(Role.PLATFORM, "org-1")
    response = await api.client.post(
        SCHEDULE, content=b"{nope", headers={"Content-Type": "application/json"}
    )
    assert response.status_code == 422
    assert response.json()["error"] == "validation_error"


async def test_schedule_answers_503_when_kafka_cannot_take_it(
    api: ApiHarness, mariadb_engine: Engine
) -> None:
    api.act_as(Role.PLATFORM, "org-1")
    body = _request(patient_id=create_reachable_patient(mariadb_engine))
    await api.publisher.stop()
    response = await api.client.post(SCHEDULE, json=body)
    assert response.status_code == 503
    assert response.json()["error"] == "unavailable"
    assert response.headers["Retry-After"] == "5"


async def test_the_openapi_documents_the_answer(api: ApiHarness) -> None:
    schema = api.app.openapi()
    answer = schema["components"]["schemas"]["ScheduleAnswer"]
    assert set(answer["properties"]) == ANSWER_KEYS
    assert all(field.get("description") for field in answer["properties"].values())
    operation = schema["paths"]["/api/v1/comm/schedule"]["post"]
    assert {"200", "201", "202", "409", "422", "503"} <= set(operation["responses"])
    json.dumps(schema)  # serialisable as served
