"""A circuit breaker per provider: stop calling a provider that is failing, probe it, resume.

Closed, it counts calls and provider errors (``ErrorClass.trips_breaker``) in a sliding window;
past ``error_ratio`` (with at least ``min_calls``) it opens. Open, nothing is sent: jobs wait and
keep their retries. After ``open_for`` it is half-open: up to ``probes`` calls go through; as
many successes close it, one failure opens it again.

Pure: the clock is a parameter, and the object holds only its own state (the worker keeps one per
provider and serialises calls to it).
"""

from __future__ import annotations

import enum
from collections import deque
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta


class BreakerState(enum.StrEnum):
    CLOSED = "closed"
    OPEN = "open"
    HALF_OPEN = "half_open"


@dataclass(frozen=True, slots=True)
class BreakerSettings:
    window: timedelta = timedelta(seconds=30)
    error_ratio: float = 0.10  # opens when errors exceed this share of the window's calls
    min_calls: int = 20  # below this many calls in the window it never opens
    open_for: timedelta = timedelta(seconds=15)  # then half-open
    probes: int = 3  # calls allowed half-open; as many successes close it

    def __post_init__(self) -> None:
        if not 0 < self.error_ratio < 1 or self.min_calls < 1 or self.probes < 1:
            raise ValueError("error_ratio in (0, 1), min_calls and probes at least 1")


@dataclass
class CircuitBreaker:
    settings: BreakerSettings = field(default_factory=BreakerSettings)
    state: BreakerState = BreakerState.CLOSED
    opened_at: datetime | None = None
    _calls: deque[tuple[datetime, bool]] = field(default_factory=deque)  # (when, failed)
    _failures: int = 0
    _probes_out: int = 0
    _probe_successes: int = 0

    def allow(self, now: datetime) -> bool:
        """Whether a call may go to the provider now (half-open: takes one probe slot)."""
        if self.state is BreakerState.OPEN:
            assert self.opened_at is not None
            if now < self.opened_at + self.settings.open_for:
                return False
            self.state = BreakerState.HALF_OPEN
            self._probes_out = self._probe_successes = 0
        if self.state is BreakerState.HALF_OPEN:
            if self._probes_out >= self.settings.probes:
                return False
            self._probes_out += 1
        return True

    def record(self, now: datetime, *, failed: bool) -> None:
        """The outcome of a call ``allow`` let through."""
        if self.state is BreakerState.HALF_OPEN:
            if failed:
                self._open(now)
                return
            self._probe_successes += 1
            if self._probe_successes >= self.settings.probes:
                self._close()
            return
        if self.state is BreakerState.OPEN:
            return  # a call that started before it opened: the window restarts on close
        self._calls.append((now, failed))
        self._failures += failed
        self._forget_before(now - self.settings.window)
        calls = len(self._calls)
        if calls >= self.settings.min_calls and self._failures > self.settings.error_ratio * calls:
            self._open(now)

    def retry_at(self, now: datetime) -> datetime:
        """When a call refused now may try again (the end of the open period, or now)."""
        if self.state is BreakerState.OPEN and self.opened_at is not None:
            return max(now, self.opened_at + self.settings.open_for)
        return now

    def _open(self, now: datetime) -> None:
        self.state = BreakerState.OPEN
        self.opened_at = now
        self._calls.clear()
        self._failures = 0

    def _close(self) -> None:
        self.state = BreakerState.CLOSED
        self.opened_at = None
        self._calls.clear()
        self._failures = 0

    def _forget_before(self, cutoff: datetime) -> None:
        calls = self._calls
        while calls and calls[0][0] < cutoff:
            _, failed = calls.popleft()
            self._failures -= failed


@dataclass(frozen=True, slots=True)
class BreakerReport:
    """One worker's breaker of one provider, as the worker last reported it (it reports each
    change; a breaker that never left ``closed`` reports nothing)."""

    reporter: str  # the worker process
    state: BreakerState
    since: datetime
    open_until: datetime | None = None  # when open: when it lets probes through


@dataclass(frozen=True, slots=True)
class CircuitView:
    """A provider's circuit across the workers that send to it."""

    state: BreakerState
    since: datetime | None
    open_until: datetime | None
    reports: tuple[BreakerReport, ...]


def circuit_view(reports: Sequence[BreakerReport], now: datetime) -> CircuitView:
    """Open while any worker's breaker is open; half-open while one probes, or once an open
    period has ended (its next call probes); closed when no worker reports otherwise."""
    current = []
    for report in reports:
        if (
            report.state is BreakerState.OPEN
            and report.open_until is not None
            and now >= report.open_until
        ):
            report = BreakerReport(report.reporter, BreakerState.HALF_OPEN, report.open_until)
        current.append(report)
    for state in (BreakerState.OPEN, BreakerState.HALF_OPEN):
        matching = [r for r in current if r.state is state]
        if matching:
            return CircuitView(
                state,
                min(r.since for r in matching),
                max((r.open_until for r in matching if r.open_until), default=None),
                tuple(current),
            )
    return CircuitView(BreakerState.CLOSED, None, None, tuple(current))
