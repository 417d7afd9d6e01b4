"""When to try a failed send again: a few quick tries in the worker, then backoff scheduled by
the scheduler, then give up.

A transient error (provider trouble, a rate limit, a timeout) is first retried in the sending
thread, briefly (``quick_retries``), so a blip costs no round trip through the job table. Past
those, the job goes back to the queue for later, with exponential backoff and jitter capped at
``max_delay``, and the scheduler claims it again: an outage of many minutes loses nothing. Waits
that are not failures (an open circuit breaker, pacing, a re-planned window) spend no retry.
"""

from __future__ import annotations

import random
from dataclasses import dataclass
from datetime import timedelta


@dataclass(frozen=True, slots=True)
class RetryPolicy:
    base_delay: timedelta = timedelta(seconds=2)
    max_delay: timedelta = timedelta(minutes=5)
    max_retries: int = 12  # scheduled retries after the first: 14 to 28 minutes in all
    quick_retries: int = 2  # in the sending thread, before the job goes back to the queue
    quick_delay: timedelta = timedelta(milliseconds=200)

    def __post_init__(self) -> None:
        if self.max_retries < 0 or self.quick_retries < 0 or self.base_delay <= timedelta(0):
            raise ValueError("retry counts are not negative and the base delay is positive")

    def backoff(self, retries: int, rng: random.Random | None = None) -> timedelta:
        """Delay before scheduled retry number ``retries`` (1-based).

        Full jitter on the upper half: between 50% and 100% of base * 2**(retries-1), capped,
        so a burst of failures does not come back as a burst of retries.
        """
        if retries < 1:
            raise ValueError("retries is 1-based")
        ceiling = min(self.base_delay * 2 ** min(retries - 1, 30), self.max_delay)
        fraction = 0.5 + 0.5 * (rng or random).random()
        return ceiling * fraction

    def may_retry(self, retries_so_far: int) -> bool:
        """Whether a job that already failed ``retries_so_far`` times may be tried again."""
        return retries_so_far < self.max_retries

    def quick_delay_for(self, try_number: int) -> float:
        """Seconds to wait in the sending thread before quick retry ``try_number`` (1-based)."""
        return self.quick_delay.total_seconds() * 2 ** (try_number - 1)


DEFAULT_RETRY_POLICY = RetryPolicy()
