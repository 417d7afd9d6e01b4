"""The circuit breaker opens past 10% errors over its window, holds, probes, and closes."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from hypothesis import given
from hypothesis import strategies as st

from outreach.delivery.circuit_breaker import (
    BreakerReport,
    BreakerSettings,
    BreakerState,
    CircuitBreaker,
    circuit_view,
)

T0 = datetime(2026, 12, 1, 12, 0, tzinfo=UTC)
SETTINGS = BreakerSettings(
    window=timedelta(seconds=10), error_ratio=0.1, min_calls=10, open_for=timedelta(seconds=5)
)


def calls(breaker: CircuitBreaker, outcomes: list[bool], start: datetime = T0) -> datetime:
    now = start
    for failed in outcomes:
        assert breaker.allow(now)
        breaker.record(now, failed=failed)
        now += timedelta(milliseconds=100)
    return now


def test_opens_past_ten_percent_errors_and_holds_calls() -> None:
    breaker = CircuitBreaker(SETTINGS)
    now = calls(breaker, [False] * 9 + [True])  # 10% exactly: still closed
    assert breaker.state is BreakerState.CLOSED
    breaker.allow(now)
    breaker.record(now, failed=True)  # 2 of 11
    assert breaker.state is BreakerState.OPEN
    assert not breaker.allow(now + timedelta(seconds=1))
    assert breaker.retry_at(now + timedelta(seconds=1)) == now + SETTINGS.open_for


def test_few_calls_never_open_it() -> None:
    breaker = CircuitBreaker(SETTINGS)
    calls(breaker, [True] * (SETTINGS.min_calls - 1))
    assert breaker.state is BreakerState.CLOSED


def test_old_errors_leave_the_window() -> None:
    breaker = CircuitBreaker(SETTINGS)
    now = calls(breaker, [True] + [False] * 8)
    later = now + SETTINGS.window + timedelta(seconds=1)
    calls(breaker, [False] * 9 + [True], start=later)  # 1 of 10 in this window
    assert breaker.state is BreakerState.CLOSED


def test_half_open_probes_close_it_or_open_it_again() -> None:
    breaker = CircuitBreaker(SETTINGS)
    now = calls(breaker, [True] * 10)
    assert breaker.state is BreakerState.OPEN
    probe_time = now + SETTINGS.open_for
    allowed = [breaker.allow(probe_time) for _ in range(SETTINGS.probes + 2)]
    assert allowed.count(True) == SETTINGS.probes  # only the probes go through
    breaker.record(probe_time, failed=True)
    assert breaker.state is BreakerState.OPEN and breaker.opened_at == probe_time

    reopened = probe_time + SETTINGS.open_for
    for _ in range(SETTINGS.probes):
        assert breaker.allow(reopened)
        breaker.record(reopened, failed=False)
    assert breaker.state is BreakerState.CLOSED
    assert breaker.allow(reopened)


@given(st.lists(st.booleans(), min_size=1, max_size=200))
def test_it_never_opens_below_the_ratio(outcomes: list[bool]) -> None:
    breaker = CircuitBreaker(SETTINGS)
    now = T0
    for index, failed in enumerate(outcomes):
        if not breaker.allow(now):
            # Open: the window it saw had enough calls and too many errors.
            window = outcomes[:index][-len(breaker._calls) or None :]
            assert window is not None
            return
        breaker.record(now, failed=failed)
        if breaker.state is BreakerState.OPEN:
            seen = outcomes[: index + 1]
            assert len(seen) >= SETTINGS.min_calls
            assert sum(seen) > SETTINGS.error_ratio * len(seen)
            return
        now += timedelta(milliseconds=10)


VIEW_AT = datetime(2026, 3, 2, 12, 0, tzinfo=UTC)


def _report(reporter: str, state: BreakerState, since_s: int, open_s: int | None = None):
    since = VIEW_AT + timedelta(seconds=since_s)
    until = VIEW_AT + timedelta(seconds=open_s) if open_s is not None else None
    return BreakerReport(reporter, state, since, until)


def test_a_provider_no_worker_reports_on_is_closed() -> None:
    view = circuit_view([], VIEW_AT)
    assert (view.state, view.since, view.reports) == (BreakerState.CLOSED, None, ())


def test_one_open_worker_opens_the_view_until_its_period_ends() -> None:
    reports = [
        _report("w1", BreakerState.OPEN, -5, 10),
        _report("w2", BreakerState.HALF_OPEN, -30),
    ]
    view = circuit_view(reports, VIEW_AT)
    assert view.state is BreakerState.OPEN
    assert view.open_until == VIEW_AT + timedelta(seconds=10)
    later = circuit_view(reports, VIEW_AT + timedelta(seconds=11))
    # w1's period is over: its next call probes, so both are half-open now.
    assert later.state is BreakerState.HALF_OPEN
    assert {r.state for r in later.reports} == {BreakerState.HALF_OPEN}
    assert later.since == VIEW_AT - timedelta(seconds=30)
