"""Portal link verification: signed, expiring, and one-time links consumed once through Redis."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from sqlalchemy import Engine

from outreach.channels import ChannelWorker
from outreach.config import Settings
from outreach.domain import Purpose
from outreach.templating import PortalResource, make_portal_link, make_portal_token

from .conftest import PORTAL_SECRET, ApiHarness, running_api, unique

pytestmark = pytest.mark.asyncio(loop_scope="session")

RESOURCE = PortalResource(Purpose.LAB_READY, "result-77")


def _token(
    *,
    one_time: bool = False,
    ttl: timedelta = timedelta(hours=1),
    now: datetime | None = None,
    secret: str = PORTAL_SECRET,
    patient_id: str = "pat-1",
) -> str:
    return make_portal_token(
        secret, patient_id, RESOURCE, ttl, now or datetime.now(UTC), one_time=one_time
    )


async def test_a_link_as_messages_carry_it_verifies(api: ApiHarness) -> None:
    patient_id = unique("pat")
    link = make_portal_link(
        "https://portal.clinic.example",
        PORTAL_SECRET,
        patient_id,
        RESOURCE,
        timedelta(hours=1),
        datetime.now(UTC),
    )
    path = link.removeprefix("https://portal.clinic.example")
    for _ in range(2):  # not one-time: opens as often as the patient likes
        response = await api.client.get(path)
        assert response.status_code == 200, response.text
        claim = response.json()
        assert (claim["patient_id"], claim["purpose"], claim["resource_id"]) == (
            patient_id,
            "lab_ready",
            "result-77",
        )
        assert claim["one_time"] is False


async def test_a_one_time_link_opens_once(api: ApiHarness, redis_client: Any) -> None:
    token = _token(one_time=True)
    first = await api.client.get("/api/v1/portal/verify", params={"token": token})
    assert first.status_code == 200 and first.json()["one_time"] is True
    second = await api.client.get(f"/p/{token}")
    assert second.status_code == 403
    assert second.json() == {"error": "invalid_token", "detail": "reused"}
    keys = list(redis_client.scan_iter(match=api.settings.redis_key_prefix + "portal:nonce:*"))
    assert len(keys) == 1
    assert 0 < redis_client.ttl(keys[0]) <= 3601  # gone when the token would have expired


@pytest.mark.parametrize(
    ("token", "problem"),
    [
        (
            lambda: _token(now=datetime.now(UTC) - timedelta(days=2), ttl=timedelta(days=1)),
            "expired",
        ),
        (lambda: _token(secret="someone-elses-secret"), "bad_signature"),
        (lambda: _token()[:-3] + "AAA", "bad_signature"),
        (lambda: "not-a-token", "malformed"),
        (lambda: "x" * 600, "malformed"),
    ],
)
async def test_bad_tokens_are_refused_with_the_reason(
    api: ApiHarness, token: Any, problem: str
) -> None:
    response = await api.client.get("/api/v1/portal/verify", params={"token": token()})
    assert response.status_code == 403
    assert response.json() == {"error": "invalid_token", "detail": problem}


async def test_one_time_links_without_redis_are_unavailable_not_accepted(
    api_settings: Settings,
    mariadb_engine: Engine,
    channels: dict[str, ChannelWorker],
    kafka_topics: str,
) -> None:
    async with running_api(api_settings, mariadb_engine, channels, None) as harness:
        response = await harness.client.get(f"/p/{_token(one_time=True)}")
        assert response.status_code == 503
        assert (await harness.client.get(f"/p/{_token()}")).status_code == 200
