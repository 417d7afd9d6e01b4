"""A whole outreach deployment as child processes, for end-to-end tests and benchmarks.

Real parts only: the ``outreach`` commands (worker, scheduler, api, sim) against MariaDB, Redis
and a tansu broker, providers reached through their SDKs at the simulator.
"""

from __future__ import annotations

import asyncio
import json
import time
import uuid
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
from aiokafka import AIOKafkaProducer
from sqlalchemy import Engine, select

from outreach.embedded.ports import free_loopback_port
from outreach.launcher import ChildProcess, ProcessGroup
from outreach.sim.provider import generate_sendgrid_keypair
from outreach.sql.models import CommJob


def pipeline_environment(*, database_url: str, kafka: str, redis_url: str, sim_port: int,
                         api_port: int, app_id: str, redis_prefix: str) -> dict[str, str]:
    private_pem, public_b64 = generate_sendgrid_keypair()
    sim = f"http://127.0.0.1:{sim_port}"
    return {
        "OUTREACH_ENV": "test",
        "OUTREACH_DATABASE_URL": database_url,
        "OUTREACH_KAFKA_BOOTSTRAP_SERVERS": kafka,
        "OUTREACH_REDIS_URL": redis_url,
        "OUTREACH_REDIS_KEY_PREFIX": redis_prefix,
        "OUTREACH_PUBLIC_BASE_URL": f"http://127.0.0.1:{api_port}",
        "OUTREACH_TWILIO_AUTH_TOKEN": "twilio-test-token",
        "OUTREACH_TWILIO_BASE_URL": sim,
        "OUTREACH_SENDGRID_API_KEY": "SG.test-key",
        "OUTREACH_SENDGRID_HOST": sim,
        "OUTREACH_SENDGRID_WEBHOOK_PUBLIC_KEY": public_b64,
        "OUTREACH_SIM_SENDGRID_PRIVATE_KEY_PEM": private_pem,
        "OUTREACH_WHATSAPP_TOKEN": "wa-test-token",
        "OUTREACH_WHATSAPP_APP_SECRET": "wa-app-secret",
        "OUTREACH_WHATSAPP_BASE_URL": sim,
        "OUTREACH_PORTAL_LINK_SECRET": "portal-test-secret",
        "OUTREACH_GENERIC_WEBHOOK_SECRET": "generic-test-secret",
        "OUTREACH_FAUST_APP_ID": app_id,
        "OUTREACH_KAFKA_SESSION_TIMEOUT_SECONDS": "6",
        "OUTREACH_KAFKA_REBALANCE_TIMEOUT_SECONDS": "2",
        "OUTREACH_SCHEDULER_POLL_SECONDS": "0.2",
        "OUTREACH_LOG_LEVEL": "INFO",
        "OUTREACH_SHARED_CLOCK_KEY": "clock",
    }


@dataclass
class Pipeline:
    group: ProcessGroup
    env: dict[str, str]
    engine: Engine
    kafka: str
    sim_url: str
    api_url: str

    def start_worker(self, name: str = "worker", roles: str = "orchestrator,channels,status,replies",
                     extra_env: dict[str, str] | None = None) -> ChildProcess:
        child = self.group.start(name, ["worker", "--roles", roles], extra_env=extra_env)
        self.group.wait_for_log(child, "worker ready", timeout=90)
        return child

    def start_scheduler(self, name: str = "scheduler") -> ChildProcess:
        child = self.group.start(name, ["scheduler"])
        self.group.wait_for_log(child, "polling every", timeout=30)
        return child

    def sim_messages(self, **filters: str) -> list[dict[str, Any]]:
        response = httpx.get(f"{self.sim_url}/_sim/messages", params=filters, timeout=10)
        response.raise_for_status()
        body = response.json()
        return body["messages"] if isinstance(body, dict) else body

    def configure_sim(self, **changes: Any) -> None:
        httpx.post(f"{self.sim_url}/_sim/config", json=changes, timeout=10).raise_for_status()

    def jobs_for(self, patient_id: str) -> list[dict[str, Any]]:
        with self.engine.connect() as connection:
            rows = connection.execute(
                select(CommJob.__table__).where(CommJob.__table__.c.patient_id == patient_id)
                .order_by(CommJob.__table__.c.id)).mappings().all()
        return [dict(r) for r in rows]


def start_pipeline(tmp: Path, *, database_url: str, engine: Engine, kafka: str,
                   redis_url: str, redis_prefix: str) -> Pipeline:
    sim_port, api_port = free_loopback_port(), free_loopback_port()
    env = pipeline_environment(database_url=database_url, kafka=kafka, redis_url=redis_url,
                               sim_port=sim_port, api_port=api_port,
                               app_id=f"outreach-test-{uuid.uuid4().hex[:8]}",
                               redis_prefix=redis_prefix)
    group = ProcessGroup(env, tmp / "logs")
    pipeline = Pipeline(group, env, engine, kafka, f"http://127.0.0.1:{sim_port}",
                        f"http://127.0.0.1:{api_port}")
    try:
        group.start("sim", ["sim", "--port", str(sim_port)], port=sim_port)
        group.start("api", ["api", "--port", str(api_port)], port=api_port)
    except Exception:
        group.stop_all()
        raise
    return pipeline


def publish(kafka: str, events: Iterable[dict[str, Any] | bytes]) -> None:
    async def run() -> None:
        producer = AIOKafkaProducer(bootstrap_servers=kafka, acks="all")
        await producer.start()
        try:
            for event in events:
                if isinstance(event, bytes):
                    await producer.send_and_wait("core.events", event, key=b"malformed")
                else:
                    await producer.send_and_wait("core.events", json.dumps(event).encode(),
                                                 key=event["patient_id"].encode())
        finally:
            await producer.stop()

    asyncio.run(run())


def wait_until(predicate: Callable[[], Any], timeout: float = 30.0, what: str = "condition"):
    deadline = time.monotonic() + timeout
    last = None
    while time.monotonic() < deadline:
        last = predicate()
        if last:
            return last
        time.sleep(0.2)
    raise AssertionError(f"timed out waiting for {what}; last value: {last!r}")
