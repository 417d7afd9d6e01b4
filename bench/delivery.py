"""Delivery throughput against its ceilings, on the real services (issue 13).

Sets up its own: a fresh MariaDB database, a tansu broker, the real Redis (127.0.0.1:6379),
the provider simulator answering in 100-200 ms with status callbacks on, and the outreach
processes. Prints, in one run:

    sends: ours N/s, bare Twilio SDK M/s (same threads)    jobs claimed -> simulator, one worker
    webhooks: ours N/s p50/p99 vs a bare FastAPI endpoint   signed Twilio status callbacks, 50
                                                            concurrent, the same httpx client;
                                                            each alone (status consumer stopped)
    delivery_ratio: X                                       ours / the SDK ceiling (the headline)

Usage: python bench/delivery.py [--sends 3000] [--webhooks 3000] [--concurrency 50]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import statistics
import sys
import tempfile
import time
import uuid
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime, timedelta
from pathlib import Path
from urllib.parse import urlencode

import httpx
from sqlalchemy import create_engine, func, insert, select, text
from twilio.http.http_client import TwilioHttpClient
from twilio.rest import Client

from outreach.config import Settings
from outreach.embedded.ports import free_loopback_port, wait_for_port
from outreach.embedded.tansu import EmbeddedBroker
from outreach.launcher import ProcessGroup
from outreach.services.template_versions import seed_shipped_templates
from outreach.sim.deployment import daytime_zone, local_deployment_environment
from outreach.sim.provider.signing import twilio_signature
from outreach.sql.engine import build_engine
from outreach.sql.migrate import upgrade
from outreach.sql.models import CommJob, CommStatusEvent, Patient, PatientCommPrefs
from outreach.sql.store import Store
from outreach.topics import ensure_topics

MARIADB = "mysql+pymysql://root@127.0.0.1:3306/"
REDIS = "redis://127.0.0.1:6379/0"
LATENCY = {"latency_ms": 100, "latency_jitter_ms": 100}  # every provider call: 100-200 ms
BARE_ENDPOINT = """
from urllib.parse import parse_qsl
from fastapi import FastAPI, Request
from fastapi.responses import Response
app = FastAPI()
@app.post("/webhooks/twilio/status")
async def status(request: Request) -> Response:
    dict(parse_qsl((await request.body()).decode()))
    return Response(status_code=200)
"""


def wait_for(predicate, timeout: float, what: str) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return
        time.sleep(0.05)
    raise RuntimeError(f"timed out waiting for {what}")


def count(engine, query) -> int:
    with engine.connect() as connection:
        return int(connection.execute(query).scalar_one())


def seed_jobs(engine, sends: int, tag: str) -> None:
    now = datetime.now(UTC)
    zone = daytime_zone(now)
    patients = [
        {"id": f"d{tag}-{n}", "org_id": "org-bench", "first_name": "Bo"} for n in range(sends)
    ]
    prefs = [
        {
            "patient_id": f"d{tag}-{n}",
            "phone": f"+1415{n // 10000 + 555:03d}{n % 10000:04d}",
            "timezone": zone,
            "contact_consent": True,
            "consent_granted_at": now - timedelta(days=1),
            "consent_expires_at": now + timedelta(days=700),
            "whatsapp_opt_in": False,
            **{f"marketing_opt_in_{c}": False for c in ("email", "sms", "whatsapp")},
        }
        for n in range(sends)
    ]
    jobs = [
        {
            "idempotency_key": f"delivery-{tag}-{n}",
            "org_id": "org-bench",
            "patient_id": f"d{tag}-{n}",
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
    with engine.begin() as connection:
        connection.execute(insert(Patient.__table__), patients)
        connection.execute(insert(PatientCommPrefs.__table__), prefs)
        connection.execute(insert(CommJob.__table__), jobs)


def settle(engine, quiet_seconds: float = 2.0, timeout: float = 120.0) -> None:
    """Wait until the simulator's status callbacks stop landing (their count stays still)."""
    statuses = select(func.count()).select_from(CommStatusEvent.__table__)
    deadline = time.monotonic() + timeout
    last, still_since = count(engine, statuses), time.monotonic()
    while time.monotonic() < deadline:
        time.sleep(0.25)
        now = count(engine, statuses)
        if now != last:
            last, still_since = now, time.monotonic()
        elif time.monotonic() - still_since >= quiet_seconds:
            return


