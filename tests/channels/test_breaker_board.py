"""The workers' breakers as others see them: each change posted to Redis, closed ones removed,
the hash forgotten after its time to live, and a board that fails never stops a send."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from redis import Redis
from redis.backoff import NoBackoff
from redis.retry import Retry

from outreach.channels.breaker_board import RedisBreakerBoard
from outreach.delivery.circuit_breaker import BreakerSettings, BreakerState
from outreach.redis_store import KeySpace, connect_redis
from outreach.services.send_jobs import ProviderBreakers

pytestmark = pytest.mark.services

NOW = datetime(2026, 3, 2, 12, 0, tzinfo=UTC)


def test_changes_are_posted_and_a_closed_breaker_leaves_no_trace(
    redis_server_url: str, redis_prefix: str
) -> None:
    client = connect_redis(redis_server_url)
    keys = KeySpace(redis_prefix)
    one = RedisBreakerBoard(client, keys, "worker-1", ttl_seconds=120)
    two = RedisBreakerBoard(client, keys, "worker-2", ttl_seconds=120)
    one.post("twilio", BreakerState.OPEN, NOW, NOW + timedelta(seconds=15))
    two.post("twilio", BreakerState.HALF_OPEN, NOW)
    reader = RedisBreakerBoard(client, keys)
    assert [(r.reporter, r.state) for r in reader.reports("twilio")] == [
        ("worker-1", BreakerState.OPEN),
        ("worker-2", BreakerState.HALF_OPEN),
    ]
    assert 0 < client.ttl(keys.key("breakers", "twilio")) <= 120
    one.post("twilio", BreakerState.CLOSED, NOW)
    assert [r.reporter for r in reader.reports("twilio")] == ["worker-2"]
    client.hset(keys.key("breakers", "twilio"), "worker-3", "not json")
    assert [r.reporter for r in reader.reports("twilio")] == ["worker-2"]  # skipped, not fatal


def test_provider_breakers_post_their_changes_and_send_on_when_the_board_fails(
    redis_server_url: str, redis_prefix: str
) -> None:
    settings = BreakerSettings(min_calls=2, error_ratio=0.1, open_for=timedelta(seconds=10))
    board = RedisBreakerBoard(connect_redis(redis_server_url), KeySpace(redis_prefix), "w")
    breakers = ProviderBreakers(settings, board)
    for second in range(2):
        assert breakers.allow("sendgrid", NOW + timedelta(seconds=second)) is None
        breakers.record("sendgrid", NOW + timedelta(seconds=second), failed=True)
    [opened] = board.reports("sendgrid")
    assert opened.state is BreakerState.OPEN
    assert opened.open_until == NOW + timedelta(seconds=11)
    assert breakers.allow("sendgrid", NOW + timedelta(seconds=12)) is None  # a probe
    [probing] = board.reports("sendgrid")
    assert probing.state is BreakerState.HALF_OPEN
    for _ in range(settings.probes):
        breakers.record("sendgrid", NOW + timedelta(seconds=13), failed=False)
        breakers.allow("sendgrid", NOW + timedelta(seconds=13))
    assert breakers.state("sendgrid") == "closed" and board.reports("sendgrid") == []

    unreachable = RedisBreakerBoard(
        Redis(host="127.0.0.1", port=1, retry=Retry(NoBackoff(), 0)), KeySpace(redis_prefix), "w"
    )
    failing = ProviderBreakers(settings, unreachable)
    for second in range(2):
        failing.allow("twilio", NOW + timedelta(seconds=second))
        failing.record("twilio", NOW + timedelta(seconds=second), failed=True)
    assert failing.state("twilio") == "open"  # the breaker works; only the post was lost
