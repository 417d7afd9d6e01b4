"""schemathesis against the OpenAPI document: every operation, authenticated with a key of a
role it admits, a bounded number of generated requests each, and not one 5xx answer."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Iterator
from datetime import UTC, datetime
from typing import Any

import pytest
import schemathesis
import uvicorn
from hypothesis import HealthCheck, given, settings
from sqlalchemy import Engine

from outreach.api import create_api_app
from outreach.api.access import API_KEY_HEADER
from outreach.channels import ChannelWorker
from outreach.config import Settings
from outreach.domain import Actor, Role
from outreach.embedded.ports import free_loopback_port
from outreach.services.api_keys import issue_api_key
from outreach.sql.store import Store

from .conftest import unique

# Enough to reach every validation branch of a route, few enough for CI (about a minute).
EXAMPLES_PER_OPERATION = 25


@pytest.fixture
def served_api(
    api_settings: Settings,
    mariadb_engine: Engine,
    channels: dict[str, ChannelWorker],
    kafka_topics: str,
) -> Iterator[str]:
    """The app under a real uvicorn server on a loopback port (its own thread and loop)."""
    port = free_loopback_port()
    app = create_api_app(api_settings, engine=mariadb_engine, channels=channels, redis=None)
    server = uvicorn.Server(
        uvicorn.Config(app, host="127.0.0.1", port=port, log_config=None, access_log=False)
    )
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 20
    while not server.started:
        assert time.monotonic() < deadline, "the API did not start"
        time.sleep(0.05)
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        server.should_exit = True
        thread.join(timeout=10)


def _fuzz(operation: Any, base_url: str, key: str | None) -> Callable[[], list[str]]:
    """A bounded hypothesis run of one operation, listing the calls that answered 5xx."""
    headers = {API_KEY_HEADER: key} if key else {}
    failures: list[str] = []

    @settings(
        max_examples=EXAMPLES_PER_OPERATION,
        deadline=None,
        derandomize=True,
        database=None,
        suppress_health_check=list(HealthCheck),
    )
    @given(case=operation.as_strategy())
    def no_server_error(case: schemathesis.Case) -> None:
        response = case.call(base_url=base_url, headers=headers, timeout=30)
        if response.status_code >= 500:
            failures.append(f"{case.method} {case.formatted_path}: {response.status_code}")

    def run() -> list[str]:
        no_server_error()
        return failures

    return run


def test_no_operation_answers_a_server_error(served_api: str, mariadb_engine: Engine) -> None:
    org_id = unique("org-fuzz")
    keys = {
        role: issue_api_key(
            Store(mariadb_engine),
            org_id=org_id,
            role=role,
            name="schemathesis",
            actor=Actor("system:tests"),
            now=datetime.now(UTC),
        ).plaintext
        for role in Role
    }
    schema = schemathesis.openapi.from_url(f"{served_api}/openapi.json")
    failures: list[str] = []
    operations = 0
    for result in schema.get_all_operations():
        operation = result.ok()
        operations += 1
        roles = operation.definition.raw.get("x-roles") or []
        no_server_error = _fuzz(operation, served_api, keys[Role(roles[0])] if roles else None)
        failures += no_server_error()

    assert operations >= 20
    assert failures == []
