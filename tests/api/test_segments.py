"""Segments through the API: refused rules say where and why and save nothing; previews count,
mask and show the SQL without values; saved segments keep their counts; organisations stay apart
and every save and preview is audited."""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import UTC, date, datetime, timedelta
from typing import Any

import pytest
from sqlalchemy import Engine, func, select

from outreach.channels import ChannelWorker
from outreach.config import Settings
from outreach.domain import AppointmentStatus, Role
from outreach.segments import AppointmentSummary, PatientFacts
from outreach.sql.models import CommAuditLog, Patient, PatientCommPrefs, PatientSegment
from tests.factories import insert_patient_facts

from .conftest import ApiHarness, running_api, unique

pytestmark = pytest.mark.asyncio(loop_scope="session")

NOW = datetime(2026, 3, 2, 15, 0, tzinfo=UTC)
RECALL = {
    "and": [
        {">=": [{"days_since": {"var": "last_attended_at"}}, 182]},
        {"!": {"var": "has_future_appointment"}},
    ]
}


@pytest.fixture
async def segments_api(
    api_settings: Settings,
    mariadb_engine: Engine,
    channels: dict[str, ChannelWorker],
    redis_client: Any,
    kafka_topics: str,
) -> AsyncIterator[ApiHarness]:
    settings = api_settings.model_copy(
        update={"segment_attributes": {"insurance": "string"}, "segment_rule_max_depth": 6}
    )
    async with running_api(
        settings, mariadb_engine, channels, redis_client, clock=lambda: NOW
    ) as harness:
        yield harness


def clinic(engine: Engine, org_id: str) -> None:
    """Two patients due a recall (one with a name and addresses), one booked, one recent."""
    visit = AppointmentSummary(AppointmentStatus.ATTENDED, NOW - timedelta(days=200))
    booked = AppointmentSummary(AppointmentStatus.BOOKED, NOW + timedelta(days=3))
    recent = AppointmentSummary(AppointmentStatus.ATTENDED, NOW - timedelta(days=20))
    insert_patient_facts(
        engine,
        [
            PatientFacts(f"{org_id}-a", org_id, appointments=(visit,)),
            PatientFacts(f"{org_id}-b", org_id, appointments=(visit,), region="FL"),
            PatientFacts(f"{org_id}-c", org_id, appointments=(visit, booked)),
            PatientFacts(f"{org_id}-d", org_id, appointments=(recent,)),
        ],
        NOW,
    )
    with engine.begin() as connection:
        connection.execute(
            Patient.__table__.update()
            .where(Patient.id == f"{org_id}-a")
            .values(first_name="Maria", last_name="Lopez", date_of_birth=date(1961, 5, 4))
        )
        connection.execute(
            PatientCommPrefs.__table__.insert().values(
                patient_id=f"{org_id}-a",
                email="maria.lopez@example.com",
                phone="+13055550123",
                contact_consent=True,
                whatsapp_opt_in=False,
                marketing_opt_in_email=True,
                marketing_opt_in_sms=False,
                marketing_opt_in_whatsapp=False,
                opted_out_email=False,
                opted_out_sms=False,
                opted_out_whatsapp=False,
            )
        )


def segments_of(engine: Engine, org_id: str) -> int:
    with engine.connect() as connection:
        return connection.execute(
            select(func.count()).where(PatientSegment.org_id == org_id)
        ).scalar_one()


