"""Pipeline throughput on the real services: Kafka -> persisted jobs, and claimed jobs -> sends.

Sets up its own data: a fresh MariaDB database, a tansu broker, the provider simulator. Runs one
worker process per measurement (the figures are per process) and prints:

    pipeline_sends: N sends/s       (claimed jobs -> simulator, through the real SDKs)
    pipeline_events: N events/s     (core events on Kafka -> jobs in MariaDB), the headline

Usage: python bench/pipeline.py [--patients 10000] [--sends 5000]
"""

from __future__ import annotations

import argparse
import asyncio
import tempfile
import time
import uuid
from datetime import UTC, datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

from aiokafka import AIOKafkaProducer
from sqlalchemy import create_engine, func, insert, select, text

from outreach.embedded.ports import free_loopback_port
from outreach.embedded.tansu import EmbeddedBroker
from outreach.launcher import ProcessGroup
from outreach.services.template_versions import seed_shipped_templates
from outreach.sim.clinic import event_key, event_value, generate_clinic
from outreach.sim.deployment import local_deployment_environment
from outreach.sql.engine import build_engine
from outreach.sql.migrate import upgrade
from outreach.sql.models import CommJob, Patient, PatientCommPrefs, ProcessedEvent
from outreach.sql.store import Store
from outreach.topics import CORE_EVENTS, ensure_topics

MARIADB = "mysql+pymysql://root@127.0.0.1:3306/"


def daytime_zone(now: datetime) -> str:
    for offset in range(-12, 15):
        zone = f"Etc/GMT{'-' if offset >= 0 else '+'}{abs(offset)}"
        if now.astimezone(ZoneInfo(zone)).hour in range(9, 15):
            return zone
    raise RuntimeError("no daytime zone")


def wait_for(predicate, timeout: float, what: str) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return
        time.sleep(0.05)
    raise RuntimeError(f"timed out waiting for {what}")


async def produce(bootstrap: str, records: list[tuple[bytes, bytes]]) -> None:
    producer = AIOKafkaProducer(
        bootstrap_servers=bootstrap, linger_ms=20, max_batch_size=512 * 1024, acks=1
    )
    await producer.start()
    try:
        futures = [await producer.send(CORE_EVENTS, value, key=key) for key, value in records]
        await asyncio.gather(*futures)
    finally:
        await producer.stop()


def count(engine, query) -> int:
    with engine.connect() as connection:
        return int(connection.execute(query).scalar_one())


def bench_events(group: ProcessGroup, engine, bootstrap: str, patients: int) -> float:
    day_start = datetime.now(UTC).replace(minute=0, second=0, microsecond=0)
    clinic = generate_clinic(patients=patients, seed=11, day_start=day_start)
    records = [(event_key(e), event_value(e)) for e in clinic.events]
    asyncio.run(produce(bootstrap, records))
    print(f"produced {len(records)} core events for {patients} patients")
    worker = group.start("bench-orchestrator", ["worker", "--roles", "orchestrator"])
    processed = select(func.count()).select_from(ProcessedEvent.__table__)
    wait_for(lambda: count(engine, processed) > 0, 120, "first processed event")
    started = time.monotonic()
    first = count(engine, processed)
    wait_for(lambda: count(engine, processed) >= len(records) - 10, 600, "all events")
    elapsed = time.monotonic() - started
    done = count(engine, processed)
    jobs = count(engine, select(func.count()).select_from(CommJob.__table__))
    group.stop(worker)
    print(f"events: {done} processed ({done - first} timed in {elapsed:.2f}s), {jobs} jobs")
    return (done - first) / elapsed


