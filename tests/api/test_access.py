"""Who may do what: every route declares its roles; credentials, roles, tenant walls and the
audit trail hold against the real services."""

from __future__ import annotations

import time
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from typing import Any

import jwt
import pytest
from fastapi import APIRouter, FastAPI
from pydantic import SecretStr
from sqlalchemy import Engine, select

from outreach.api import create_api_app
from outreach.api.access import OpenAccess, RoleGuard, access_rules, api_routes
from outreach.channels import ChannelWorker
from outreach.config import Settings
from outreach.domain import Role
from outreach.sql.models import CommAuditLog, CommTemplate, Patient

from .conftest import ApiHarness, running_api, unique

pytestmark = pytest.mark.asyncio(loop_scope="session")

JWT_ISSUER = "https://sso.clinic.example"
JWT_SECRET = "sso-test-secret-of-at-least-32-bytes!"

# Every guarded route of main, with the roles it admits (the declared contract).
ROLES_BY_ROUTE: dict[tuple[str, str], set[Role]] = {
    ("POST", "/api/v1/comm/schedule"): {Role.PLATFORM},
    ("GET", "/api/v1/comm/requests/{request_id:path}"): {Role.PLATFORM},
    ("GET", "/api/v1/patients/{patient_id}/comm-context"): {Role.PLATFORM},
    ("GET", "/api/v1/orgs/{org_id}/comm-prefs"): {Role.ADMIN},
    ("PUT", "/api/v1/orgs/{org_id}/comm-prefs"): {Role.ADMIN},
    ("GET", "/api/v1/providers/{provider_id}/comm-prefs"): {Role.ADMIN},
    ("PUT", "/api/v1/providers/{provider_id}/comm-prefs"): {Role.ADMIN},
    ("POST", "/api/v1/templates"): {Role.MARKETER, Role.ADMIN},
    ("GET", "/api/v1/templates"): {Role.MARKETER, Role.ADMIN},
    ("GET", "/api/v1/templates/{template_id}"): {Role.MARKETER, Role.ADMIN},
    ("POST", "/api/v1/templates/{template_id}/versions"): {Role.MARKETER, Role.ADMIN},
    ("POST", "/api/v1/templates/{template_id}/activate"): {Role.MARKETER, Role.ADMIN},
    ("POST", "/api/v1/templates/{template_id}/preview"): {Role.MARKETER, Role.ADMIN},
    ("POST", "/api/v1/keys"): {Role.ADMIN},
    ("GET", "/api/v1/keys"): {Role.ADMIN},
    ("DELETE", "/api/v1/keys/{prefix}"): {Role.ADMIN},
    ("GET", "/api/v1/segments/catalogue"): {Role.MARKETER, Role.ADMIN},
    ("POST", "/api/v1/segments/validate"): {Role.MARKETER, Role.ADMIN},
    ("POST", "/api/v1/segments/preview"): {Role.MARKETER, Role.ADMIN},
    ("POST", "/api/v1/segments"): {Role.MARKETER, Role.ADMIN},
    ("GET", "/api/v1/segments"): {Role.MARKETER, Role.ADMIN},
    ("GET", "/api/v1/segments/{segment_id}"): {Role.MARKETER, Role.ADMIN},
    ("PUT", "/api/v1/segments/{segment_id}"): {Role.MARKETER, Role.ADMIN},
    ("POST", "/api/v1/segments/{segment_id}/preview"): {Role.MARKETER, Role.ADMIN},
    ("POST", "/api/v1/campaigns"): {Role.MARKETER, Role.ADMIN},
    ("GET", "/api/v1/campaigns/{campaign_id}"): {Role.MARKETER, Role.ADMIN},
    ("GET", "/api/v1/campaigns/{campaign_id}/status"): {Role.MARKETER, Role.ADMIN},
    ("POST", "/api/v1/campaigns/{campaign_id}/activate"): {Role.MARKETER, Role.ADMIN},
    ("POST", "/api/v1/campaigns/{campaign_id}/pause"): {Role.MARKETER, Role.ADMIN},
    ("POST", "/api/v1/campaigns/{campaign_id}/resume"): {Role.MARKETER, Role.ADMIN},
    ("POST", "/api/v1/campaigns/{campaign_id}/complete"): {Role.MARKETER, Role.ADMIN},
    ("POST", "/api/v1/campaigns/{campaign_id}/archive"): {Role.MARKETER, Role.ADMIN},
    ("GET", "/api/v1/reports/funnel"): {Role.ANALYST, Role.ADMIN},
}


