"""Each provider's circuit across the workers and each sender's pace, read from Redis without
taking a token; unknown when Redis cannot say, never guessed."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from types import SimpleNamespace
from typing import Any

import pytest
from redis import Redis
from redis.backoff import NoBackoff
from redis.retry import Retry

from outreach.channels.breaker_board import RedisBreakerBoard
from outreach.channels.rate_limiter import RedisRateLimiter
from outreach.delivery.circuit_breaker import BreakerState
from outreach.redis_store import KeySpace, connect_redis
from outreach.services.provider_health import provider_health

pytestmark = pytest.mark.services

NOW = datetime(2026, 3, 2, 12, 0, tzinfo=UTC)


def worker(name: str, provider: str, key: str, rate: float) -> Any:
    """What the use case reads of a channel worker."""
    return SimpleNamespace(name=name, provider=provider, pacing_key=key, default_rate_per_sec=rate)


CHANNELS = {
    "sms": worker("sms", "twilio", "twilio:AC1:+15550001", 30.0),
    "email": worker("email", "sendgrid", "sendgrid:clinic@example.org", 100.0),
}


def test_circuits_and_paces(redis_server_url: str, redis_prefix: str) -> None:
    client = connect_redis(redis_server_url)
    keys = KeySpace(redis_prefix)
    rates = {"twilio:AC1:+15550001": 1.0}
    RedisBreakerBoard(client, keys, "worker-7").post(
        "twilio", BreakerState.OPEN, NOW, NOW + timedelta(seconds=15)
    )
    buckets = RedisRateLimiter(client, keys, rates, clock=lambda: NOW.timestamp())
    assert buckets.try_take("twilio:AC1:+15550001", 30.0) == 0  # the one token of the second

    sendgrid, twilio = provider_health(
        CHANNELS, rates, NOW, board=RedisBreakerBoard(client, keys), buckets=buckets
    )
    assert twilio.provider == "twilio" and twilio.circuit is not None
    assert twilio.circuit.state is BreakerState.OPEN
    assert twilio.circuit.open_until == NOW + timedelta(seconds=15)
    [sms] = twilio.senders
    assert (sms.rate_per_second, sms.configured, sms.capacity) == (1.0, True, 1.0)
    assert sms.tokens == pytest.approx(0.0)
    assert sendgrid.circuit is not None and sendgrid.circuit.state is BreakerState.CLOSED
    [email] = sendgrid.senders
    assert (email.rate_per_second, email.configured, email.tokens) == (100.0, False, 100.0)


def test_without_redis_the_circuit_and_the_bucket_are_unknown(redis_prefix: str) -> None:
    gone = Redis(host="127.0.0.1", port=1, retry=Retry(NoBackoff(), 0), decode_responses=True)
    keys = KeySpace(redis_prefix)
    [sendgrid, twilio] = provider_health(
        CHANNELS,
        {},
        NOW,
        board=RedisBreakerBoard(gone, keys),
        buckets=RedisRateLimiter(gone, keys, {}),
    )
    assert twilio.circuit is None and twilio.senders[0].tokens is None
    assert twilio.senders[0].rate_per_second == 30.0  # the configuration is still known
    assert provider_health(CHANNELS, {}, NOW)[1].circuit is None
