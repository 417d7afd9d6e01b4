"""A/B verdicts: per-arm rates with Wilson intervals, a two-proportion z-test against the control,
the probability that an arm beats the control, the lift over the control, and a plain warning
when the samples are too small to conclude.

An arm is a variant of a campaign, or its hold-out (patients enrolled but never messaged), which
is then the control: the lift an arm shows over the hold-out is what the messages achieved.

- Wilson score interval (statsmodels ``proportion_confint(method="wilson")``): unlike the normal
  interval it stays inside [0, 1] and behaves for small counts and rates near 0 or 1.
- Two-sided two-proportion z-test with the pooled proportion (statsmodels
  ``proportions_ztest``).
- Probability to beat control: with a uniform prior each rate has a Beta(successes + 1,
  failures + 1) posterior, and P(arm > control) has an exact finite sum (Evan Miller's formula),
  computed in log space with scipy's ``betaln``: deterministic, no simulation.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field

import numpy as np
from scipy.special import betaln
from statsmodels.stats.proportion import proportion_confint, proportions_ztest

# Below these an arm's numbers are shown, but no conclusion is drawn from them: the normal
# approximation behind the z-test wants about ten successes and ten failures, and a hundred
# trials keeps a difference of a few points from being pure noise.
MIN_TRIALS = 100
MIN_OUTCOMES = 10


@dataclass(frozen=True, slots=True)
class Arm:
    """One group of a test: ``successes`` out of ``trials`` (e.g. replies out of deliveries)."""

    name: str
    trials: int
    successes: int
    is_holdout: bool = False

    def __post_init__(self) -> None:
        if self.trials < 0 or not 0 <= self.successes <= max(self.trials, 0):
            raise ValueError(f"arm {self.name!r}: successes must lie within 0..trials")

    @property
    def rate(self) -> float | None:
        return self.successes / self.trials if self.trials else None


@dataclass(frozen=True, slots=True)
class ArmResult:
    """An arm against the control (the control's own comparison fields are None)."""

    arm: Arm
    interval: tuple[float, float] | None  # Wilson, at the verdict's confidence
    difference: float | None = None  # rate minus the control's, in proportion (0.031 = 3.1 pts)
    lift: float | None = None  # difference over the control's rate (0.25 = 25 % better)
    z: float | None = None
    p_value: float | None = None
    probability_to_beat: float | None = None
    too_small: bool = False


@dataclass(frozen=True, slots=True)
class AbVerdict:
    """The evaluation of one metric across arms, against one control."""

    metric: str
    control: str
    confidence: float
    arms: tuple[ArmResult, ...]
    warnings: tuple[str, ...] = field(default_factory=tuple)
    conclusions: tuple[str, ...] = field(default_factory=tuple)

    def result(self, name: str) -> ArmResult:
        return next(r for r in self.arms if r.arm.name == name)


def wilson_interval(successes: int, trials: int, confidence: float = 0.95) -> tuple[float, float]:
    """The Wilson score interval of a proportion."""
    low, high = proportion_confint(successes, trials, alpha=1 - confidence, method="wilson")
    return float(low), float(high)


def two_proportion_test(
    successes: int, trials: int, control_successes: int, control_trials: int
) -> tuple[float, float]:
    """(z, two-sided p) of the difference between a rate and the control's, pooled variance.
    Identical all-or-nothing rates have no variance: z is 0 and p is 1."""
    pooled = (successes + control_successes) / (trials + control_trials)
    if pooled in (0.0, 1.0):
        return 0.0, 1.0
    z, p = proportions_ztest([successes, control_successes], [trials, control_trials])
    return float(z), float(p)


def probability_to_beat(
    successes: int, trials: int, control_successes: int, control_trials: int
) -> float:
    """P(the arm's true rate > the control's), both with Beta(1, 1) priors (exact sum)."""
    alpha_b, beta_b = successes + 1, trials - successes + 1
    alpha_a, beta_a = control_successes + 1, control_trials - control_successes + 1
    i = np.arange(alpha_b, dtype=float)
    terms = (
        betaln(alpha_a + i, beta_a + beta_b)
        - np.log(beta_b + i)
        - betaln(1 + i, beta_b)
        - betaln(alpha_a, beta_a)
    )
    return float(min(1.0, max(0.0, np.exp(terms).sum())))


def _too_small(arm: Arm) -> bool:
    failures = arm.trials - arm.successes
    return arm.trials < MIN_TRIALS or min(arm.successes, failures) < MIN_OUTCOMES


def _percent(value: float) -> str:
    return f"{value * 100:.1f}%"


def _p_text(p: float) -> str:
    return "p < 0.001" if p < 0.001 else f"p = {p:.3f}"


def evaluate(
    arms: Sequence[Arm],
    *,
    metric: str,
    control: str | None = None,
    confidence: float = 0.95,
) -> AbVerdict:
    """Each arm against the control: the hold-out when there is one, else ``control``, else the
    first arm. ``metric`` names what a success is, for the sentences ("replied of delivered")."""
    if not arms:
        raise ValueError("an A/B evaluation needs at least one arm")
    holdouts = [a for a in arms if a.is_holdout]
    chosen = holdouts[0] if holdouts else next((a for a in arms if a.name == control), arms[0])
    results = []
    warnings = []
    conclusions = []
    for arm in arms:
        interval = wilson_interval(arm.successes, arm.trials, confidence) if arm.trials else None
        small = _too_small(arm)
        if small:
            warnings.append(
                f"{arm.name} is too small a sample to conclude (it takes at least {MIN_TRIALS} "
                f"per group, with {MIN_OUTCOMES} of each outcome)."
            )
        if arm is chosen or not arm.trials or not chosen.trials:
            results.append(ArmResult(arm, interval, too_small=small))
            continue
        rate, control_rate = arm.successes / arm.trials, chosen.successes / chosen.trials
        difference = rate - control_rate
        z, p = two_proportion_test(arm.successes, arm.trials, chosen.successes, chosen.trials)
        beat = probability_to_beat(arm.successes, arm.trials, chosen.successes, chosen.trials)
        results.append(
            ArmResult(
                arm,
                interval,
                difference=difference,
                lift=difference / control_rate if control_rate else None,
                z=z,
                p_value=p,
                probability_to_beat=beat,
                too_small=small,
            )
        )
        if small or _too_small(chosen):
            continue
        against = "the hold-out" if chosen.is_holdout else chosen.name
        figures = (
            f"{_percent(rate)} vs {_percent(control_rate)} {metric} "
            f"({difference * 100:+.1f} points, {_p_text(p)}); "
            f"{beat * 100:.0f}% probability {arm.name} is better"
        )
        if p < 1 - confidence:
            verb = "beats" if difference > 0 else "does worse than"
            conclusions.append(f"{arm.name} {verb} {against}: {figures}.")
        else:
            conclusions.append(f"No clear difference between {arm.name} and {against}: {figures}.")
    return AbVerdict(
        metric=metric,
        control=chosen.name,
        confidence=confidence,
        arms=tuple(results),
        warnings=tuple(warnings),
        conclusions=tuple(conclusions),
    )