def _route_rules(app: FastAPI) -> dict[tuple[str, str], list[Any]]:
    return {
        (method, route.path): access_rules(route)
        for route in api_routes(app)
        for method in route.methods
    }


async def test_every_route_declares_exactly_one_access_rule(api: ApiHarness) -> None:
    rules = _route_rules(api.app)
    assert rules, "no routes found: the walk is broken"
    assert {key: len(found) for key, found in rules.items() if len(found) != 1} == {}
    guarded = {
        key: set(found[0].roles)
        for key, found in rules.items()
        if isinstance(found[0], RoleGuard) and not key[1].startswith("/console")
    }
    assert guarded == ROLES_BY_ROUTE  # the console's pages: tests/api/console/test_access.py
    open_paths = {path for (_, path), found in rules.items() if isinstance(found[0], OpenAccess)}
    assert {p for p in open_paths if not p.startswith(("/webhooks/", "/p/", "/console"))} == {
        "/health",
        "/ready",
        "/healthz",
        "/readyz",
        "/metrics",
        "/api/v1/portal/verify",
        "/api/v1/comm/webhook/outbound-status",
        "/api/v1/comm/webhook/inbound",
        "/api/v1/unsubscribe/{token}",  # the signed link is the credential
    }


async def test_an_app_with_a_route_that_declares_no_access_is_refused(
    api_settings: Settings, mariadb_engine: Engine, monkeypatch: pytest.MonkeyPatch
) -> None:
    from outreach.api import health

    careless = APIRouter()

    @careless.get("/api/v1/reports/everything")
    def everything() -> dict[str, str]:
        return {}

    original = health.router
    combined = APIRouter()
    combined.include_router(original)
    combined.include_router(careless)
    monkeypatch.setattr(health, "router", combined)
    with pytest.raises(RuntimeError, match="/api/v1/reports/everything: 0 access rules"):
        create_api_app(api_settings, engine=mariadb_engine, channels={})


def _sample_request(method: str, path: str) -> tuple[str, dict[str, Any] | None]:
    concrete = (
        path.replace("{request_id:path}", "req-1")
        .replace("{patient_id}", "pat-none")
        .replace("{org_id}", "org-none")
        .replace("{provider_id}", "prov-none")
        .replace("{template_id}", "1")
        .replace("{prefix}", "ork_nonenone")
        .replace("{segment_id}", "1")
        .replace("{campaign_id}", "1")
    )
    return concrete, ({} if method in ("POST", "PUT") else None)


@pytest.mark.parametrize(("method", "path"), sorted(ROLES_BY_ROUTE))
async def test_each_role_is_admitted_or_refused_on_each_route(
    api: ApiHarness, method: str, path: str
) -> None:
    url, body = _sample_request(method, path)
    org_id = unique("org")
    anonymous = await api.client.request(method, url, json=body)
    assert anonymous.status_code == 401, anonymous.text
    assert anonymous.headers["WWW-Authenticate"] == "Bearer"
    for role in Role:
        response = await api.client.request(
            method, url, json=body, headers=api.credentials(role, org_id)
        )
        if role in ROLES_BY_ROUTE[(method, path)]:
            assert response.status_code not in (401, 403), (role, response.text)
        else:
            assert response.status_code == 403, (role, response.text)
            assert response.json()["error"] == "forbidden"


