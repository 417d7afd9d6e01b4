"""When to try a failed send again: exponential backoff with jitter, then give up (DESIGN.md)."""

from __future__ import annotations

import random
from datetime import timedelta

# 1, 2, 4, 8, 16 s: five retries after the first attempt, then the job fails to the DLQ.
BASE_DELAY_SECONDS = 1.0
MAX_ATTEMPTS = 6


def compute_backoff(attempt: int, rng: random.Random | None = None) -> timedelta:
    """Delay before the retry that follows ``attempt`` (1-based) failed.

    Full jitter on the upper half: between 50% and 100% of 2**(attempt-1) seconds, so a burst of
    failures does not come back as a burst of retries.
    """
    if attempt < 1:
        raise ValueError("attempt is 1-based")
    ceiling = BASE_DELAY_SECONDS * 2 ** (attempt - 1)
    fraction = 0.5 + 0.5 * (rng or random).random()
    return timedelta(seconds=ceiling * fraction)


def should_retry(attempt: int) -> bool:
    """Whether a transient failure on ``attempt`` leaves another try."""
    return attempt < MAX_ATTEMPTS
