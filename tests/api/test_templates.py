"""Templates through the API: the PHI policy at save time, immutable versions, one active."""

from __future__ import annotations

from typing import Any

import pytest
from sqlalchemy import Engine, select

from outreach.domain import Role
from outreach.sql.models import CommTemplate

from .conftest import ApiHarness, unique

pytestmark = pytest.mark.asyncio(loop_scope="session")

SMS_BODY = "Hi {{ first_name }}, see you {{ appointment_date }} at {{ appointment_time }}."


def _editor_of_new_org(api: ApiHarness) -> str:
    """A new organisation, with every later call made by one of its marketers."""
    org_id = unique("org")
    api.act_as(Role.MARKETER, org_id)
    return org_id


def _sms(org_id: str, **overrides: Any) -> dict[str, Any]:
    return {
        "org_id": org_id,
        "purpose": "appt_reminder",
        "channel": "sms",
        "language": "en",
        "body": SMS_BODY,
        "declared_variables": ["first_name", "appointment_date", "appointment_time"],
        **overrides,
    }


async def test_create_version_activate_and_list(api: ApiHarness, mariadb_engine: Engine) -> None:
    org_id = _editor_of_new_org(api)
    created = await api.client.post(
        "/api/v1/templates", json=_sms(org_id), headers={"X-Actor": "editor@clinic"}
    )
    assert created.status_code == 201, created.text
    first = created.json()
    assert (first["version"], first["is_active"]) == (1, False)
    assert first["created_by"] == "key:" + api.credentials(Role.MARKETER, org_id)["X-API-Key"][:12]
    assert first["family_key"] == f"{org_id}|-|appt_reminder|sms|en|A"

    duplicate = await api.client.post("/api/v1/templates", json=_sms(org_id))
    assert duplicate.status_code == 409
    assert duplicate.json()["detail"]["latest_id"] == first["id"]

    second = await api.client.post(
        f"/api/v1/templates/{first['id']}/versions",
        json={"body": "Reminder for {{ first_name }}.", "declared_variables": ["first_name"]},
    )
    assert second.status_code == 201, second.text
    v2 = second.json()
    assert (v2["version"], v2["family_key"], v2["is_active"]) == (2, first["family_key"], False)

    activated = await api.client.post(f"/api/v1/templates/{v2['id']}/activate")
    assert activated.status_code == 200 and activated.json()["is_active"] is True
    await api.client.post(f"/api/v1/templates/{first['id']}/activate")

    listed = (
        await api.client.get(
            "/api/v1/templates",
            params={
                "org_id": org_id,
                "channel": "sms",
                "purpose": "appt_reminder",
                "language": "en",
            },
        )
    ).json()["templates"]
    assert [(t["version"], t["is_active"]) for t in listed] == [(1, True), (2, False)]
    active = (
        await api.client.get("/api/v1/templates", params={"org_id": org_id, "active": "true"})
    ).json()
    assert [t["id"] for t in active["templates"]] == [first["id"]]

    # Versions are immutable: version 1 still holds its original body.
    with mariadb_engine.connect() as connection:
        body = connection.execute(
            select(CommTemplate.body).where(CommTemplate.id == first["id"])
        ).scalar_one()
    assert body == SMS_BODY


async def test_phi_in_an_sms_is_refused_with_the_violation(
    api: ApiHarness, mariadb_engine: Engine
) -> None:
    org_id = _editor_of_new_org(api)
    body = _sms(
        org_id,
        body="Hi {{ first_name }},\nyour {{ diagnosis | upper }} results are in",
        declared_variables=["first_name", "diagnosis"],
    )
    response = await api.client.post("/api/v1/templates", json=body)
    assert response.status_code == 422
    payload = response.json()
    assert payload["error"] == "phi_policy_violation"
    assert {
        "code": "phi_not_allowed",
        "variable": "diagnosis",
        "line": 2,
        "channel": "sms",
        "surface": "body",
    }.items() <= next(v for v in payload["detail"] if v["line"] == 2).items()
    assert all(
        set(v) == {"code", "variable", "line", "channel", "surface", "message"}
        for v in payload["detail"]
    )
    with mariadb_engine.connect() as connection:
        stored = connection.execute(
            select(CommTemplate.id).where(CommTemplate.org_id == org_id)
        ).all()
    assert stored == []