async def test_bad_and_revoked_keys_are_401(api: ApiHarness) -> None:
    org_id = unique("org")
    admin = api.credentials(Role.ADMIN, org_id)
    for key in ("nonsense", "ork_abcdefgh_" + "x" * 43, admin["X-API-Key"][:-1] + "!"):
        response = await api.client.get("/api/v1/keys", headers={"X-API-Key": key})
        assert response.status_code == 401, key
    issued = await api.client.post(
        "/api/v1/keys", json={"role": "platform", "name": "core platform"}, headers=admin
    )
    assert issued.status_code == 201, issued.text
    key = issued.json()["key"]
    assert key.startswith(issued.json()["prefix"] + "_")
    listed = (await api.client.get("/api/v1/keys", headers=admin)).json()
    assert [k["prefix"] for k in listed if k["role"] == "platform"] == [issued.json()["prefix"]]
    assert key not in str(listed)
    platform = {"X-API-Key": key}
    assert (await api.client.get("/api/v1/comm/requests/x", headers=platform)).status_code == 404
    revoked = await api.client.delete(f"/api/v1/keys/{issued.json()['prefix']}", headers=admin)
    assert revoked.status_code == 204
    assert (await api.client.get("/api/v1/comm/requests/x", headers=platform)).status_code == 401


async def test_an_admin_cannot_revoke_another_organisations_key(api: ApiHarness) -> None:
    victim = api.credentials(Role.PLATFORM, unique("org"))["X-API-Key"][:12]
    response = await api.client.delete(
        f"/api/v1/keys/{victim}", headers=api.credentials(Role.ADMIN, unique("org"))
    )
    assert response.status_code == 404


def _store_patient(engine: Engine, org_id: str) -> str:
    patient_id = unique("pat")
    with engine.begin() as connection:
        connection.execute(Patient.__table__.insert(), [{"id": patient_id, "org_id": org_id}])
    return patient_id


async def test_another_organisations_objects_are_404s_like_missing_ones(
    api: ApiHarness, mariadb_engine: Engine
) -> None:
    mine, theirs = unique("org"), unique("org")
    their_patient = _store_patient(mariadb_engine, theirs)
    platform = api.credentials(Role.PLATFORM, mine)

    context = await api.client.get(
        f"/api/v1/patients/{their_patient}/comm-context", headers=platform
    )
    missing = await api.client.get(
        f"/api/v1/patients/{unique('pat')}/comm-context", headers=platform
    )
    assert (context.status_code, context.json()) == (missing.status_code, missing.json())
    assert context.status_code == 404

    scheduled = await api.client.post(
        "/api/v1/comm/schedule",
        json={"event_id": unique("evt"), "patient_id": their_patient, "purpose": "lab_ready"},
        headers=platform,
    )
    assert scheduled.status_code == 404 and scheduled.json()["detail"] == "unknown patient"
    for_them = await api.client.post(
        "/api/v1/comm/schedule",
        json={
            "event_id": unique("evt"),
            "org_id": theirs,
            "patient_id": their_patient,
            "purpose": "lab_ready",
        },
        headers=platform,
    )
    assert for_them.status_code == 403

    their_admin = api.credentials(Role.ADMIN, theirs)
    prefs = {"name": "Their Clinic", "booking_url": "https://their.example/book"}
    assert (
        await api.client.put(f"/api/v1/orgs/{theirs}/comm-prefs", json=prefs, headers=their_admin)
    ).status_code == 200
    my_admin = api.credentials(Role.ADMIN, mine)
    phishing = {"name": "Their Clinic", "booking_url": "https://phish.example"}
    changed = await api.client.put(
        f"/api/v1/orgs/{theirs}/comm-prefs", json=phishing, headers=my_admin
    )
    assert changed.status_code == 404
    read = await api.client.get(f"/api/v1/orgs/{theirs}/comm-prefs", headers=my_admin)
    assert read.status_code == 404
    shown = await api.client.get(f"/api/v1/orgs/{theirs}/comm-prefs", headers=their_admin)
    assert shown.json()["booking_url"] == "https://their.example/book"

    their_template = await api.client.post(
        "/api/v1/templates",
        json={
            "org_id": theirs,
            "purpose": "appt_reminder",
            "channel": "sms",
            "language": "en",
            "body": "See you soon.",
        },
        headers=api.credentials(Role.MARKETER, theirs),
    )
    assert their_template.status_code == 201, their_template.text
    template_id = their_template.json()["id"]
    my_marketer = api.credentials(Role.MARKETER, mine)
    for method, url, body in (
        ("GET", f"/api/v1/templates/{template_id}", None),
        ("POST", f"/api/v1/templates/{template_id}/versions", {"body": "Click evil.example"}),
        ("POST", f"/api/v1/templates/{template_id}/activate", None),
        ("POST", f"/api/v1/templates/{template_id}/preview", {}),
    ):
        response = await api.client.request(method, url, json=body, headers=my_marketer)
        assert response.status_code == 404, (url, response.text)
    listed = await api.client.get(
        "/api/v1/templates", params={"org_id": theirs}, headers=my_marketer
    )
    assert listed.json() == {"templates": []}


