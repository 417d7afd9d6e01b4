"""Which variant a patient gets in a campaign, and whether they are held out: a hash, not a draw.

``sha256(salt + patient id)``, its first 15 hex digits read as an integer, modulo the number of
buckets: the same campaign and patient always give the same answer, in any process, on any run,
so a rerun of an expansion or a recurring enrolment never moves anyone. The hold-out and the
variant use different salts, so the hold-out takes the same share of every variant.

Expansion assigns in the database (``INSERT ... SELECT``): ``assignment_thresholds`` gives the
bucket bounds the SQL compares against, and a test holds the SQL to ``variant_for`` and
``is_held_out`` on MariaDB and SQLite.

Hold-out sizing follows what a global control group usually is: 1 to 15 percent. Under about a
thousand patients a hold-out is too small to measure much, so ``holdout_warning`` says so.
"""

from __future__ import annotations

import hashlib
from collections.abc import Mapping
from dataclasses import dataclass

HASH_HEX_DIGITS = 15  # 60 bits: fits a signed 64-bit integer on every database
HOLDOUT_BUCKETS = 10_000  # hold-out percentages to two decimals (basis points)
MIN_HOLDOUT_PERCENT = 1.0
MAX_HOLDOUT_PERCENT = 15.0
HOLDOUT_WARNING_BELOW = 1_000


def variant_salt(campaign_id: int) -> str:
    return f"campaign:{campaign_id}:variant:"


def holdout_salt(campaign_id: int) -> str:
    return f"campaign:{campaign_id}:holdout:"


def assignment_bucket(salt: str, patient_id: str, buckets: int) -> int:
    """The patient's bucket in ``[0, buckets)`` for this salt."""
    digest = hashlib.sha256((salt + patient_id).encode("utf-8")).hexdigest()
    return int(digest[:HASH_HEX_DIGITS], 16) % buckets


@dataclass(frozen=True, slots=True)
class AssignmentThresholds:
    """Bucket bounds: a patient whose variant bucket is below ``variant_bounds[i][0]`` (and not
    below the previous bound) gets ``variant_bounds[i][1]``; one whose hold-out bucket is below
    ``holdout_below`` is held out."""

    variant_buckets: int
    variant_bounds: tuple[tuple[int, str], ...]
    holdout_buckets: int
    holdout_below: int


def _checked_weights(weights: Mapping[str, int]) -> dict[str, int]:
    if not weights:
        raise ValueError("a campaign needs at least one variant")
    if any(isinstance(w, bool) or not isinstance(w, int) or w < 0 for w in weights.values()):
        raise ValueError("variant weights are non-negative integers")
    if sum(weights.values()) <= 0:
        raise ValueError("variant weights add up to zero")
    return dict(weights)


def assignment_thresholds(
    weights: Mapping[str, int], holdout_percent: float
) -> AssignmentThresholds:
    """The bounds for ``weights`` (variants in name order; weight 0 switches one off) and a
    hold-out of ``holdout_percent`` (0 for none)."""
    checked = _checked_weights(weights)
    bounds: list[tuple[int, str]] = []
    upper = 0
    for name in sorted(checked):
        if checked[name] == 0:
            continue
        upper += checked[name]
        bounds.append((upper, name))
    if holdout_percent < 0 or holdout_percent > MAX_HOLDOUT_PERCENT:
        raise ValueError(f"hold-out is 0 or {MIN_HOLDOUT_PERCENT:g}-{MAX_HOLDOUT_PERCENT:g}%")
    return AssignmentThresholds(
        variant_buckets=upper,
        variant_bounds=tuple(bounds),
        holdout_buckets=HOLDOUT_BUCKETS,
        holdout_below=round(holdout_percent * HOLDOUT_BUCKETS / 100),
    )


def variant_for(campaign_id: int, patient_id: str, weights: Mapping[str, int]) -> str:
    """The patient's variant, in proportion to the integer ``weights``."""
    thresholds = assignment_thresholds(weights, 0)
    bucket = assignment_bucket(variant_salt(campaign_id), patient_id, thresholds.variant_buckets)
    for upper, name in thresholds.variant_bounds:
        if bucket < upper:
            return name
    raise AssertionError("unreachable: the bounds cover every bucket")


def is_held_out(campaign_id: int, patient_id: str, holdout_percent: float) -> bool:
    """Whether the patient is in the campaign's hold-out (enrolled, never messaged)."""
    below = assignment_thresholds({"A": 1}, holdout_percent).holdout_below
    return assignment_bucket(holdout_salt(campaign_id), patient_id, HOLDOUT_BUCKETS) < below


def holdout_warning(segment_size: int, holdout_percent: float) -> str | None:
    """A warning to show the marketer when a hold-out is too small to tell variants apart."""
    if holdout_percent <= 0 or segment_size >= HOLDOUT_WARNING_BELOW:
        return None
    expected = segment_size * holdout_percent / 100
    return (
        f"the segment has {segment_size} patients (under {HOLDOUT_WARNING_BELOW:,}): a "
        f"{holdout_percent:g}% hold-out keeps about {expected:.0f} of them, too few to measure "
        "the campaign's effect reliably"
    )
