"""Latency histograms: buckets cover every duration once, and the median read from a histogram
lies in the bucket of the true median."""

from __future__ import annotations

import statistics

from hypothesis import given
from hypothesis import strategies as st

from outreach.analytics.latency import BUCKETS, bucket_bounds, bucket_of, median_seconds


@given(st.floats(min_value=0, max_value=1e9, allow_nan=False))
def test_every_duration_falls_in_its_bucket(seconds: float) -> None:
    low, high = bucket_bounds(bucket_of(seconds))
    assert low <= seconds < high


def test_negative_durations_count_as_zero() -> None:
    assert bucket_of(-5) == 0


@given(
    st.lists(st.floats(min_value=0, max_value=1e7), min_size=1, max_size=60).filter(
        lambda values: len(values) % 2 == 1
    )
)
def test_the_median_lies_in_the_true_medians_bucket(values: list[float]) -> None:
    histogram = [0] * BUCKETS
    for value in values:
        histogram[bucket_of(value)] += 1
    true = statistics.median(values)
    low, high = bucket_bounds(bucket_of(true))
    estimate = median_seconds(histogram)
    assert estimate is not None and low <= estimate <= high


def test_an_empty_histogram_has_no_median() -> None:
    assert median_seconds([0] * BUCKETS) is None