async def test_only_admins_change_global_templates(api: ApiHarness, mariadb_engine: Engine) -> None:
    language = "en-" + unique("g")[-8:]
    body = {
        "purpose": "appt_reminder",
        "channel": "sms",
        "language": language,
        "body": "Reminder from your clinic.",
        "activate": True,
    }
    org_id = unique("org")
    marketer = api.credentials(Role.MARKETER, org_id)
    refused = await api.client.post("/api/v1/templates", json=body, headers=marketer)
    assert refused.status_code == 403 and "only admins" in refused.text
    admin = api.credentials(Role.ADMIN, org_id)
    created = await api.client.post("/api/v1/templates", json=body, headers=admin)
    assert created.status_code == 201, created.text
    template_id = created.json()["id"]
    assert created.json()["org_id"] is None
    # Marketers read global templates but may not change or activate them.
    assert (
        await api.client.get(f"/api/v1/templates/{template_id}", headers=marketer)
    ).status_code == 200
    for url, payload in (
        (f"/api/v1/templates/{template_id}/versions", {"body": "Pay at evil.example"}),
        (f"/api/v1/templates/{template_id}/activate", None),
    ):
        response = await api.client.post(url, json=payload, headers=marketer)
        assert response.status_code == 403, response.text
    with mariadb_engine.connect() as connection:
        versions = connection.execute(
            select(CommTemplate.version).where(CommTemplate.language == language)
        ).all()
    assert versions == [(1,)]


def _audit_rows(engine: Engine, action: str, **match: Any) -> list[dict[str, Any]]:
    table = CommAuditLog.__table__
    with engine.connect() as connection:
        rows = connection.execute(select(table).where(table.c.action == action)).mappings().all()
    return [dict(r) for r in rows if all(r[k] == v for k, v in match.items())]


async def test_audit_rows_name_the_credential_address_and_client(
    api: ApiHarness, mariadb_engine: Engine
) -> None:
    org_id = unique("org")
    patient_id = _store_patient(mariadb_engine, org_id)
    platform = api.credentials(Role.PLATFORM, org_id)
    response = await api.client.get(
        f"/api/v1/patients/{patient_id}/comm-context",
        headers={**platform, "User-Agent": "core-platform/7.1", "X-Actor": "someone-else"},
    )
    assert response.status_code == 200
    [row] = _audit_rows(mariadb_engine, "comm_context_read", patient_id=patient_id)
    assert row["actor"] == "key:" + platform["X-API-Key"][:12]
    assert (row["org_id"], row["user_agent"]) == (org_id, "core-platform/7.1")
    assert row["ip"] == "127.0.0.1"

    admin = api.credentials(Role.ADMIN, org_id)
    issued = await api.client.post(
        "/api/v1/keys", json={"role": "analyst", "name": "reports"}, headers=admin
    )
    prefix = issued.json()["prefix"]
    await api.client.delete(f"/api/v1/keys/{prefix}", headers=admin)
    admin_actor = "key:" + admin["X-API-Key"][:12]
    for action in ("api_key_created", "api_key_revoked"):
        [row] = [r for r in _audit_rows(mariadb_engine, action) if r["detail"]["prefix"] == prefix]
        assert (row["actor"], row["org_id"]) == (admin_actor, org_id)

    created = await api.client.post(
        "/api/v1/templates",
        json={
            "org_id": org_id,
            "purpose": "no_show",
            "channel": "sms",
            "language": "en",
            "body": "We missed you today.",
        },
        headers=api.credentials(Role.MARKETER, org_id),
    )
    assert created.status_code == 201
    [row] = [
        r
        for r in _audit_rows(mariadb_engine, "template_created")
        if r["detail"]["template_id"] == created.json()["id"]
    ]
    assert row["actor"] == "key:" + api.credentials(Role.MARKETER, org_id)["X-API-Key"][:12]


