"""Fault injection against the simulator (issue 13): outages, random 5xx, latency spikes,
duplicate and out-of-order callbacks, workers and schedulers killed mid-run. Each run ends with
every job in one terminal state, each message at the provider exactly once: nothing lost,
nothing twice. Time is compressed (``delivery_harness``): a ten-minute outage takes seconds.
"""

from __future__ import annotations

from datetime import timedelta

import pytest

from outreach.channels import ChannelWorker
from tests.services.delivery_harness import CrashingChannel, Harness, Outage

pytestmark = pytest.mark.services

MIX = {"sms": 12, "email": 12, "whatsapp": 12}


@pytest.fixture
def harness(isolated_mariadb, channels, settings, sim_client, recorder) -> Harness:
    sim_client.post(
        "/_sim/config",
        json={"outcomes": {"delivered": 1, "failed": 0, "bounced": 0, "undelivered": 0}},
    ).raise_for_status()
    return Harness(isolated_mariadb, channels, settings, sim_client, recorder)


def test_a_30_second_outage_loses_nothing(harness: Harness) -> None:
    harness.add_jobs(MIX)
    # The outage begins with the run: every first try meets it.
    statuses = harness.run(outages=[Outage(timedelta(0), timedelta(seconds=30))])
    harness.assert_exactly_once()
    failed = {i: r["last_error"] for i, r in harness.rows().items() if r["status"] == "failed"}
    assert failed == {}
    assert sum(statuses.values()) == 36


def test_a_ten_minute_outage_loses_nothing_and_the_breaker_keeps_the_retries(
    harness: Harness,
) -> None:
    harness.add_jobs(MIX)
    statuses = harness.run(
        outages=[Outage(timedelta(0), timedelta(minutes=10))], step=timedelta(seconds=5)
    )
    harness.assert_exactly_once()
    assert sum(statuses.values()) == 36 and set(statuses) <= {"sent", "delivered"}
    rows = harness.rows().values()
    # The breaker held jobs without spending their retries: far fewer than the outage's length
    # would have cost at 2 s, 4 s, ... with every job hammering the providers.
    assert max(r["retries"] for r in rows) < harness.tuning.retry.max_retries


def test_twenty_percent_random_5xx(harness: Harness) -> None:
    harness.sim.post("/_sim/config", json={"error_rate": 0.2, "error_kind": "server"})
    harness.add_jobs({"sms": 20, "email": 20, "whatsapp": 20})
    harness.run(statuses=True)
    harness.assert_exactly_once()
    rejected = harness.sim.get("/_sim/stats").json()["counters"]
    assert sum(v for k, v in rejected.items() if k.startswith("rejected.")) > 0


def test_latency_spikes_beyond_the_timeout(harness: Harness, settings) -> None:
    """Calls that time out on our side are taken on the provider's: each is reconciled with the
    provider's record (or, for WhatsApp, its statuses) instead of being sent again."""
    from outreach.channels import load_channels

    impatient = load_channels(
        settings.model_copy(update={"provider_timeout_seconds": 0.25}),
        names=["sms", "email", "whatsapp"],
    )
    harness.worker = harness.new_worker(impatient)
    harness.sim.post("/_sim/config", json={"latency_spike_rate": 0.25, "latency_spike_ms": 600})
    harness.add_jobs({"sms": 10, "email": 10, "whatsapp": 10})
    harness.run(statuses=True)
    harness.assert_exactly_once()
    assert any(r["unconfirmed_since"] is None for r in harness.rows().values())


def test_duplicate_and_out_of_order_callbacks(harness: Harness) -> None:
    harness.sim.post(
        "/_sim/config",
        json={"duplicate_callback_rate": 0.5, "callback_jitter_ms": 40, "callback_delay_ms": 5},
    )
    harness.add_jobs({"sms": 10, "email": 10, "whatsapp": 10})
    harness.run(statuses=True)
    for _ in range(20):  # the late ones
        harness.ingest_statuses()
        if set(harness.statuses()) == {"delivered"}:
            break
        import time

        time.sleep(0.1)
    harness.assert_exactly_once()
    assert harness.statuses() == {"delivered": 30}


def test_a_worker_killed_between_taking_a_batch_and_recording_it(harness: Harness) -> None:
    """The provider took some of the batch, then SIGKILL: those are found at the provider, the
    ones never started are sent at once by the next worker, none twice."""
    crashing: dict[str, ChannelWorker] = {
        name: CrashingChannel(channel, crash_after=4) if name == "sms" else channel
        for name, channel in harness.channels.items()
    }
    harness.worker = harness.new_worker(crashing)
    harness.add_jobs({"sms": 20, "email": 5, "whatsapp": 5})
    harness.run(statuses=True)  # WhatsApp's sends are reconciled by the statuses it reports
    harness.assert_exactly_once()
    assert harness.worker_id != "worker-1"  # a second worker finished the work


def test_a_scheduler_killed_between_claim_and_publish(harness: Harness) -> None:
    harness.add_jobs({"sms": 10, "email": 5})
    assert harness.dispatch(scheduler="scheduler-dead", die_before_publish=True) == []
    assert harness.statuses() == {"processing": 15}  # claimed, and nobody will publish them
    harness.run(statuses=True)
    harness.assert_exactly_once()
