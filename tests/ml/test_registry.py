"""Promotion: a candidate goes into use only if it does no worse on the held-out sends."""

from __future__ import annotations

import math

import pytest

from outreach.ml.best_hour import HeldoutScores
from outreach.ml.registry import promotion_decision


@pytest.mark.parametrize(
    ("candidate", "active", "promote"),
    [
        (0.30, None, True),  # nothing in use
        (0.30, 0.25, True),
        (0.30, 0.30, True),  # no worse
        (0.24, 0.25, False),  # worse: the model in use stays
        (math.nan, 0.25, False),  # the candidate cannot be judged
        (0.24, math.nan, True),  # the model in use cannot be judged on today's data
    ],
)
def test_promotion(candidate: float, active: float | None, promote: bool) -> None:
    decision = promotion_decision(
        HeldoutScores(candidate, 0.4),
        HeldoutScores(active, 0.4) if active is not None else None,
    )

    assert decision.promote is promote
    assert decision.reason