@pytest.fixture
async def sso_api(
    api_settings: Settings,
    mariadb_engine: Engine,
    channels: dict[str, ChannelWorker],
    kafka_topics: str,
) -> AsyncIterator[ApiHarness]:
    settings = api_settings.model_copy(
        update={
            "jwt_issuer": JWT_ISSUER,
            "jwt_key": SecretStr(JWT_SECRET),
            "jwt_audience": "outreach",
        }
    )
    async with running_api(settings, mariadb_engine, channels, None) as harness:
        yield harness


def _token(**claims: Any) -> str:
    now = int(time.time())
    payload = {
        "iss": JWT_ISSUER,
        "aud": "outreach",
        "sub": "alice@clinic.example",
        "exp": now + 300,
        "role": "admin",
        **claims,
    }
    return jwt.encode({k: v for k, v in payload.items() if v is not None}, JWT_SECRET, "HS256")


async def test_single_sign_on_tokens_authenticate_and_name_their_subject(
    sso_api: ApiHarness, mariadb_engine: Engine
) -> None:
    org_id = unique("org")
    bearer = {"Authorization": f"Bearer {_token(org_id=org_id)}"}
    response = await sso_api.client.put(
        f"/api/v1/orgs/{org_id}/comm-prefs", json={"name": "Clinic"}, headers=bearer
    )
    assert response.status_code == 200, response.text
    [row] = _audit_rows(mariadb_engine, "org_prefs_changed", org_id=org_id)
    assert row["actor"] == "sso:alice@clinic.example"

    expired = int((datetime.now(UTC) - timedelta(hours=1)).timestamp())
    for token in (
        _token(org_id=org_id, exp=expired),
        _token(org_id=org_id, iss="https://evil.example"),
        _token(org_id=org_id, aud="someone-else"),
        _token(org_id=org_id, role="superuser"),
        _token(org_id=None),
        jwt.encode({"iss": JWT_ISSUER, "org_id": org_id, "role": "admin"}, "wrong", "HS256"),
        "not.a.token",
    ):
        refused = await sso_api.client.get(
            f"/api/v1/orgs/{org_id}/comm-prefs", headers={"Authorization": f"Bearer {token}"}
        )
        assert refused.status_code == 401, token
    marketer = {"Authorization": f"Bearer {_token(org_id=org_id, role='marketer')}"}
    assert (
        await sso_api.client.get(f"/api/v1/orgs/{org_id}/comm-prefs", headers=marketer)
    ).status_code == 403


async def test_bearer_tokens_are_refused_when_sso_is_not_configured(api: ApiHarness) -> None:
    response = await api.client.get(
        "/api/v1/keys", headers={"Authorization": f"Bearer {_token(org_id='org-1')}"}
    )
    assert response.status_code == 401
    assert "not configured" in response.json()["detail"]


async def test_the_openapi_document_declares_the_schemes_and_roles(api: ApiHarness) -> None:
    schema = api.app.openapi()
    assert set(schema["components"]["securitySchemes"]) == {"apiKey", "bearerAuth"}
    operation = schema["paths"]["/api/v1/templates"]["post"]
    assert operation["x-roles"] == ["admin", "marketer"]
    assert {"401", "403"} <= set(operation["responses"])
    assert {"apiKey": []} in operation["security"] and {"bearerAuth": []} in operation["security"]
    assert "security" not in schema["paths"]["/health"]["get"]
