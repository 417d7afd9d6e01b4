"""Fixtures of the console's tests: one served console per test module, and the browser."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator, Iterator
from typing import Any

import pytest

from outreach.api import create_api_app
from outreach.channels import load_channels
from outreach.config import Environment, Settings
from outreach.kafka_publisher import KafkaPublisher
from outreach.redis_store import connect_redis
from outreach.sim.provider.config import gateway_channel_options
from tests.api.console.site import LAPTOP, ConsoleSite, chromium_path, serving
from tests.conftest import unavailable
from tests.mariadb_template import MariaDbTemplate

JWT_ISSUER = "https://sso.clinic.example"
JWT_SECRET = "console-tests-shared-secret-of-enough-length"


@pytest.fixture(scope="module")
def console_settings(
    mariadb_template: MariaDbTemplate, kafka_bootstrap: str, redis_server_url: str
) -> Iterator[Settings]:
    name = mariadb_template.clone()
    try:
        yield Settings(
            env=Environment.TEST,
            database_url=mariadb_template.url_for(name),
            kafka_bootstrap_servers=kafka_bootstrap,
            redis_url=redis_server_url,
            redis_key_prefix=f"console-test:{uuid.uuid4().hex[:10]}:",
            public_base_url="http://127.0.0.1/",
            twilio_auth_token="twilio-test-auth-token",
            sendgrid_api_key="SG.test",
            whatsapp_token="whatsapp-test-token",
            whatsapp_app_secret="whatsapp-test-app-secret",
            whatsapp_verify_token="whatsapp-test-verify-token",
            portal_link_secret="portal-test-secret",
            generic_webhook_secret="generic-test-secret",
            jwt_issuer=JWT_ISSUER,
            jwt_key=JWT_SECRET,
            channel_options={"rcs": gateway_channel_options("http://127.0.0.1:9", None)},
        )
    finally:
        mariadb_template.drop(name)


@pytest.fixture(scope="module")
def console_site(console_settings: Settings) -> Iterator[ConsoleSite]:
    import asyncio

    from outreach.sql.engine import build_engine
    from outreach.topics import ensure_topics

    asyncio.run(ensure_topics(console_settings.kafka_bootstrap_servers))
    engine = build_engine(console_settings.database_url)
    channels = load_channels(console_settings)
    redis = connect_redis(console_settings.redis_url)
    app = create_api_app(
        console_settings,
        engine=engine,
        channels=channels,
        publisher=KafkaPublisher(console_settings.kafka_bootstrap_servers),
        redis=redis,
    )
    try:
        with serving(app) as base_url:
            yield ConsoleSite(base_url, engine, console_settings, app)
    finally:
        for worker in channels.values():
            worker.close()
        redis.close()
        engine.dispose()


@pytest.fixture(scope="session")
async def browser() -> AsyncIterator[Any]:
    """Debian's headless Chromium under Playwright (never a browser Playwright downloads).

    Playwright's async API, on the session's event loop: its sync API would claim the test
    thread's event loop and break every asynchronous test that runs after it."""
    executable = chromium_path()
    if executable is None:
        unavailable("headless Chromium (Debian package 'chromium'; .ci/run installs it)")
    from playwright.async_api import async_playwright

    async with async_playwright() as playwright:
        launched = await playwright.chromium.launch(
            executable_path=executable,
            args=["--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage"],
        )
        try:
            yield launched
        finally:
            await launched.close()


@pytest.fixture
async def page(browser: Any) -> AsyncIterator[Any]:
    """A fresh browser profile (no cookies) at a laptop's size."""
    context = await browser.new_context(viewport=LAPTOP)
    context.set_default_timeout(15_000)
    opened = await context.new_page()
    try:
        yield opened
    finally:
        await context.close()