async def test_a_new_version_is_held_to_the_policy_too(api: ApiHarness) -> None:
    created = (
        await api.client.post("/api/v1/templates", json=_sms(_editor_of_new_org(api)))
    ).json()
    sneaky = await api.client.post(
        f"/api/v1/templates/{created['id']}/versions",
        json={
            "body": "{% set x = medication %}Hi {{ first_name }} {{ x }}",
            "declared_variables": ["first_name", "medication"],
        },
    )
    assert sneaky.status_code == 422
    assert {v["variable"] for v in sneaky.json()["detail"]} >= {"medication"}


async def test_an_email_needs_a_subject_and_the_error_says_so(api: ApiHarness) -> None:
    response = await api.client.post(
        "/api/v1/templates",
        json=_sms(
            _editor_of_new_org(api),
            channel="email",
            body="<p>Hi {{ first_name }}</p>",
            declared_variables=["first_name"],
        ),
    )
    assert response.status_code == 422
    assert response.json()["error"] == "template_policy_violation"
    assert response.json()["detail"][0]["surface"] == "subject"


async def test_preview_renders_samples_and_masks_phi(api: ApiHarness) -> None:
    created = (
        await api.client.post(
            "/api/v1/templates", json=_sms(_editor_of_new_org(api), language="fr")
        )
    ).json()
    response = await api.client.post(
        f"/api/v1/templates/{created['id']}/preview",
        json={
            "sample_context": {
                "first_name": "Ana",
                "diagnosis": "SECRET-DX",
                "appointment_date": "2026-03-07T16:30:00+00:00",
            },
            "timezone": "Europe/Paris",
        },
    )
    assert response.status_code == 200, response.text
    shown = response.json()
    assert shown["body"].startswith("Hi Ana, see you samedi 7 mars at ")
    assert shown["body"].endswith("[appointment_time].")
    assert shown["placeholder_variables"] == ["appointment_time"]
    assert "SECRET-DX" not in response.text
    assert (shown["sms_segments"], shown["encoding"], shown["within_segment_limit"]) == (
        1,
        "GSM-7",
        True,
    )


async def test_preview_refuses_bad_input_cleanly(api: ApiHarness) -> None:
    created = (
        await api.client.post("/api/v1/templates", json=_sms(_editor_of_new_org(api)))
    ).json()
    bad_zone = await api.client.post(
        f"/api/v1/templates/{created['id']}/preview", json={"timezone": "Nowhere/Land"}
    )
    assert bad_zone.status_code == 422
    unknown = await api.client.post("/api/v1/templates/999999999/preview", json={})
    assert unknown.status_code == 404
    assert unknown.json() == {"error": "not_found", "detail": "unknown template"}


async def test_a_template_written_past_the_api_cannot_be_activated_or_previewed(
    api: ApiHarness, mariadb_engine: Engine
) -> None:
    org_id = _editor_of_new_org(api)
    with mariadb_engine.begin() as connection:
        template_id = connection.execute(
            CommTemplate.__table__.insert().values(
                family_key=f"{org_id}|-|lab_ready|sms|en|A",
                org_id=org_id,
                purpose="lab_ready",
                channel="sms",
                language="en",
                variant="A",
                version=1,
                body="Your {{ lab_result }} is ready",
                declared_variables=["lab_result"],
                is_active=False,
            )
        ).inserted_primary_key[0]
    activated = await api.client.post(f"/api/v1/templates/{template_id}/activate")
    assert activated.status_code == 422
    assert activated.json()["detail"][0]["variable"] == "lab_result"
    previewed = await api.client.post(f"/api/v1/templates/{template_id}/preview", json={})
    assert previewed.status_code == 422
    assert (await api.client.get(f"/api/v1/templates/{template_id}")).json()["is_active"] is False
