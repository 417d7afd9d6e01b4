"""A running console for browser tests: the API app served by uvicorn on a loopback port, in a
thread of the test process, over its own migrated MariaDB database, Redis and the tansu broker.

Playwright drives Debian's ``chromium`` (``/usr/bin/chromium``), never a downloaded browser;
each page a test visits can be checked with axe-core (vendored) and photographed into
``var/test-artifacts/console``.
"""

from __future__ import annotations

import json
import re
import shutil
import threading
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import httpx
import pytest
import uvicorn
from fastapi import FastAPI
from sqlalchemy import Engine

from outreach.config import Settings
from outreach.domain import Actor, Role
from outreach.embedded.ports import free_loopback_port
from outreach.services.api_keys import issue_api_key
from outreach.sql.store import Store

AXE_SOURCE = Path(__file__).parent / "vendor" / "axe-4.14.1.min.js"
ARTIFACTS = Path("var/test-artifacts/console")
SERIOUS = {"serious", "critical"}
LAPTOP = {"width": 1280, "height": 800}
PHONE = {"width": 390, "height": 844}


def chromium_path() -> str | None:
    return shutil.which("chromium") or shutil.which("chromium-browser")


@dataclass
class ConsoleSite:
    """The served console and what tests need to reach it."""

    base_url: str
    engine: Engine
    settings: Settings
    app: FastAPI
    keys: dict[tuple[Role, str], str] = field(default_factory=dict)

    def key(self, role: Role, org_id: str) -> str:
        """An API key of ``role`` in ``org_id`` (issued once per site)."""
        found = self.keys.get((role, org_id))
        if found is None:
            found = self.keys[(role, org_id)] = issue_api_key(
                Store(self.engine),
                org_id=org_id,
                role=role,
                name=f"console tests {role.value}",
                actor=Actor("system:tests"),
                now=datetime.now(UTC),
            ).plaintext
        return found

    def url(self, path: str) -> str:
        return self.base_url + path


@contextmanager
def serving(app: FastAPI) -> Iterator[str]:
    """``app`` on a free loopback port (lifespan included) until the block ends."""
    port = free_loopback_port()
    server = uvicorn.Server(
        uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning", lifespan="on")
    )
    thread = threading.Thread(target=server.run, name="console-site", daemon=True)
    thread.start()
    deadline = time.monotonic() + 30
    while not server.started:
        if not thread.is_alive() or time.monotonic() > deadline:
            raise RuntimeError("the console's server did not start")
        time.sleep(0.05)
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        server.should_exit = True
        thread.join(timeout=30)


def new_org_id() -> str:
    """An organisation of the test's own: what it sees is only what it made."""
    return f"org-{uuid.uuid4().hex[:8]}"


def form_token(html: str) -> str:
    """The CSRF token a console page's forms carry."""
    found = re.search(r'name="csrf_token" value="([^"]+)"', html)
    assert found, "the page has no CSRF field"
    return found.group(1)


@contextmanager
def signed_in(site: ConsoleSite, role: Role, org_id: str) -> Iterator[httpx.Client]:
    """An HTTP client holding a console session, signed in through the form."""
    with httpx.Client(base_url=site.base_url, follow_redirects=False, timeout=30) as client:
        page = client.get("/console/sign-in")
        answer = client.post(
            "/console/sign-in",
            data={"api_key": site.key(role, org_id), "csrf_token": form_token(page.text)},
        )
        assert answer.status_code == 303, answer.text
        yield client


def artefact_name(name: str) -> str:
    return re.sub(r"[^A-Za-z0-9_.-]+", "-", name).strip("-")


async def photograph(page: Any, name: str) -> Path:
    """A full-page screenshot of ``page`` as a test artefact."""
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    path = ARTIFACTS / f"{artefact_name(name)}.png"
    await page.screenshot(path=str(path), full_page=True)
    return path


async def accessibility_violations(page: Any) -> list[dict[str, Any]]:
    """axe-core's serious and critical violations on the page as it stands."""
    if not await page.evaluate("typeof window.axe !== 'undefined'"):
        await page.evaluate(AXE_SOURCE.read_text(encoding="utf-8"))
    result = await page.evaluate(
        "async () => await axe.run(document, {resultTypes: ['violations']})"
    )
    return [v for v in result["violations"] if v.get("impact") in SERIOUS]


async def assert_accessible(page: Any, name: str) -> None:
    """No serious or critical axe-core violation; the page is photographed either way."""
    await photograph(page, name)
    violations = await accessibility_violations(page)
    summary = [
        {"rule": v["id"], "impact": v["impact"], "nodes": [n["target"] for n in v["nodes"]][:5]}
        for v in violations
    ]
    assert not violations, f"{name}: accessibility violations {json.dumps(summary, indent=1)}"


async def sign_in(
    page: Any, site: ConsoleSite, role: Role, org_id: str, *, path: str = "/console/"
) -> None:
    """Sign in through the form, as a person would, with a key of ``role`` in ``org_id``."""
    await page.goto(site.url(path))
    await page.get_by_label("API key").fill(site.key(role, org_id))
    await page.get_by_role("button", name="Sign in", exact=True).click()
    await page.wait_for_load_state()


# Browser tests run on the session's event loop, where the browser fixture lives.
on_browser_loop = pytest.mark.asyncio(loop_scope="session")
