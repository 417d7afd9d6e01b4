"""The API against the real services: MariaDB, Redis and the tansu broker.

Each test gets its own app (its lifespan starts a real aiokafka producer) and an httpx client over
ASGI. What the API publishes is read back from Kafka with ``TopicProbe``; rows each test needs are
created with unique ids.
"""

from __future__ import annotations

import asyncio
import json
import uuid
from collections.abc import AsyncIterator, Callable, Iterator
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

import httpx
import pytest
from aiokafka import AIOKafkaConsumer
from aiokafka.structs import ConsumerRecord, TopicPartition
from cryptography.hazmat.primitives.asymmetric import ec
from fastapi import FastAPI
from sqlalchemy import Engine

from outreach.api import create_api_app
from outreach.api.access import API_KEY_HEADER
from outreach.channels import ChannelWorker, load_channels
from outreach.config import Environment, Settings
from outreach.domain import Actor, Role
from outreach.kafka_publisher import KafkaPublisher
from outreach.redis_store import connect_redis
from outreach.services.api_keys import issue_api_key
from outreach.sim.provider.signing import generate_sendgrid_private_key, public_key_b64
from outreach.sql.store import Store
from outreach.topics import ensure_topics

# The client calls the app here; providers see (and sign) PUBLIC_BASE_URL, as behind a proxy.
CLIENT_BASE_URL = "http://api.internal:8000"
PUBLIC_BASE_URL = "https://hooks.clinic.example"
TWILIO_AUTH_TOKEN = "twilio-test-auth-token"
WHATSAPP_APP_SECRET = "whatsapp-test-app-secret"
WHATSAPP_VERIFY_TOKEN = "whatsapp-test-verify-token"
PORTAL_SECRET = "portal-test-secret"
GENERIC_SECRET = "generic-test-secret"


def unique(prefix: str) -> str:
    return f"{prefix}-{uuid.uuid4().hex[:12]}"


@pytest.fixture(scope="session")
def sendgrid_key() -> ec.EllipticCurvePrivateKey:
    return generate_sendgrid_private_key()


@pytest.fixture(scope="session")
async def kafka_topics(kafka_bootstrap: str) -> str:
    await ensure_topics(kafka_bootstrap)
    return kafka_bootstrap


@pytest.fixture
def api_settings(
    mariadb_url: str,
    kafka_bootstrap: str,
    redis_server_url: str,
    redis_prefix: str,
    sendgrid_key: ec.EllipticCurvePrivateKey,
) -> Settings:
    return Settings(
        env=Environment.TEST,
        database_url=mariadb_url,
        kafka_bootstrap_servers=kafka_bootstrap,
        redis_url=redis_server_url,
        redis_key_prefix=redis_prefix,
        public_base_url=PUBLIC_BASE_URL + "/",
        twilio_auth_token=TWILIO_AUTH_TOKEN,
        sendgrid_api_key="SG.test",
        sendgrid_webhook_public_key=public_key_b64(sendgrid_key),
        whatsapp_token="whatsapp-test-token",
        whatsapp_app_secret=WHATSAPP_APP_SECRET,
        whatsapp_verify_token=WHATSAPP_VERIFY_TOKEN,
        portal_link_secret=PORTAL_SECRET,
        generic_webhook_secret=GENERIC_SECRET,
    )


@pytest.fixture
def channels(api_settings: Settings) -> Iterator[dict[str, ChannelWorker]]:
    workers = load_channels(api_settings)
    yield workers
    for worker in workers.values():
        worker.close()


@pytest.fixture
def redis_client(redis_server_url: str) -> Iterator[Any]:
    client = connect_redis(redis_server_url)
    yield client
    client.close()


@dataclass
class ApiHarness:
    app: FastAPI
    client: httpx.AsyncClient
    publisher: KafkaPublisher
    settings: Settings
    bootstrap: str
    engine: Engine
    keys: dict[tuple[Role, str], str] = field(default_factory=dict)

    def credentials(self, role: Role, org_id: str) -> dict[str, str]:
        """Headers with an API key of ``role`` in ``org_id`` (issued once per harness)."""
        key = self.keys.get((role, org_id))
        if key is None:
            issued = issue_api_key(
                Store(self.engine),
                org_id=org_id,
                role=role,
                name=f"tests {role.value}",
                actor=Actor("system:tests"),
                now=datetime.now(UTC),
            )
            key = self.keys[(role, org_id)] = issued.plaintext
        return {API_KEY_HEADER: key}

    def act_as(self, role: Role, org_id: str) -> None:
        """Every later call of ``client`` carries an API key of ``role`` in ``org_id``."""
        self.client.headers.update(self.credentials(role, org_id))