def bench_sends(group: ProcessGroup, engine, sends: int, sim_url: str) -> float:
    import httpx

    now = datetime.now(UTC)
    zone = daytime_zone(now)
    tag = uuid.uuid4().hex[:6]
    patients = [
        {"id": f"s{tag}-{n}", "org_id": "org-bench", "first_name": "Bo"} for n in range(sends)
    ]
    prefs = [
        {
            "patient_id": f"s{tag}-{n}",
            "phone": f"+1415{n // 10000 + 555:03d}{n % 10000:04d}",
            "timezone": zone,
            "contact_consent": True,
            "consent_granted_at": now - timedelta(days=1),
            "consent_expires_at": now + timedelta(days=700),
            "whatsapp_opt_in": False,
            **{
                f"{k}_{c}": False
                for k in ("marketing_opt_in", "opted_out")
                for c in ("email", "sms", "whatsapp")
            },
        }
        for n in range(sends)
    ]
    jobs = [
        {
            "idempotency_key": f"bench-{tag}-{n}",
            "org_id": "org-bench",
            "patient_id": f"s{tag}-{n}",
            "purpose": "rx_refill",
            "channel": "sms",
            "status": "queued",
            "requested_at": now,
            "scheduled_for": now,
            "deadline": now + timedelta(days=1),
            "attempt": 0,
            "context": {},
            "language": "en",
        }
        for n in range(sends)
    ]
    httpx.post(f"{sim_url}/_sim/config", json={"callbacks_enabled": False}).raise_for_status()
    sender = group.start("bench-sender", ["worker", "--roles", "channels", "--channels", "sms"])
    group.wait_for_log(sender, "worker ready", 120)
    with engine.begin() as connection:
        connection.execute(insert(Patient.__table__), patients)
        connection.execute(insert(PatientCommPrefs.__table__), prefs)
        connection.execute(insert(CommJob.__table__), jobs)
    scheduler = group.start("bench-scheduler", ["scheduler"])
    jobs_table = CommJob.__table__
    sent = select(func.count()).where(
        jobs_table.c.idempotency_key.like(f"bench-{tag}-%"), jobs_table.c.status == "sent"
    )
    wait_for(lambda: count(engine, sent) > 0, 120, "first send")
    started = time.monotonic()
    first = count(engine, sent)
    wait_for(lambda: count(engine, sent) >= sends, 600, "all sends")
    elapsed = time.monotonic() - started
    recorded = httpx.get(f"{sim_url}/_sim/stats").json()
    group.stop(scheduler)
    group.stop(sender)
    print(
        f"sends: {sends} sent ({sends - first} timed in {elapsed:.2f}s); simulator: "
        f"{recorded.get('counters')}"
    )
    return (sends - first) / elapsed


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--patients", type=int, default=10000)
    parser.add_argument("--sends", type=int, default=5000)
    args = parser.parse_args()

    name = f"outreach_bench_{uuid.uuid4().hex[:8]}"
    admin = create_engine(MARIADB, isolation_level="AUTOCOMMIT")
    with admin.connect() as connection:
        connection.execute(text(f"CREATE DATABASE `{name}` CHARACTER SET utf8mb4"))
    url = f"{MARIADB}{name}?charset=utf8mb4"
    broker = EmbeddedBroker().start()
    try:
        upgrade(url)
        engine = build_engine(url)
        seed_shipped_templates(Store(engine))
        asyncio.run(ensure_topics(broker.bootstrap_servers, partitions=4))
        sim_port, api_port = free_loopback_port(), free_loopback_port()
        env = local_deployment_environment(
            database_url=url,
            kafka=broker.bootstrap_servers,
            redis_url="embedded",
            sim_port=sim_port,
            api_port=api_port,
            app_id=f"bench-{uuid.uuid4().hex[:6]}",
            redis_prefix="bench:",
        )
        env.pop("OUTREACH_SHARED_CLOCK_KEY", None)
        logs = Path(tempfile.mkdtemp(prefix="outreach-bench-"))
        with ProcessGroup(env, logs) as group:
            group.start("sim", ["sim", "--port", str(sim_port)], port=sim_port)
            sends_per_second = bench_sends(
                group, engine, args.sends, f"http://127.0.0.1:{sim_port}"
            )
            events_per_second = bench_events(group, engine, broker.bootstrap_servers, args.patients)
        engine.dispose()
    finally:
        broker.stop()
        with admin.connect() as connection:
            connection.execute(text(f"DROP DATABASE IF EXISTS `{name}`"))
    print(f"pipeline_sends: {sends_per_second:.0f} sends/s")
    print(f"pipeline_events: {events_per_second:.0f} events/s")


if __name__ == "__main__":
    main()