async def test_validate_preview_save_and_count(segments_api: ApiHarness, mariadb_engine) -> None:
    org_id = unique("org")
    clinic(mariadb_engine, org_id)
    client = segments_api.client
    segments_api.act_as(Role.MARKETER, org_id)

    checked = await client.post(
        "/api/v1/segments/validate", json={"org_id": org_id, "definition": RECALL}
    )
    assert checked.status_code == 200, checked.text
    assert checked.json()["fields"] == ["has_future_appointment", "last_attended_at"]

    preview = await client.post(
        "/api/v1/segments/preview", json={"org_id": org_id, "definition": RECALL}
    )
    assert preview.status_code == 200, preview.text
    body = preview.json()
    assert body["patient_count"] == 2
    assert body["sample"] == [
        {
            "patient_id": f"{org_id}-a",
            "initials": "M. L.",
            "email": "m***@***",
            "phone": "+*********23",
        },
        {"patient_id": f"{org_id}-b", "initials": None, "email": None, "phone": None},
    ]
    assert "Maria" not in preview.text and "lopez" not in preview.text
    assert "appointments" in body["sql"] and org_id not in body["sql"]

    created = await client.post(
        "/api/v1/segments",
        json={"name": "Recall", "description": "6 months", "definition": RECALL},
    )
    assert created.status_code == 201, created.text
    segment = created.json()
    key_prefix = client.headers["X-API-Key"][:12]
    assert (segment["created_by"], segment["is_active"], segment["patient_count"]) == (
        f"key:{key_prefix}",
        True,
        None,
    )

    counted = await client.post(f"/api/v1/segments/{segment['id']}/preview?sample_size=0")
    assert counted.status_code == 200 and counted.json()["sample"] == []
    stored = (await client.get(f"/api/v1/segments/{segment['id']}")).json()
    assert (stored["patient_count"], stored["last_evaluated"]) == (2, NOW.isoformat())

    in_florida = {"and": [{"in_segment": segment["id"]}, {"==": [{"var": "region"}, "FL"]}]}
    narrower = await client.post(
        "/api/v1/segments",
        json={"org_id": org_id, "name": "Recall FL", "definition": in_florida},
    )
    assert narrower.status_code == 201, narrower.text
    narrowed = await client.post(f"/api/v1/segments/{narrower.json()['id']}/preview")
    assert narrowed.json()["patient_count"] == 1

    listed = (await client.get("/api/v1/segments")).json()
    assert [s["name"] for s in listed["segments"]] == ["Recall", "Recall FL"]
    with mariadb_engine.connect() as connection:
        audited = connection.execute(
            select(CommAuditLog.action, CommAuditLog.actor, CommAuditLog.detail)
            .where(CommAuditLog.org_id == org_id, CommAuditLog.action.like("segment_%"))
            .order_by(CommAuditLog.id)
        ).all()
    assert [(action, actor) for action, actor, _ in audited] == [
        ("segment_previewed", f"key:{key_prefix}"),
        ("segment_created", f"key:{key_prefix}"),
        ("segment_previewed", f"key:{key_prefix}"),
        ("segment_created", f"key:{key_prefix}"),
        ("segment_previewed", f"key:{key_prefix}"),
    ]
    assert audited[0][2] == {"segment_id": None, "patient_count": 2, "sample_size": 2}


async def test_an_update_replaces_the_rule_and_forgets_the_count(
    segments_api: ApiHarness, mariadb_engine
) -> None:
    org_id = unique("org")
    clinic(mariadb_engine, org_id)
    client = segments_api.client
    segments_api.act_as(Role.ADMIN, org_id)
    created = await client.post(
        "/api/v1/segments", json={"org_id": org_id, "name": "All", "definition": True}
    )
    segment_id = created.json()["id"]
    assert (await client.post(f"/api/v1/segments/{segment_id}/preview")).json()[
        "patient_count"
    ] == 4
    updated = await client.put(
        f"/api/v1/segments/{segment_id}",
        json={"name": "Floridians", "definition": {"==": [{"var": "region"}, "FL"]}},
    )
    assert updated.status_code == 200, updated.text
    assert (updated.json()["name"], updated.json()["patient_count"]) == ("Floridians", None)
    unknown = await client.put("/api/v1/segments/999999999", json={"name": "X", "definition": True})
    assert unknown.status_code == 404


@pytest.mark.parametrize(
    ("definition", "pointer", "code"),
    [
        ({"==": [{"var": "first_name"}, "Ana"]}, "/==/0/var", "unknown_field"),
        ({"==": [{"var": "age"}, "sixty"]}, "/==/1", "wrong_type"),
        ({"and": [True, {"map": [[1], {"var": ""}]}]}, "/and/1", "unsupported_operator"),
        ({"<": [{"var": "last_attended_at"}, 5]}, "/</0", "wrong_type"),
        ({"in": [{"var": "region"}, ["FL", 1]]}, "/in/1/1", "wrong_type"),
        ({"!": {"!": {"!": {"!": {"!": {"!": True}}}}}}, "/!/!/!/!/!/!", "too_deep"),
        ({"in": [{"var": "region"}, ["FL"] * 501]}, "/in/1", "too_large"),
        ({"region": "FL", "age": 3}, "", "malformed"),
        ({"in_segment": 999999999}, "/in_segment", "unknown_segment"),
    ],
)
async def test_a_bad_rule_is_a_422_with_the_pointer_and_saves_nothing(
    segments_api: ApiHarness, mariadb_engine, definition: Any, pointer: str, code: str
) -> None:
    org_id = unique("org")
    segments_api.act_as(Role.MARKETER, org_id)
    body = {"org_id": org_id, "name": "Bad", "definition": definition}
    for path in ("/api/v1/segments", "/api/v1/segments/validate", "/api/v1/segments/preview"):
        answer = await segments_api.client.post(path, json=body if path.endswith("s") else {
            "org_id": org_id, "definition": definition})  # fmt: skip
        assert answer.status_code == 422, (path, answer.text)
        refusal = answer.json()
        assert refusal["error"] == "invalid_segment_rule"
        assert {"pointer": pointer, "code": code} in [
            {"pointer": e["pointer"], "code": e["code"]} for e in refusal["detail"]
        ], refusal
    assert "Ana" not in answer.text and "sixty" not in answer.text
    assert segments_of(mariadb_engine, org_id) == 0


