"""A whole outreach deployment as child processes, for end-to-end tests and benchmarks.

Real parts only: the ``outreach`` commands (worker, scheduler, api, sim) against MariaDB, Redis
and a tansu broker, providers reached through their SDKs at the simulator.
"""

from __future__ import annotations

import asyncio
import json
import os
import time
import uuid
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import httpx
from aiokafka import AIOKafkaConsumer, AIOKafkaProducer
from aiokafka.structs import ConsumerRecord, TopicPartition
from sqlalchemy import Engine, select

from outreach.embedded.ports import free_loopback_port
from outreach.launcher import ChildProcess, ProcessGroup
from outreach.sim.deployment import local_deployment_environment
from outreach.sql.models import CommJob

# tests/plugins: a channel plugin from another distribution, served by the simulator's gateway.
PLUGINS_DIR = Path(__file__).resolve().parents[1] / "plugins"
GATEWAY_PLUGINS = ("rcs",)
E2E_DELIVERY_TIMERS = {
    "OUTREACH_PROCESS_HEARTBEAT_SECONDS": "0.5",
    "OUTREACH_PROCESS_DEAD_AFTER_SECONDS": "3",
    "OUTREACH_REQUEUE_STALE_EVERY_SECONDS": "1",
    "OUTREACH_SEND_RECONCILE_AFTER_SECONDS": "3",
    "OUTREACH_SEND_RETRY_BASE_SECONDS": "0.5",
    "OUTREACH_SEND_RETRY_MAX_DELAY_SECONDS": "5",
    "OUTREACH_BREAKER_OPEN_SECONDS": "2",
}


@dataclass
class Pipeline:
    group: ProcessGroup
    env: dict[str, str]
    engine: Engine
    kafka: str
    sim_url: str
    api_url: str

    def start_worker(
        self,
        name: str = "worker",
        roles: str = "orchestrator,channels,status,replies",
        extra_env: dict[str, str] | None = None,
    ) -> ChildProcess:
        child = self.group.start(name, ["worker", "--roles", roles], extra_env=extra_env)
        self.group.wait_for_log(child, "worker ready", timeout=90)
        return child

    def start_scheduler(
        self, name: str = "scheduler", extra_env: dict[str, str] | None = None
    ) -> ChildProcess:
        child = self.group.start(name, ["scheduler"], extra_env=extra_env)
        self.group.wait_for_log(child, "polling every", timeout=30)
        return child

    def sim_messages(self, **filters: str) -> list[dict[str, Any]]:
        response = httpx.get(f"{self.sim_url}/_sim/messages", params=filters, timeout=10)
        response.raise_for_status()
        body = response.json()
        return body["messages"] if isinstance(body, dict) else body

    def api_headers(self, role: str = "marketer", org_id: str = "org-e2e") -> dict[str, str]:
        """Credentials for the API: an API key of ``role`` in ``org_id``, issued here."""
        from outreach.api.access import API_KEY_HEADER
        from outreach.domain import Actor, Role
        from outreach.services.api_keys import issue_api_key
        from outreach.sql.store import Store

        issued = issue_api_key(
            Store(self.engine),
            org_id=org_id,
            role=Role(role),
            name=f"e2e {role}",
            actor=Actor("system:tests"),
            now=datetime.now(UTC),
        )
        return {API_KEY_HEADER: issued.plaintext}

    def configure_sim(self, **changes: Any) -> None:
        httpx.post(f"{self.sim_url}/_sim/config", json=changes, timeout=10).raise_for_status()

    def jobs_for(self, patient_id: str) -> list[dict[str, Any]]:
        with self.engine.connect() as connection:
            rows = (
                connection.execute(
                    select(CommJob.__table__)
                    .where(CommJob.__table__.c.patient_id == patient_id)
                    .order_by(CommJob.__table__.c.id)
                )
                .mappings()
                .all()
            )
        return [dict(r) for r in rows]


def start_pipeline(
    tmp: Path, *, database_url: str, engine: Engine, kafka: str, redis_url: str, redis_prefix: str
) -> Pipeline:
    sim_port, api_port = free_loopback_port(), free_loopback_port()
    env = local_deployment_environment(
        database_url=database_url,
        kafka=kafka,
        redis_url=redis_url,
        sim_port=sim_port,
        api_port=api_port,
        app_id=f"outreach-test-{uuid.uuid4().hex[:8]}",
        redis_prefix=redis_prefix,
        gateway_channels=GATEWAY_PLUGINS,
    )
    # Short timers: recovering a killed process, reconciling a send, retrying, the breaker.
    env.update(E2E_DELIVERY_TIMERS)
    # The children find the test plugin's distribution (and its entry point) as pytest does.
    env["PYTHONPATH"] = os.pathsep.join(
        filter(None, [str(PLUGINS_DIR), os.environ.get("PYTHONPATH", "")])
    )
    group = ProcessGroup(env, tmp / "logs")
    pipeline = Pipeline(
        group, env, engine, kafka, f"http://127.0.0.1:{sim_port}", f"http://127.0.0.1:{api_port}"
    )
    try:
        group.start("sim", ["sim", "--port", str(sim_port)], port=sim_port)
        group.start("api", ["api", "--port", str(api_port)], port=api_port)
    except Exception:
        group.stop_all()
        raise
    return pipeline


def publish(
    kafka: str, events: Iterable[dict[str, Any] | bytes], *, raw_key: bytes = b"malformed"
) -> None:
    """Publish to ``core.events``: events keyed by patient id, raw values under ``raw_key``."""

    async def run() -> None:
        producer = AIOKafkaProducer(bootstrap_servers=kafka, acks="all")
        await producer.start()
        try:
            for event in events:
                if isinstance(event, bytes):
                    await producer.send_and_wait("core.events", event, key=raw_key)
                else:
                    # The key is the patient id as text, whether the event gives it as an integer.
                    key = str(event["patient_id"]).encode()
                    await producer.send_and_wait("core.events", json.dumps(event).encode(), key=key)
        finally:
            await producer.stop()

    asyncio.run(run())


def read_topic(kafka: str, topic: str) -> list[ConsumerRecord]:
    """Every record on ``topic`` from the beginning up to its current end (no consumer group)."""

    async def run() -> list[ConsumerRecord]:
        consumer = AIOKafkaConsumer(bootstrap_servers=kafka, enable_auto_commit=False)
        await consumer.start()
        try:
            await consumer.topics()  # loads metadata
            numbers = consumer.partitions_for_topic(topic) or set()
            partitions = [TopicPartition(topic, n) for n in sorted(numbers)]
            if not partitions:
                return []
            consumer.assign(partitions)
            await consumer.seek_to_beginning(*partitions)
            ends = await consumer.end_offsets(partitions)
            records: list[ConsumerRecord] = []
            deadline = time.monotonic() + 10
            for tp in partitions:
                while await consumer.position(tp) < ends[tp]:
                    assert time.monotonic() < deadline, f"timed out reading {topic}"
                    batch = await consumer.getmany(tp, timeout_ms=200)
                    records.extend(batch.get(tp, []))
            return records
        finally:
            await consumer.stop()

    return asyncio.run(run())


def wait_until(predicate: Callable[[], Any], timeout: float = 30.0, what: str = "condition"):
    deadline = time.monotonic() + timeout
    last = None
    while time.monotonic() < deadline:
        last = predicate()
        if last:
            return last
        time.sleep(0.2)
    raise AssertionError(f"timed out waiting for {what}; last value: {last!r}")