def bench_our_sends(group: ProcessGroup, engine, sends: int) -> float:
    """Jobs claimed by the scheduler, sent by one channels worker through the whole send path
    (take, consent and window checks, render, breaker, pacing, ledger, SDK, bookkeeping)."""
    tag = uuid.uuid4().hex[:6]
    sender = group.start("bench-sender", ["worker", "--roles", "channels", "--channels", "sms"])
    group.wait_for_log(sender, "worker ready", 120)
    scheduler = group.start("bench-scheduler", ["scheduler"])
    group.wait_for_log(scheduler, "polling every", 60)
    # Timed from the jobs falling due to the last send recorded: claims, publishes and the
    # batches' bookkeeping included, as a deployment would see them.
    started = time.monotonic()
    seed_jobs(engine, sends, tag)
    jobs = CommJob.__table__
    sent = select(func.count()).where(
        jobs.c.idempotency_key.like(f"delivery-{tag}-%"), jobs.c.sent_at.is_not(None)
    )
    try:
        wait_for(lambda: count(engine, sent) >= sends, 300, "all sends")
    except RuntimeError:
        with engine.connect() as connection:
            stuck = connection.execute(
                select(jobs.c.status, jobs.c.last_error, func.count())
                .where(jobs.c.idempotency_key.like(f"delivery-{tag}-%"))
                .group_by(jobs.c.status, jobs.c.last_error)
            ).all()
        print(f"jobs by status and last error: {stuck}")
        raise
    elapsed = time.monotonic() - started
    group.stop(scheduler)
    group.stop(sender)
    rate = sends / elapsed
    print(f"ours: {sends} sent in {elapsed:.2f}s: {rate:.0f} sends/s")
    return rate


def bench_bare_sdk(settings: Settings, sim_url: str, sends: int, threads: int) -> float:
    """The same simulator through the bare Twilio SDK, ``threads`` calls at a time."""
    from requests.adapters import HTTPAdapter

    http = TwilioHttpClient(timeout=10)
    adapter = HTTPAdapter(pool_connections=4, pool_maxsize=threads)
    http.session.mount("http://", adapter)
    client = Client(
        settings.twilio_account_sid,
        settings.twilio_auth_token.get_secret_value(),
        http_client=http,
    )
    client.api.base_url = sim_url
    client.edge = client.region = None
    callback = f"{settings.public_base_url}/webhooks/twilio/status"

    def send(n: int) -> None:
        client.messages.create(
            to=f"+1415{n // 10000 + 655:03d}{n % 10000:04d}",
            from_=settings.twilio_from_number,
            body="Your prescription refill is due. Reply C to confirm.",
            status_callback=f"{callback}?job_id=bare-{n}",
        )

    with ThreadPoolExecutor(threads) as pool:
        list(pool.map(send, range(min(200, sends))))  # warm the connections
        started = time.monotonic()
        list(pool.map(send, range(sends)))
        elapsed = time.monotonic() - started
    rate = sends / elapsed
    print(f"bare Twilio SDK, {threads} threads: {sends} in {elapsed:.2f}s: {rate:.0f} sends/s")
    return rate


