"""Job retries back off exponentially with jitter and stop after the last attempt."""

from __future__ import annotations

import pytest

from outreach.delivery.retry_policy import MAX_ATTEMPTS, compute_backoff, should_retry


@pytest.mark.parametrize("attempt", range(1, MAX_ATTEMPTS + 1))
def test_backoff_doubles_with_jitter(attempt: int) -> None:
    delay = compute_backoff(attempt).total_seconds()
    ceiling = 2 ** (attempt - 1)
    assert ceiling / 2 <= delay <= ceiling


def test_retries_stop_after_the_last_attempt() -> None:
    assert should_retry(MAX_ATTEMPTS - 1) and not should_retry(MAX_ATTEMPTS)
