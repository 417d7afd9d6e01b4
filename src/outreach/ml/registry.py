"""The model registry's rule: a newly trained model goes into use only if it does at least as
well on the held-out sends as the one in use, both judged on the same sends.

"As well" is the held-out policy value (the prompt-engagement rate of held-out sends that went
within an hour of the model's best hour): what a clinic gets from the model. A candidate without
one (no held-out send matched its hours) is never promoted over a model in use.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

from outreach.ml.best_hour import HeldoutScores

BEST_HOUR_MODEL = "best_hour"


@dataclass(frozen=True, slots=True)
class PromotionDecision:
    promote: bool
    reason: str


def promotion_decision(candidate: HeldoutScores, active: HeldoutScores | None) -> PromotionDecision:
    """Whether the candidate replaces the active model (``None``: there is none)."""
    if active is None:
        return PromotionDecision(True, "no model in use")
    if math.isnan(candidate.policy_value):
        return PromotionDecision(False, "the candidate has no held-out policy value")
    if math.isnan(active.policy_value) or candidate.policy_value >= active.policy_value:
        return PromotionDecision(
            True,
            f"held-out policy value {candidate.policy_value:.4f} >= "
            f"{active.policy_value:.4f} of the model in use",
        )
    return PromotionDecision(
        False,
        f"held-out policy value {candidate.policy_value:.4f} < "
        f"{active.policy_value:.4f} of the model in use",
    )
