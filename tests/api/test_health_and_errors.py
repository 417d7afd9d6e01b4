"""Liveness, readiness, and the error shape: JSON ``{"error", "detail"}``, never a stack trace."""

from __future__ import annotations

import logging

import pytest
from sqlalchemy import Engine
from sqlalchemy.engine import make_url

from outreach.api.errors import INTERNAL_ERROR
from outreach.config import Settings
from outreach.sql.engine import build_engine

from .conftest import ApiHarness, running_api

pytestmark = pytest.mark.asyncio(loop_scope="session")

PRIVATE_VALUE = "+15551234567 diagnosis=SECRET-DX"


@pytest.mark.parametrize(("health", "ready"), [("/health", "/ready"), ("/healthz", "/readyz")])
async def test_health_and_ready_need_no_credential(
    api: ApiHarness, health: str, ready: str
) -> None:
    assert (await api.client.get(health)).json() == {"status": "ok"}
    answer = await api.client.get(ready)
    assert answer.status_code == 200
    assert answer.json() == {
        "status": "ready",
        "checks": {"database": "ok", "kafka": "ok", "redis": "ok"},
    }


async def test_ready_fails_without_kafka(api: ApiHarness) -> None:
    await api.publisher.stop()
    ready = await api.client.get("/ready")
    assert ready.status_code == 503
    assert ready.json() == {
        "error": "not_ready",
        "detail": {"database": "ok", "kafka": "unavailable", "redis": "ok"},
    }


async def test_ready_fails_without_redis(
    api_settings: Settings, mariadb_engine: Engine, kafka_topics: str
) -> None:
    from redis import Redis

    unreachable = Redis(host="127.0.0.1", port=1, socket_connect_timeout=0.2)
    async with running_api(api_settings, mariadb_engine, {}, unreachable) as harness:
        ready = await harness.client.get("/ready")
    assert ready.status_code == 503
    assert ready.json()["detail"]["redis"] == "unavailable"


async def test_a_deep_recursion_logs_a_bounded_trace_and_answers_a_bare_500(
    api: ApiHarness, caplog: pytest.LogCaptureFixture
) -> None:
    def recurse(depth: int) -> int:
        return recurse(depth + 1) + 1

    async def crash() -> None:
        recurse(0)

    api.app.add_api_route("/test/recurse", crash, methods=["GET"])
    with caplog.at_level(logging.ERROR):
        response = await api.client.get("/test/recurse")
    assert response.status_code == 500 and response.json() == INTERNAL_ERROR
    logged = "\n".join(r.getMessage() + (r.exc_text or "") for r in caplog.records)
    assert "RecursionError" in logged
    assert logged.count("\n") < 120, f"{logged.count(chr(10))} lines logged for one request"


async def test_an_unexpected_exception_is_a_bare_internal_error(
    api: ApiHarness, caplog: pytest.LogCaptureFixture
) -> None:
    async def explode(patient_id: str) -> None:
        raise RuntimeError(f"boom for {PRIVATE_VALUE}")

    api.app.add_api_route("/test/explode/{patient_id}", explode, methods=["GET"])
    with caplog.at_level(logging.ERROR, logger="outreach.api"):
        response = await api.client.get("/test/explode/pat-42")
    assert response.status_code == 500
    assert response.json() == INTERNAL_ERROR
    assert "Traceback" not in response.text and "SECRET" not in response.text
    logged = "\n".join(r.getMessage() for r in caplog.records)
    assert "RuntimeError" in logged and "pat-42" in logged
    assert "SECRET-DX" not in logged and "+1555" not in logged


async def test_a_database_failure_is_a_500_without_details(
    api_settings: Settings, mariadb_engine: Engine, kafka_topics: str
) -> None:
    # A real engine on a database that does not exist: the driver's message names it.
    url = make_url(str(mariadb_engine.url)).set(database="outreach_no_such_db")
    broken = build_engine(url.render_as_string(hide_password=False))
    try:
        async with running_api(api_settings, broken, {}, None) as harness:
            # A well-formed key: checking it is the first thing that needs the database.
            key = {"X-API-Key": "ork_abcdefgh_" + "k" * 43}
            response = await harness.client.get("/api/v1/patients/pat-1/comm-context", headers=key)
            assert response.status_code == 500
            assert response.json() == INTERNAL_ERROR
            assert "outreach_no_such_db" not in response.text
            ready = await harness.client.get("/readyz")
            assert ready.status_code == 503
            assert ready.json()["detail"]["database"] == "unavailable"
    finally:
        broken.dispose()


async def test_unknown_routes_and_methods_keep_the_error_shape(api: ApiHarness) -> None:
    missing = await api.client.get("/api/v1/nothing-here")
    assert missing.status_code == 404
    assert missing.json() == {"error": "not_found", "detail": "Not Found"}
    wrong = await api.client.delete("/healthz")
    assert wrong.status_code == 405
    assert wrong.json()["error"] == "method_not_allowed"
