"""How good learnt best hours are: against a planted truth, and as engagement in a hold-out.

- ``learning_curve``: the share of patients whose learnt best hour is within an hour of their
  true one, by how many messages the model had seen for them;
- ``ArmResult``: sends and engagements of one arm of a hold-out (model-timed, a fixed hour...),
  and its relative lift over another;
- ``population_best_hour`` (from ``best_hour``): the single hour that engaged best over everyone,
  the baseline a clinic without a per-patient model would pick.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import pandas as pd

from outreach.ml.best_hour import hours_apart, population_best_hour

# (fewest, most) past messages; None: no upper bound.
INTERACTION_BUCKETS: tuple[tuple[int, int | None], ...] = (
    (0, 0),
    (1, 4),
    (5, 9),
    (10, 19),
    (20, 39),
    (40, None),
)


@dataclass(frozen=True, slots=True)
class LearningCurveRow:
    fewest: int
    most: int | None
    patients: int
    within_one_hour: float  # share; NaN for an empty bucket
    mean_confidence: float

    @property
    def label(self) -> str:
        if self.most is None:
            return f"{self.fewest}+"
        return str(self.fewest) if self.fewest == self.most else f"{self.fewest}-{self.most}"


def within_one_hour(learnt: np.ndarray, truth: np.ndarray) -> np.ndarray:
    return hours_apart(np.asarray(learnt), np.asarray(truth)) <= 1.0


def learning_curve(
    learnt: np.ndarray,
    truth: np.ndarray,
    interactions: np.ndarray,
    confidence: Sequence[float] | np.ndarray | pd.Series,
    buckets: Sequence[tuple[int, int | None]] = INTERACTION_BUCKETS,
) -> list[LearningCurveRow]:
    hits = within_one_hour(learnt, truth)
    confidence = np.asarray(confidence, dtype=float)
    interactions = np.asarray(interactions)
    rows = []
    for fewest, most in buckets:
        members = interactions >= fewest
        if most is not None:
            members &= interactions <= most
        count = int(members.sum())
        rows.append(
            LearningCurveRow(
                fewest,
                most,
                count,
                float(hits[members].mean()) if count else float("nan"),
                float(confidence[members].mean()) if count else float("nan"),
            )
        )
    return rows


def share_within_one_hour(
    learnt: np.ndarray, truth: np.ndarray, interactions: np.ndarray, min_interactions: int
) -> float:
    """Share of patients with at least ``min_interactions`` past messages whose learnt best hour
    is within an hour of the true one."""
    members = np.asarray(interactions) >= min_interactions
    if not members.any():
        return float("nan")
    return float(within_one_hour(np.asarray(learnt)[members], np.asarray(truth)[members]).mean())


@dataclass(frozen=True, slots=True)
class ArmResult:
    name: str
    sends: int
    engaged: int  # within the engagement window
    engaged_promptly: int  # within the prompt window

    @property
    def rate(self) -> float:
        return self.engaged / self.sends if self.sends else float("nan")

    @property
    def prompt_rate(self) -> float:
        return self.engaged_promptly / self.sends if self.sends else float("nan")

    def relative_lift_over(self, baseline: ArmResult) -> float:
        """How much more this arm engaged than ``baseline``, in percent of the baseline."""
        return 100.0 * (self.rate / baseline.rate - 1.0)

    def prompt_lift_over(self, baseline: ArmResult) -> float:
        return 100.0 * (self.prompt_rate / baseline.prompt_rate - 1.0)


__all__ = [
    "INTERACTION_BUCKETS",
    "ArmResult",
    "LearningCurveRow",
    "learning_curve",
    "population_best_hour",
    "share_within_one_hour",
    "within_one_hour",
]
