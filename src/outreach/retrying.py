"""The one retry helper for infrastructure calls (a batch handler, a publish): exponential backoff.

Job-level retries of a failed send are a domain rule (``scheduler.retry_policy``); this module is
for the plumbing around them, where the question is only "try again after a pause, or give up".
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import TypeVar

from tenacity import (
    AsyncRetrying,
    RetryCallState,
    stop_after_attempt,
    stop_never,
    wait_exponential,
)

logger = logging.getLogger(__name__)

T = TypeVar("T")


async def pause(seconds: float) -> None:
    """The wait between tries (one name to stand in for it in tests)."""
    await asyncio.sleep(seconds)


@dataclass(frozen=True, slots=True)
class RetrySchedule:
    """``attempts`` tries in all (None: until it succeeds), waiting ``initial_delay`` seconds
    after the first failure and doubling up to ``max_delay``."""

    attempts: int | None
    initial_delay: float
    max_delay: float = 30.0


async def retry_async(run: Callable[[], Awaitable[T]], schedule: RetrySchedule, *, what: str) -> T:
    """``await run()`` until it succeeds or the schedule gives up (then its last error raises).

    Each failure is logged with the error's type only: an error's text may quote personal data.
    """

    def log_failure(state: RetryCallState) -> None:
        error = state.outcome.exception() if state.outcome else None
        logger.warning(
            "%s failed (%s), attempt %d; retrying in %.1fs",
            what,
            type(error).__name__,
            state.attempt_number,
            state.next_action.sleep if state.next_action else 0.0,
        )

    retrying = AsyncRetrying(
        stop=stop_never if schedule.attempts is None else stop_after_attempt(schedule.attempts),
        wait=wait_exponential(
            multiplier=schedule.initial_delay, min=schedule.initial_delay, max=schedule.max_delay
        ),
        before_sleep=log_failure,
        sleep=lambda seconds: pause(seconds),  # looked up at each wait, so tests can stand in
        reraise=True,
    )

    async def attempt() -> T:  # tenacity awaits only what it sees as a coroutine function
        return await run()

    return await retrying(attempt)


def retry_transient(
    run: Callable[[], T],
    is_transient: Callable[[BaseException], bool],
    *,
    attempts: int,
    what: str,
) -> T:
    """``run()`` again at once after an error ``is_transient`` accepts (a deadlock between
    transactions), ``attempts`` tries in all; any other error, or the last, raises."""
    for attempt in range(1, attempts + 1):
        try:
            return run()
        except Exception as error:
            if attempt == attempts or not is_transient(error):
                raise
            logger.warning(
                "%s failed (%s), attempt %d; trying again", what, type(error).__name__, attempt
            )
    raise AssertionError("attempts must be at least 1")
