"""Learning curves and lifts, as ``outreach ml evaluate`` reports them."""

from __future__ import annotations

import numpy as np
import pytest

from outreach.ml.evaluation import ArmResult, learning_curve, share_within_one_hour


def test_within_one_hour_goes_round_the_clock_and_buckets_by_history() -> None:
    learnt = np.array([9, 12, 23, 8, 15])
    truth = np.array([10, 14, 0, 8, 15])
    interactions = np.array([0, 3, 12, 25, 50])

    curve = {row.label: row for row in learning_curve(learnt, truth, interactions, np.ones(5))}

    assert curve["0"].within_one_hour == 1.0
    assert curve["1-4"].within_one_hour == 0.0  # two hours off
    assert curve["10-19"].within_one_hour == 1.0  # 23:00 and midnight are an hour apart
    assert curve["5-9"].patients == 0 and np.isnan(curve["5-9"].within_one_hour)
    assert share_within_one_hour(learnt, truth, interactions, min_interactions=10) == 1.0


def test_lift_is_relative_to_the_baseline() -> None:
    model = ArmResult("model", sends=1000, engaged=300, engaged_promptly=200)
    fixed = ArmResult("fixed", sends=1000, engaged=240, engaged_promptly=100)

    assert model.relative_lift_over(fixed) == pytest.approx(25.0)
    assert model.prompt_lift_over(fixed) == pytest.approx(100.0)
