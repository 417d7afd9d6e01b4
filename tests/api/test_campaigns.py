"""``/api/v1/campaigns``: create, read, activate (with its refusals), pause, resume, complete,
archive, and progress."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
from sqlalchemy import Engine, insert

from outreach.domain import Role
from outreach.sql.models import CommTemplate
from tests.factories import (
    add_recall_templates,
    add_segment,
    consenting_prefs_row,
    insert_rows,
    patient_row,
)

from .conftest import ApiHarness, unique

pytestmark = pytest.mark.asyncio(loop_scope="session")


@pytest.fixture
def org(mariadb_engine: Engine) -> str:
    """An organisation with three patients in region FL, and the shipped templates."""
    org_id = unique("org")
    now = datetime.now(UTC)
    patients = [unique("p") for _ in range(3)]
    insert_rows(
        mariadb_engine,
        patients=[patient_row(p, org_id=org_id, region="FL") for p in patients],
        prefs=[consenting_prefs_row(p, now) for p in patients],
    )
    add_recall_templates(mariadb_engine, org_id)
    return org_id


def document(org_id: str, segment_id: int, **fields: object) -> dict:
    return {
        "org_id": org_id,
        "name": "Recall",
        "segment_id": segment_id,
        "steps": [
            {"template_family": "dental_recall"},
            {"offset_hours": 168, "template_family": "dental_recall_reminder", "channel": "sms"},
        ],
        "variants": {"A": 50, "B": 50},
        "holdout_percent": 10,
        **fields,
    }


async def test_a_campaign_goes_through_its_life(
    api: ApiHarness, mariadb_engine: Engine, org: str
) -> None:
    segment = add_segment(mariadb_engine, org, {"==": [{"var": "region"}, "FL"]})
    api.act_as(Role.MARKETER, org)
    created = await api.client.post("/api/v1/campaigns", json=document(org, segment))
    assert created.status_code == 201, created.text
    campaign = created.json()
    assert campaign["created_by"].startswith("key:")  # the credential is the actor
    assert (campaign["state"], campaign["org_id"], campaign["holdout_percent"]) == (
        "draft",
        org,
        10,
    )
    assert campaign["steps"][1] == {
        "offset_hours": 168,
        "template_family": "dental_recall_reminder",
        "channel": "sms",
        "wait_until": None,
        "wait_timeout_hours": None,
    }
    base = f"/api/v1/campaigns/{campaign['id']}"

    activated = await api.client.post(f"{base}/activate")
    assert activated.status_code == 200, activated.text
    body = activated.json()
    assert (body["state"], body["segment_size"]) == ("active", 3)
    assert any("under 1,000" in w for w in body["warnings"])  # a hold-out of 3 patients
    assert any("variant B" in w for w in body["warnings"])  # the reminder has variant A only

    assert (await api.client.post(f"{base}/pause")).json()["state"] == "paused"
    again = await api.client.post(f"{base}/pause")
    assert again.status_code == 409 and again.json()["error"] == "invalid_state"
    assert "allowed: complete, resume" in again.json()["detail"]
    assert (await api.client.post(f"{base}/resume")).json()["state"] == "active"
    assert (await api.client.post(f"{base}/complete")).json()["state"] == "completed"
    assert (await api.client.post(f"{base}/archive")).json()["state"] == "archived"
    assert (await api.client.get(base)).json()["state"] == "archived"

    status = (await api.client.get(f"{base}/status")).json()
    assert status["state"] == "archived" and status["enrolled"] == 0
    assert set(status) >= {"held_out", "variants", "suppressed", "exited", "warnings"}


async def test_a_definition_that_does_not_hold_together_names_each_problem(
    api: ApiHarness, mariadb_engine: Engine, org: str
) -> None:
    segment = add_segment(mariadb_engine, org)
    api.act_as(Role.MARKETER, org)
    answer = await api.client.post(
        "/api/v1/campaigns",
        json=document(
            org,
            segment,
            holdout_percent=40,
            steps=[
                {"offset_hours": 10, "template_family": "a"},
                {"offset_hours": 5, "template_family": "b"},
            ],
        ),
    )
    assert answer.status_code == 422
    problems = {p["loc"]: p["msg"] for p in answer.json()["detail"]}
    assert set(problems) == {"/holdout_percent", "/steps/1/offset_hours"}
    other_org = await api.client.post("/api/v1/campaigns", json=document(unique("org"), segment))
    assert other_org.status_code == 403  # the organisation comes from the credential
    elsewhere = add_segment(mariadb_engine, unique("org"))
    foreign = await api.client.post("/api/v1/campaigns", json=document(org, elsewhere))
    assert foreign.status_code == 422 and foreign.json()["error"] == "unknown_segment"
    shape = await api.client.post(
        "/api/v1/campaigns", json={**document(org, segment), "colour": "red"}
    )
    assert shape.status_code == 422 and shape.json()["error"] == "validation_error"


async def test_activation_is_refused_with_the_reasons(
    api: ApiHarness, mariadb_engine: Engine, org: str
) -> None:
    api.act_as(Role.MARKETER, org)
    with mariadb_engine.begin() as connection:
        template = connection.execute(
            insert(CommTemplate.__table__).values(
                family_key=unique("fk"),
                org_id=org,
                purpose="campaign_education",
                channel="sms",
                language="en",
                body="{{ first_name }}, your {{ lab_test_name }} results: book a visit.",
                declared_variables=["first_name", "lab_test_name"],
                is_active=True,
                family="leaky_promo",
            )
        ).inserted_primary_key[0]
    leaky = (
        await api.client.post(
            "/api/v1/campaigns",
            json=document(
                org,
                add_segment(mariadb_engine, org, {"==": [{"var": "region"}, "FL"]}),
                steps=[{"template_family": "leaky_promo"}],
            ),
        )
    ).json()
    refused = await api.client.post(f"/api/v1/campaigns/{leaky['id']}/activate")
    assert refused.status_code == 422
    answer = refused.json()
    assert answer["error"] == "phi_policy_violation"
    assert {p["template_id"] for p in answer["detail"]["problems"]} == {str(template)}
    assert all(p["loc"] == "/steps/0/template_family" for p in answer["detail"]["problems"])
    assert (await api.client.get(f"/api/v1/campaigns/{leaky['id']}")).json()["state"] == "draft"

    empty = (
        await api.client.post(
            "/api/v1/campaigns",
            json=document(org, add_segment(mariadb_engine, org, {"==": [{"var": "region"}, "AK"]})),
        )
    ).json()
    refused = await api.client.post(f"/api/v1/campaigns/{empty['id']}/activate")
    assert (refused.status_code, refused.json()["error"]) == (422, "empty_segment")


async def test_an_unknown_campaign_is_not_found(api: ApiHarness) -> None:
    api.act_as(Role.MARKETER, unique("org"))
    for answer in (
        await api.client.get("/api/v1/campaigns/987654321"),
        await api.client.get("/api/v1/campaigns/987654321/status"),
        await api.client.post("/api/v1/campaigns/987654321/pause"),
    ):
        assert answer.status_code == 404 and answer.json()["error"] == "not_found"


async def test_only_marketers_and_admins_of_its_organisation_reach_a_campaign(
    api: ApiHarness, mariadb_engine: Engine, org: str
) -> None:
    segment = add_segment(mariadb_engine, org, {"==": [{"var": "region"}, "FL"]})
    mine = api.credentials(Role.MARKETER, org)
    created = await api.client.post("/api/v1/campaigns", json=document(org, segment), headers=mine)
    base = f"/api/v1/campaigns/{created.json()['id']}"

    anonymous = await api.client.get(base)
    platform = await api.client.get(base, headers=api.credentials(Role.PLATFORM, org))
    other = api.credentials(Role.MARKETER, unique("org"))
    foreign_read = await api.client.get(base, headers=other)
    foreign_activate = await api.client.post(f"{base}/activate", headers=other)
    admin = await api.client.get(f"{base}/status", headers=api.credentials(Role.ADMIN, org))

    assert anonymous.status_code == 401 and platform.status_code == 403
    assert foreign_read.status_code == foreign_activate.status_code == 404  # like a missing one
    assert admin.status_code == 200
    assert (await api.client.get(base, headers=mine)).json()["state"] == "draft"
