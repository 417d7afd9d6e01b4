"""Org and provider defaults: replaced through the API, checked by the core, audited."""

from __future__ import annotations

from typing import Any

import pytest
from sqlalchemy import Engine, select

from outreach.domain import Role
from outreach.sql.models import CommAuditLog, Patient

from .conftest import ApiHarness, unique

pytestmark = pytest.mark.asyncio(loop_scope="session")


def _audits(engine: Engine, action: str, key: str, value: str) -> list[dict[str, Any]]:
    table = CommAuditLog.__table__
    with engine.connect() as connection:
        rows = (
            connection.execute(select(table).where(table.c.action == action).order_by(table.c.id))
            .mappings()
            .all()
        )
    return [dict(r) for r in rows if r["detail"].get(key) == value]


ORG_BODY = {
    "name": "Sunrise Clinic",
    "clinic_phone": "+12025550100",
    "timezone": "America/Phoenix",
    "language": "en-US",
    "quiet_hours_start": "20:30",
    "quiet_hours_end": "08:00",
    "allowed_channels": ["sms", "email"],
    "channel_order": ["email", "sms"],
    "marketing_max_per_day": 1,
}


async def test_org_prefs_are_created_replaced_and_audited(
    api: ApiHarness, mariadb_engine: Engine
) -> None:
    org_id = unique("org")
    path = f"/api/v1/orgs/{org_id}/comm-prefs"
    api.act_as(Role.ADMIN, org_id)
    assert (await api.client.get(path)).status_code == 404

    # An X-Actor header names nobody: the audit log's actor is the credential's.
    created = await api.client.put(path, json=ORG_BODY, headers={"X-Actor": "alice@clinic"})
    assert created.status_code == 200, created.text
    shown = (await api.client.get(path)).json()
    assert shown["timezone"] == "America/Phoenix"
    assert shown["quiet_hours_start"] == "20:30:00"
    assert shown["allowed_channels"] == ["email", "sms"]
    assert shown["channel_order"] == ["email", "sms"]  # order kept: it is the fallback order
    assert shown["best_hour"] is None

    # PUT replaces: what is left out inherits again.
    changed = dict(ORG_BODY, timezone="Europe/Bucharest")
    del changed["marketing_max_per_day"]
    replaced = await api.client.put(path, json=changed)
    assert replaced.status_code == 200
    assert replaced.json()["changed"] == ["marketing_max_per_day", "timezone"]
    assert replaced.json()["marketing_max_per_day"] is None

    audits = _audits(mariadb_engine, "org_prefs_changed", "org_id", org_id)
    actor = "key:" + api.credentials(Role.ADMIN, org_id)["X-API-Key"][:12]
    assert [a["actor"] for a in audits] == [actor, actor]
    assert [a["org_id"] for a in audits] == [org_id, org_id]
    assert audits[0]["detail"]["created"] is True
    assert audits[1]["detail"]["changes"] == {
        "timezone": {"from": "America/Phoenix", "to": "Europe/Bucharest"},
        "marketing_max_per_day": {"from": 1, "to": None},
    }

    # Saving the same thing again changes nothing and audits nothing.
    again = await api.client.put(path, json=changed)
    assert again.json()["changed"] == []
    assert len(_audits(mariadb_engine, "org_prefs_changed", "org_id", org_id)) == 2


@pytest.mark.parametrize(
    ("change", "location"),
    [
        ({"timezone": "Mars/Olympus_Mons"}, "body"),
        ({"language": "english please"}, "body"),
        ({"allowed_channels": ["sms", "fax"]}, "body.allowed_channels.1"),
        ({"channel_order": ["sms", "sms"]}, "body"),
        ({"quiet_hours_start": "25:00", "quiet_hours_end": "08:00"}, "body.quiet_hours_start"),
        ({"quiet_hours_start": "21:00+02:00", "quiet_hours_end": "08:00"}, "body"),
        ({"quiet_hours_end": None}, "body"),
        ({"best_hour": 24}, "body"),
        ({"work_days": [7]}, "body"),
        ({"timezon": "UTC"}, "body.timezon"),
        ({"name": ""}, "body.name"),
    ],
)
async def test_bad_values_are_422_and_change_nothing(
    api: ApiHarness, mariadb_engine: Engine, change: dict[str, Any], location: str
) -> None:
    org_id = unique("org")
    path = f"/api/v1/orgs/{org_id}/comm-prefs"
    api.act_as(Role.ADMIN, org_id)
    assert (await api.client.put(path, json=ORG_BODY)).status_code == 200
    response = await api.client.put(path, json=ORG_BODY | change)
    assert response.status_code == 422, response.text
    payload = response.json()
    assert payload["error"] == "validation_error"
    assert [item["loc"] for item in payload["detail"]] == [location]
    assert (await api.client.get(path)).json()["timezone"] == "America/Phoenix"
    assert len(_audits(mariadb_engine, "org_prefs_changed", "org_id", org_id)) == 1


async def test_bad_time_zone_message_names_the_problem(api: ApiHarness) -> None:
    org_id = unique("org")
    api.act_as(Role.ADMIN, org_id)
    response = await api.client.put(
        f"/api/v1/orgs/{org_id}/comm-prefs",
        json=ORG_BODY | {"timezone": "Mars/Olympus_Mons"},
    )
    assert "unknown IANA time zone" in response.json()["detail"][0]["msg"]


async def test_provider_prefs_feed_the_patients_comm_context(
    api: ApiHarness, mariadb_engine: Engine
) -> None:
    org_id, provider_id, patient_id = unique("org"), unique("prov"), unique("pat")
    with mariadb_engine.begin() as connection:
        connection.execute(
            Patient.__table__.insert(),
            [{"id": patient_id, "org_id": org_id, "provider_id": provider_id}],
        )
    path = f"/api/v1/providers/{provider_id}/comm-prefs"
    body = {
        "org_id": org_id,
        "display_name": "Dr. Kim",
        "timezone": "Asia/Kolkata",
        "avoid_work_hours": True,
        "work_hours_start": "22:00",
        "work_hours_end": "06:00",
        "work_days": [4, 0, 2],
    }
    admin = api.credentials(Role.ADMIN, org_id)
    response = await api.client.put(path, json=body, headers=admin)
    assert response.status_code == 200, response.text
    assert response.json()["work_days"] == [0, 2, 4]

    context = (
        await api.client.get(
            f"/api/v1/patients/{patient_id}/comm-context",
            headers=api.credentials(Role.PLATFORM, org_id),
        )
    ).json()
    prefs = context["preferences"]
    assert (prefs["values"]["timezone"], prefs["sources"]["timezone"]) == (
        "Asia/Kolkata",
        "provider",
    )
    assert prefs["sources"]["work_hours_start"] == "provider"

    [audit] = _audits(mariadb_engine, "provider_prefs_changed", "provider_id", provider_id)
    assert audit["actor"] == "key:" + admin["X-API-Key"][:12]
    assert audit["detail"]["changes"]["timezone"] == {"from": None, "to": "Asia/Kolkata"}

    # The organisation comes from the credential: leaving it out is fine, another is refused.
    implied = await api.client.put(path, json={"timezone": "UTC"}, headers=admin)
    assert implied.status_code == 200 and implied.json()["org_id"] == org_id
    other_org = await api.client.put(
        path, json={"org_id": unique("org"), "timezone": "UTC"}, headers=admin
    )
    assert other_org.status_code == 403
    assert other_org.json()["detail"][0]["loc"] == "body.org_id"
    unknown = await api.client.get(f"/api/v1/providers/{unique('p')}/comm-prefs", headers=admin)
    assert unknown.status_code == 404
