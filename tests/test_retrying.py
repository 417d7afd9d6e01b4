"""The retry helpers: try again (after a pause, or at once after a transient error), give up
after their attempts, log no text."""

from __future__ import annotations

import logging
import time

import pytest

from outreach.retrying import RetrySchedule, retry_async, retry_transient


class Flaky:
    def __init__(self, failures: int, error: Exception | None = None) -> None:
        self.failures = failures
        self.calls = 0
        self.error = error or ConnectionError("db at 10.0.0.1 said: patient +14155550100")

    async def __call__(self) -> str:
        self.calls += 1
        if self.calls <= self.failures:
            raise self.error
        return "done"


async def test_a_call_that_recovers_returns_its_result_after_backing_off() -> None:
    flaky = Flaky(failures=2)
    started = time.monotonic()
    result = await retry_async(flaky, RetrySchedule(attempts=3, initial_delay=0.05), what="x")
    assert result == "done" and flaky.calls == 3
    assert time.monotonic() - started >= 0.05 + 0.1  # waited 0.05 then 0.1


async def test_it_gives_up_after_its_attempts_with_the_last_error() -> None:
    flaky = Flaky(failures=5)
    with pytest.raises(ConnectionError):
        await retry_async(flaky, RetrySchedule(attempts=3, initial_delay=0.01), what="x")
    assert flaky.calls == 3


async def test_without_a_limit_it_keeps_trying() -> None:
    flaky = Flaky(failures=6)
    schedule = RetrySchedule(attempts=None, initial_delay=0.001, max_delay=0.002)
    assert await retry_async(flaky, schedule, what="x") == "done"
    assert flaky.calls == 7


async def test_failures_are_logged_by_type_only(caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.WARNING, logger="outreach.retrying")
    await retry_async(Flaky(failures=1), RetrySchedule(3, 0.001), what="status batch")
    assert "status batch failed (ConnectionError)" in caplog.text
    assert "+1415" not in caplog.text and "10.0.0.1" not in caplog.text


async def test_a_lambda_returning_a_coroutine_is_awaited() -> None:
    # tenacity awaits only calls to coroutine functions; callers pass lambdas like this one.
    flaky = Flaky(failures=1)
    schedule = RetrySchedule(attempts=3, initial_delay=0.001)
    assert await retry_async(lambda: flaky(), schedule, what="x") == "done"
    assert flaky.calls == 2


def test_retry_transient_tries_again_only_after_a_transient_error() -> None:
    calls: list[int] = []

    def deadlocks_twice() -> str:
        calls.append(1)
        if len(calls) < 3:
            raise TimeoutError("deadlock")
        return "done"

    def transient(error: BaseException) -> bool:
        return isinstance(error, TimeoutError)

    assert retry_transient(deadlocks_twice, transient, attempts=3, what="chunk") == "done"
    assert len(calls) == 3

    calls.clear()
    with pytest.raises(TimeoutError):  # the last try's error raises
        retry_transient(deadlocks_twice, transient, attempts=2, what="chunk")
    assert len(calls) == 2

    def broken() -> str:
        calls.append(1)
        raise ValueError("not transient")

    calls.clear()
    with pytest.raises(ValueError):
        retry_transient(broken, transient, attempts=3, what="chunk")
    assert len(calls) == 1
