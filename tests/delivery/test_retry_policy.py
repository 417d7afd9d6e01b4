"""Job retries back off exponentially with jitter, capped, and stop after the last retry."""

from __future__ import annotations

import random
from datetime import timedelta

import pytest
from hypothesis import given
from hypothesis import strategies as st

from outreach.delivery.retry_policy import DEFAULT_RETRY_POLICY, RetryPolicy


@pytest.mark.parametrize("retries", range(1, 8))
def test_backoff_doubles_with_jitter(retries: int) -> None:
    policy = RetryPolicy(base_delay=timedelta(seconds=1), max_delay=timedelta(hours=1))
    delay = policy.backoff(retries).total_seconds()
    ceiling = 2 ** (retries - 1)
    assert ceiling / 2 <= delay <= ceiling


@given(retries=st.integers(1, 200), seed=st.integers(0, 2**32))
def test_backoff_never_exceeds_the_cap(retries: int, seed: int) -> None:
    delay = DEFAULT_RETRY_POLICY.backoff(retries, random.Random(seed))
    assert timedelta(0) < delay <= DEFAULT_RETRY_POLICY.max_delay


def test_the_default_retries_outlast_a_ten_minute_outage() -> None:
    """Even if every jitter drew its shortest delay, the scheduled retries span over ten
    minutes (the circuit breaker aside, which holds jobs without spending retries)."""
    policy = DEFAULT_RETRY_POLICY
    ceilings = [
        min(policy.base_delay * 2 ** (n - 1), policy.max_delay)
        for n in range(1, policy.max_retries + 1)
    ]
    assert sum(ceilings, timedelta(0)) / 2 > timedelta(minutes=10)


def test_retries_stop_after_the_last_one() -> None:
    policy = RetryPolicy(max_retries=3)
    assert policy.may_retry(2) and not policy.may_retry(3)


def test_quick_retries_wait_a_little_longer_each_time() -> None:
    policy = RetryPolicy(quick_delay=timedelta(milliseconds=100))
    assert [policy.quick_delay_for(n) for n in (1, 2, 3)] == [0.1, 0.2, 0.4]
