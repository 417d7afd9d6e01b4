"""The Redis token bucket is the pure one, atomically: the Lua script and
``delivery.token_bucket.take_token`` agree, on the real Redis and on the embedded stand-in."""

from __future__ import annotations

import random

import fakeredis
import pytest
from redis import Redis

from outreach.channels.rate_limiter import RedisRateLimiter
from outreach.delivery.token_bucket import bucket_capacity, take_token
from outreach.redis_store import KeySpace


class StepClock:
    def __init__(self) -> None:
        self.now = 1_000_000.0

    def __call__(self) -> float:
        return self.now


def agree(client: Redis, prefix: str) -> None:
    clock = StepClock()
    rate, burst = 5.0, 0.6
    limiter = RedisRateLimiter(
        client, KeySpace(prefix), {"twilio:a:+1": rate}, burst_seconds=burst, clock=clock
    )
    rng = random.Random(3)
    bucket = None
    for _ in range(300):
        clock.now += rng.choice([0.0, 0.01, 0.05, 0.2, 0.5])
        expected = take_token(bucket, clock.now, rate, bucket_capacity(rate, burst))
        bucket = expected.bucket
        assert limiter.try_take("twilio:a:+1", default_rate=99.0) == pytest.approx(
            expected.wait_seconds,
            abs=1e-6,  # Lua prints 14 digits
        )


@pytest.mark.services
def test_the_lua_script_is_the_pure_rule_on_redis(redis_server_url: str, redis_prefix: str) -> None:
    agree(Redis.from_url(redis_server_url, decode_responses=True), redis_prefix)


def test_the_lua_script_is_the_pure_rule_on_the_embedded_stand_in() -> None:
    agree(fakeredis.FakeRedis(decode_responses=True), "t:")


def test_a_sender_not_configured_paces_at_the_channels_default() -> None:
    clock = StepClock()
    limiter = RedisRateLimiter(
        fakeredis.FakeRedis(decode_responses=True), KeySpace("t:"), {}, clock=clock
    )
    assert limiter.rate_for("whatsapp:1", 80.0) == 80.0
    granted = sum(limiter.try_take("whatsapp:1", 80.0) == 0 for _ in range(200))
    assert granted == 80  # a full bucket of one second's worth, then pacing
    clock.now += 0.5
    assert sum(limiter.try_take("whatsapp:1", 80.0) == 0 for _ in range(200)) == 40


@pytest.mark.services
def test_reading_a_bucket_takes_nothing_and_sees_what_it_earned(
    redis_server_url: str, redis_prefix: str
) -> None:
    clock = StepClock()
    limiter = RedisRateLimiter(
        Redis.from_url(redis_server_url, decode_responses=True),
        KeySpace(redis_prefix),
        {"twilio:a:+1": 10.0},
        burst_seconds=1.0,
        clock=clock,
    )
    assert limiter.tokens_now("twilio:a:+1", 99.0) == 10.0  # never used: full
    assert limiter.is_configured("twilio:a:+1") and not limiter.is_configured("sendgrid:x")
    for _ in range(10):
        assert limiter.try_take("twilio:a:+1", 99.0) == 0
    assert limiter.tokens_now("twilio:a:+1", 99.0) == pytest.approx(0.0, abs=1e-9)
    assert limiter.tokens_now("twilio:a:+1", 99.0) == pytest.approx(0.0, abs=1e-9)  # still
    clock.now += 0.35
    assert limiter.tokens_now("twilio:a:+1", 99.0) == pytest.approx(3.5)
    assert limiter.try_take("twilio:a:+1", 99.0) == 0  # the read took none of them
    assert limiter.capacity_for("sendgrid:x", 100.0) == 100.0