@asynccontextmanager
async def running_api(
    settings: Settings,
    engine: Engine,
    channels: dict[str, ChannelWorker],
    redis: Any | None,
    **options: Any,
) -> AsyncIterator[ApiHarness]:
    """The app with its lifespan running (a real producer) and a client over ASGI."""
    publisher = KafkaPublisher(settings.kafka_bootstrap_servers)
    app = create_api_app(
        settings, engine=engine, channels=channels, publisher=publisher, redis=redis, **options
    )
    async with app.router.lifespan_context(app):
        transport = httpx.ASGITransport(app=app, raise_app_exceptions=False)
        async with httpx.AsyncClient(transport=transport, base_url=CLIENT_BASE_URL) as client:
            yield ApiHarness(
                app, client, publisher, settings, settings.kafka_bootstrap_servers, engine
            )


@pytest.fixture
async def api(
    api_settings: Settings,
    mariadb_engine: Engine,
    channels: dict[str, ChannelWorker],
    redis_client: Any,
    kafka_topics: str,
) -> AsyncIterator[ApiHarness]:
    async with running_api(api_settings, mariadb_engine, channels, redis_client) as harness:
        yield harness


Predicate = Callable[[dict[str, Any]], bool]
READ_TIMEOUT_SECONDS = 10


class TopicProbe:
    """Reads what lands on a topic after the probe started (no consumer group, no commits)."""

    def __init__(self, bootstrap: str, topic: str) -> None:
        self.topic = topic
        self._consumer = AIOKafkaConsumer(bootstrap_servers=bootstrap, enable_auto_commit=False)
        self._partitions: list[TopicPartition] = []
        self._start: dict[TopicPartition, int] = {}
        self._seen: list[ConsumerRecord] = []

    async def __aenter__(self) -> TopicProbe:
        await self._consumer.start()
        await self._consumer.topics()  # loads metadata
        numbers = self._consumer.partitions_for_topic(self.topic) or set()
        assert numbers, f"topic {self.topic} does not exist"
        self._partitions = [TopicPartition(self.topic, n) for n in sorted(numbers)]
        self._consumer.assign(self._partitions)
        self._start = await self._consumer.end_offsets(self._partitions)
        for tp, offset in self._start.items():
            self._consumer.seek(tp, offset)
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        await self._consumer.stop()

    def _matches(self, predicate: Predicate) -> list[ConsumerRecord]:
        return [r for r in self._seen if predicate(json.loads(r.value))]

    async def _fetch(self, timeout_ms: int) -> None:
        batch = await self._consumer.getmany(timeout_ms=timeout_ms)
        for messages in batch.values():
            self._seen.extend(messages)

    async def _read_to_end(self) -> None:
        """Up to the current end of each partition (per partition: other tests may publish)."""
        ends = await self._consumer.end_offsets(self._partitions)
        deadline = asyncio.get_running_loop().time() + READ_TIMEOUT_SECONDS
        for tp in self._partitions:
            while await self._consumer.position(tp) < ends[tp]:
                assert asyncio.get_running_loop().time() < deadline, "timed out reading"
                await self._fetch(200)

    async def expect(self, predicate: Predicate, count: int = 1) -> list[ConsumerRecord]:
        """Wait for ``count`` matching records; more than ``count`` by the end fails later."""
        deadline = asyncio.get_running_loop().time() + READ_TIMEOUT_SECONDS
        while len(self._matches(predicate)) < count:
            assert asyncio.get_running_loop().time() < deadline, "expected records never came"
            await self._fetch(200)
        await self._read_to_end()
        return self._matches(predicate)

    async def expect_none(self, predicate: Predicate) -> None:
        await self._read_to_end()
        await self._fetch(300)  # and anything a lagging end offset did not show yet
        assert not self._matches(predicate)
