"""Load: two channel workers sharing one sender's rate limit through Redis hold the configured
rate, and the simulator, enforcing the provider's limit, answers no 429."""

from __future__ import annotations

import threading
import time
import uuid
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime

import pytest
from redis import Redis

from outreach.channels.rate_limiter import RedisRateLimiter
from outreach.events import SendRequest
from outreach.redis_store import KeySpace
from outreach.services.send_jobs import JobSender
from outreach.services.template_versions import seed_shipped_templates
from outreach.sim.deployment import daytime_zone
from outreach.sql.store import Store
from outreach.wiring import message_builder
from tests.factories import consenting_prefs_row, insert_rows, job_row, patient_row

pytestmark = pytest.mark.services

RATE = 20.0  # the sender's limit: ours, and the provider's (the simulator enforces it)
JOBS = 120


def test_shared_pacing_holds_the_rate_with_no_429(
    isolated_mariadb, channels, settings, sim_client, redis_server_url, redis_prefix
) -> None:
    sms = channels["sms"]
    sender_number = settings.twilio_from_number
    # The provider's limit, with two seconds of tolerance for arrival jitter (the simulator
    # shares this process, and its requests reach it in bunches).
    sim_client.post(
        "/_sim/config",
        json={"rate_limits": {f"sms:{sender_number}": RATE}, "rate_limit_burst_seconds": 2.0},
    ).raise_for_status()
    seed_shipped_templates(Store(isolated_mariadb))
    now = datetime.now(UTC)
    tag = uuid.uuid4().hex[:6]
    insert_rows(
        isolated_mariadb,
        patients=[patient_row(f"{tag}-{n}", first_name="Ana") for n in range(JOBS)],
        prefs=[
            consenting_prefs_row(
                f"{tag}-{n}", now, phone=f"+1212555{n:04d}", timezone=daytime_zone(now)
            )
            for n in range(JOBS)
        ],
        jobs=[
            job_row(f"{tag}:{n}", f"{tag}-{n}", now, purpose="lab_ready", language="en")
            for n in range(JOBS)
        ],
    )
    with Store(isolated_mariadb).transaction() as repos:
        claimed = repos.jobs.claim_due(now, JOBS, "scheduler")
    requests = [SendRequest(job_id=c.job_id, attempt=c.attempt) for c in claimed]
    client = Redis.from_url(redis_server_url, decode_responses=True)
    # Ours saves half a second's burst; the provider allows a second's: jitter never trips it.
    pacer = RedisRateLimiter(
        client, KeySpace(redis_prefix), {sms.pacing_key: RATE}, burst_seconds=0.5
    )
    workers = [
        JobSender(
            Store(isolated_mariadb),
            channels,
            message_builder(settings, isolated_mariadb),
            pool=ThreadPoolExecutor(8),
            process_id=f"worker-{n}",
            pacer=pacer,
        )
        for n in range(2)
    ]
    results = []

    def work(worker: JobSender, batch: list[SendRequest]) -> None:
        results.append(worker.handle(batch))

    started = time.monotonic()
    threads = [
        threading.Thread(target=work, args=(worker, requests[n::2]))
        for n, worker in enumerate(workers)
    ]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    elapsed = time.monotonic() - started

    assert sum(r.sent for r in results) == JOBS
    counters = sim_client.get("/_sim/stats").json()["counters"]
    assert counters.get("rate_limited.sms", 0) == 0  # no 429 from the provider
    # Held, not outrun: after the first burst the pace is the configured rate. (Allowing two
    # more bursts: a Redis shared with other test runs may be flushed, and a lost bucket starts
    # full again. Unpaced, these sends take a fraction of a second.)
    burst = RATE * 0.5
    assert elapsed >= (JOBS - 3 * burst) / RATE
    assert elapsed <= (JOBS - burst) / RATE * 1.5  # and the workers kept up with it