async def drive_webhooks(
    url: str, auth_token: str, public_url: str, total: int, concurrency: int
) -> tuple[float, float, float]:
    """Signed Twilio status callbacks at ``concurrency``: (requests/s, p50 ms, p99 ms)."""
    bodies = []
    for n in range(total):
        params = [
            ("MessageSid", f"SMbench{n:08d}"),
            ("MessageStatus", "delivered"),
            ("To", "+14155550100"),
            ("From", "+15005550006"),
            ("AccountSid", "ACbench"),
        ]
        signature = twilio_signature(auth_token, public_url, params)
        bodies.append((urlencode(params), signature))
    latencies: list[float] = []
    queue: asyncio.Queue[int] = asyncio.Queue()
    for n in range(total):
        queue.put_nowait(n)
    limits = httpx.Limits(max_connections=concurrency, max_keepalive_connections=concurrency)
    async with httpx.AsyncClient(limits=limits, timeout=30) as client:

        async def worker() -> None:
            while not queue.empty():
                n = queue.get_nowait()
                body, signature = bodies[n]
                started = time.perf_counter()
                response = await client.post(
                    url,
                    content=body,
                    headers={
                        "Content-Type": "application/x-www-form-urlencoded",
                        "X-Twilio-Signature": signature,
                    },
                )
                latencies.append(time.perf_counter() - started)
                if response.status_code != 200:
                    raise RuntimeError(f"webhook answered {response.status_code}")

        started = time.monotonic()
        await asyncio.gather(*(worker() for _ in range(concurrency)))
        elapsed = time.monotonic() - started
    latencies.sort()
    p50 = statistics.median(latencies) * 1000
    p99 = latencies[int(len(latencies) * 0.99) - 1] * 1000
    return total / elapsed, p50, p99


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--sends", type=int, default=3000)
    parser.add_argument("--webhooks", type=int, default=3000)
    parser.add_argument("--concurrency", type=int, default=50)
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
        sim_port, api_port, bare_port = (free_loopback_port() for _ in range(3))
        env = local_deployment_environment(
            database_url=url,
            kafka=broker.bootstrap_servers,
            redis_url=REDIS,
            sim_port=sim_port,
            api_port=api_port,
            app_id=f"bench-{uuid.uuid4().hex[:6]}",
            redis_prefix=f"bench-{uuid.uuid4().hex[:6]}:",
        )
        env.pop("OUTREACH_SHARED_CLOCK_KEY", None)
        settings = Settings(
            twilio_auth_token=env["OUTREACH_TWILIO_AUTH_TOKEN"],
            public_base_url=env["OUTREACH_PUBLIC_BASE_URL"],
        )
        # Pacing is measured, not the limit: the sender's rate far above what is reached.
        pacing_key = f"twilio:{settings.twilio_account_sid}:{settings.twilio_from_number}"
        env["OUTREACH_SEND_RATES"] = json.dumps({pacing_key: 100_000})
        threads = settings.send_threads
        logs = Path(tempfile.mkdtemp(prefix="outreach-bench-"))
        sim_url = f"http://127.0.0.1:{sim_port}"
        with ProcessGroup(env, logs) as group:
            group.start("sim", ["sim", "--port", str(sim_port)], port=sim_port)
            group.start("api", ["api", "--port", str(api_port)], port=api_port)
            status = group.start("bench-status", ["worker", "--roles", "status"])
            group.wait_for_log(status, "worker ready", 120)
            httpx.post(
                f"{sim_url}/_sim/config",
                json={
                    **LATENCY,
                    "outcomes": {"delivered": 1, "failed": 0, "bounced": 0, "undelivered": 0},
                },
            ).raise_for_status()
            ours = bench_our_sends(group, engine, args.sends)
            ceiling = bench_bare_sdk(settings, sim_url, args.sends, threads)
            # Webhooks: the API, then a bare endpoint, driven by the same client, each alone on
            # the machine: the sends' callbacks settled and the status consumer stopped first
            # (on a small machine it would take the API's CPU; nothing runs beside the bare one).
            settle(engine)
            group.stop(status)
            public = f"{env['OUTREACH_PUBLIC_BASE_URL']}/webhooks/twilio/status"
            api_rate, api_p50, api_p99 = asyncio.run(
                drive_webhooks(
                    f"http://127.0.0.1:{api_port}/webhooks/twilio/status",
                    env["OUTREACH_TWILIO_AUTH_TOKEN"],
                    public,
                    args.webhooks,
                    args.concurrency,
                )
            )
            script = logs / "bare_endpoint.py"
            script.write_text(BARE_ENDPOINT)
            bare = group.start(
                "bare-endpoint",
                [],
                argv=[
                    sys.executable,
                    "-m",
                    "uvicorn",
                    "--app-dir",
                    str(logs),
                    "bare_endpoint:app",
                    "--port",
                    str(bare_port),
                    "--log-level",
                    "warning",
                ],
            )
            wait_for_port("127.0.0.1", bare_port, 30)
            bare_rate, bare_p50, bare_p99 = asyncio.run(
                drive_webhooks(
                    f"http://127.0.0.1:{bare_port}/webhooks/twilio/status",
                    env["OUTREACH_TWILIO_AUTH_TOKEN"],
                    public,
                    args.webhooks,
                    args.concurrency,
                )
            )
            group.stop(bare)
        engine.dispose()
    finally:
        broker.stop()
        with admin.connect() as connection:
            connection.execute(text(f"DROP DATABASE IF EXISTS `{name}`"))
    print(f"sends: ours {ours:.0f}/s vs bare Twilio SDK {ceiling:.0f}/s ({threads} threads)")
    print(
        f"webhooks: ours {api_rate:.0f}/s p50 {api_p50:.0f} ms p99 {api_p99:.0f} ms vs bare "
        f"FastAPI {bare_rate:.0f}/s p50 {bare_p50:.0f} ms p99 {bare_p99:.0f} ms "
        f"({args.concurrency} concurrent): ratio {api_rate / bare_rate:.2f}"
    )
    print(f"delivery_ratio: {ours / ceiling:.2f}")


if __name__ == "__main__":
    main()
