"""The one retry helper: it awaits what it is given, pauses with backoff, and gives up on time."""

from __future__ import annotations

import asyncio

import pytest

from outreach.retrying import RetrySchedule, retry_async


@pytest.fixture
def pauses(monkeypatch: pytest.MonkeyPatch) -> list[float]:
    taken: list[float] = []

    async def no_sleep(delay: float) -> None:
        taken.append(delay)

    monkeypatch.setattr(asyncio, "sleep", no_sleep)
    return taken


async def test_a_lambda_returning_a_coroutine_is_awaited_until_it_succeeds(
    pauses: list[float],
) -> None:
    calls: list[int] = []

    async def flaky() -> int:
        calls.append(1)
        if len(calls) < 4:
            raise ConnectionError("away")
        return 42

    result = await retry_async(lambda: flaky(), RetrySchedule(None, 0.5, 1.5), what="flaky")

    assert (result, len(calls)) == (42, 4)
    assert pauses == [0.5, 1.0, 1.5]


async def test_the_last_error_raises_when_the_attempts_run_out(pauses: list[float]) -> None:
    async def broken() -> None:
        raise ConnectionError("away")

    with pytest.raises(ConnectionError):
        await retry_async(lambda: broken(), RetrySchedule(2, 0.5), what="broken")
    assert pauses == [0.5]
