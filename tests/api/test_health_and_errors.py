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


async def test_healthz_and_readyz(api: ApiHarness) -> None:
    assert (await api.client.get("/healthz")).json() == {"status": "ok"}
    ready = await api.client.get("/readyz")
    assert ready.status_code == 200
    assert ready.json() == {"status": "ready", "checks": {"database": "ok", "publisher": "ok"}}


async def test_readyz_fails_without_a_publisher(api: ApiHarness) -> None:
    await api.publisher.stop()
    ready = await api.client.get("/readyz")
    assert ready.status_code == 503
    assert ready.json() == {
        "error": "not_ready",
        "detail": {"database": "ok", "publisher": "unavailable"},
    }


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
            response = await harness.client.get("/api/v1/patients/pat-1/comm-context")
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
