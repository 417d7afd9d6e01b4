"""Token-bucket pacing: never faster than the rate (plus the burst), never idle when tokens wait."""

from __future__ import annotations

from hypothesis import given
from hypothesis import strategies as st

from outreach.delivery.token_bucket import Bucket, bucket_capacity, take_token


def test_a_new_bucket_starts_full_then_paces() -> None:
    rate, capacity = 2.0, 2.0
    first = take_token(None, 100.0, rate, capacity)
    second = take_token(first.bucket, 100.0, rate, capacity)
    third = take_token(second.bucket, 100.0, rate, capacity)
    assert first.granted and second.granted and not third.granted
    assert third.wait_seconds == 0.5
    assert take_token(third.bucket, 100.5, rate, capacity).granted


def test_capacity_is_a_burst_of_at_least_one() -> None:
    assert bucket_capacity(1.0, 1.0) == 1.0
    assert bucket_capacity(0.2, 1.0) == 1.0
    assert bucket_capacity(80.0, 0.5) == 40.0


def test_a_clock_that_steps_back_earns_nothing() -> None:
    taken = take_token(Bucket(0.0, 100.0), 90.0, 1.0, 1.0)
    assert not taken.granted and taken.wait_seconds == 1.0


@given(
    rate=st.floats(0.5, 100),
    burst=st.floats(0.1, 2),
    gaps=st.lists(st.floats(0, 0.5), min_size=1, max_size=300),
)
def test_grants_never_outrun_the_rate(rate: float, burst: float, gaps: list[float]) -> None:
    capacity = bucket_capacity(rate, burst)
    bucket, now, granted = None, 0.0, 0
    for gap in gaps:
        now += gap
        taken = take_token(bucket, now, rate, capacity)
        bucket = taken.bucket
        granted += taken.granted
        if not taken.granted:
            assert taken.wait_seconds > 0
            # Waiting as told is always enough.
            assert take_token(bucket, now + taken.wait_seconds + 1e-9, rate, capacity).granted
    assert granted <= capacity + rate * now + 1e-6