async def test_a_rule_sql_cannot_reproduce_is_refused_with_its_pointer(
    segments_api: ApiHarness, mariadb_engine
) -> None:
    org_id = unique("org")
    segments_api.act_as(Role.MARKETER, org_id)
    definition = {"or": [True, {"==": [{"var": "region"}, {"var": "language"}]}]}
    answer = await segments_api.client.post(
        "/api/v1/segments", json={"org_id": org_id, "name": "X", "definition": definition}
    )
    assert answer.status_code == 422
    assert answer.json()["error"] == "segment_not_compilable"
    assert answer.json()["detail"][0]["pointer"] == "/or/1/==/1"
    assert segments_of(mariadb_engine, org_id) == 0


async def test_names_are_unique_per_organisation_and_cycles_are_refused(
    segments_api: ApiHarness,
) -> None:
    org_id = unique("org")
    client = segments_api.client
    segments_api.act_as(Role.MARKETER, org_id)
    first = await client.post(
        "/api/v1/segments", json={"org_id": org_id, "name": "A", "definition": True}
    )
    again = await client.post(
        "/api/v1/segments", json={"org_id": org_id, "name": "A", "definition": False}
    )
    assert again.status_code == 409 and again.json()["error"] == "segment_exists"
    first_id = first.json()["id"]
    second = await client.post(
        "/api/v1/segments",
        json={"org_id": org_id, "name": "B", "definition": {"in_segment": first_id}},
    )
    cycle = await client.put(
        f"/api/v1/segments/{first_id}",
        json={"name": "A", "definition": {"in_segment": second.json()["id"]}},
    )
    assert cycle.status_code == 422, cycle.text
    assert cycle.json()["detail"][0]["code"] == "segment_cycle"
    assert (await client.get(f"/api/v1/segments/{first_id}")).json()["definition"] is True


async def test_the_catalogue_lists_the_declared_attributes(segments_api: ApiHarness) -> None:
    segments_api.act_as(Role.MARKETER, unique("org"))
    fields = (await segments_api.client.get("/api/v1/segments/catalogue")).json()["fields"]
    names = {f["name"]: f["type"] for f in fields}
    assert names["attributes.insurance"] == "string" and names["last_attended_at"] == "date"
    assert "first_name" not in names and "date_of_birth" not in names


async def test_organisations_stay_apart(segments_api: ApiHarness, mariadb_engine) -> None:
    mine, theirs = unique("org"), unique("org")
    clinic(mariadb_engine, theirs)
    client = segments_api.client
    their_marketer = segments_api.credentials(Role.MARKETER, theirs)
    my_marketer = segments_api.credentials(Role.MARKETER, mine)
    saved = await client.post(
        "/api/v1/segments", json={"name": "Recall", "definition": RECALL}, headers=their_marketer
    )
    segment_id = saved.json()["id"]
    for method, url, body in (
        ("GET", f"/api/v1/segments/{segment_id}", None),
        ("PUT", f"/api/v1/segments/{segment_id}", {"name": "Mine now", "definition": True}),
        ("POST", f"/api/v1/segments/{segment_id}/preview", None),
    ):
        answer = await client.request(method, url, json=body, headers=my_marketer)
        assert answer.status_code == 404, (url, answer.text)
    # My rule counts my patients only, and naming their organisation is refused.
    mine_only = await client.post(
        "/api/v1/segments/preview", json={"definition": RECALL}, headers=my_marketer
    )
    assert mine_only.json()["patient_count"] == 0
    for path in ("/api/v1/segments/preview", "/api/v1/segments/validate", "/api/v1/segments"):
        body = {"org_id": theirs, "name": "X", "definition": RECALL}
        if not path.endswith("segments"):
            body.pop("name")
        answer = await client.post(path, json=body, headers=my_marketer)
        assert answer.status_code == 403, (path, answer.text)
    listed = await client.get("/api/v1/segments", params={"org_id": theirs}, headers=my_marketer)
    assert listed.status_code == 403
    # Their segment cannot be reached through in_segment either.
    reference = await client.post(
        "/api/v1/segments/validate",
        json={"definition": {"in_segment": segment_id}},
        headers=my_marketer,
    )
    assert reference.status_code == 422 and reference.json()["detail"][0]["code"] == (
        "unknown_segment"
    )
    platform = await client.get(
        "/api/v1/segments", headers=segments_api.credentials(Role.PLATFORM, mine)
    )
    assert platform.status_code == 403
