"""A/B assignment and hold-out: a hash of campaign and patient, stable, in proportion, and
independent of each other."""

from __future__ import annotations

from collections import Counter

import pytest
from hypothesis import given
from hypothesis import strategies as st

from outreach.campaigns import (
    assignment_bucket,
    assignment_thresholds,
    holdout_warning,
    is_held_out,
    variant_for,
)

PATIENTS = [f"pat-{n:06d}" for n in range(20_000)]


def test_the_same_campaign_and_patient_always_get_the_same_variant() -> None:
    weights = {"A": 50, "B": 50}
    first = [variant_for(7, p, weights) for p in PATIENTS[:2000]]
    again = [variant_for(7, p, dict(reversed(list(weights.items())))) for p in PATIENTS[:2000]]
    assert first == again


def test_the_split_follows_the_weights() -> None:
    counts = Counter(variant_for(7, p, {"A": 70, "B": 20, "C": 10}) for p in PATIENTS)
    assert counts["A"] / len(PATIENTS) == pytest.approx(0.70, abs=0.015)
    assert counts["B"] / len(PATIENTS) == pytest.approx(0.20, abs=0.015)
    assert counts["C"] / len(PATIENTS) == pytest.approx(0.10, abs=0.015)


def test_a_weight_of_zero_switches_a_variant_off() -> None:
    assert {variant_for(3, p, {"A": 0, "B": 1}) for p in PATIENTS[:500]} == {"B"}


def test_campaigns_split_independently() -> None:
    one = [variant_for(1, p, {"A": 1, "B": 1}) for p in PATIENTS[:4000]]
    two = [variant_for(2, p, {"A": 1, "B": 1}) for p in PATIENTS[:4000]]
    same = sum(a == b for a, b in zip(one, two, strict=True)) / len(one)
    assert same == pytest.approx(0.5, abs=0.04)


def test_the_hold_out_takes_its_share_of_every_variant() -> None:
    weights = {"A": 50, "B": 50}
    held = [p for p in PATIENTS if is_held_out(9, p, 10)]
    assert len(held) / len(PATIENTS) == pytest.approx(0.10, abs=0.01)
    by_variant = Counter(variant_for(9, p, weights) for p in held)
    assert by_variant["A"] / len(held) == pytest.approx(0.5, abs=0.05)


def test_no_hold_out_holds_nobody() -> None:
    assert not any(is_held_out(9, p, 0) for p in PATIENTS[:1000])


@pytest.mark.parametrize("percent", [-1, 15.5, 50])
def test_hold_outs_beyond_a_control_group_s_size_are_refused(percent: float) -> None:
    with pytest.raises(ValueError):
        assignment_thresholds({"A": 1}, percent)


def test_hold_out_percentages_keep_two_decimals() -> None:
    assert assignment_thresholds({"A": 1}, 2.5).holdout_below == 250


def test_a_small_segment_gets_a_warning_only_with_a_hold_out() -> None:
    assert "999 patients" in (holdout_warning(999, 5) or "")
    assert holdout_warning(1000, 5) is None
    assert holdout_warning(10, 0) is None


@given(st.text(min_size=1, max_size=64), st.integers(min_value=1, max_value=10_000))
def test_buckets_stay_in_range(patient_id: str, buckets: int) -> None:
    assert 0 <= assignment_bucket("campaign:1:variant:", patient_id, buckets) < buckets


@given(
    st.dictionaries(
        st.sampled_from("ABCDE"), st.integers(min_value=0, max_value=100), min_size=1
    ).filter(lambda w: sum(w.values()) > 0),
    st.text(min_size=1, max_size=20),
)
def test_a_patient_never_lands_on_a_variant_switched_off(weights: dict[str, int], pid: str) -> None:
    assert weights[variant_for(5, pid, weights)] > 0
