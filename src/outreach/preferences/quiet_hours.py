"""Local-time windows: quiet hours, work hours and the legal floor combined into a weekly plan.

Everything here is wall-clock arithmetic in seconds after local midnight, free of any zone: the
plan says, for each weekday, which local times a non-urgent message may go at. Mapping those local
times to UTC instants (DST gaps and folds) is ``wall_clock``'s job.
"""

from __future__ import annotations

from datetime import time
from functools import lru_cache

from outreach.preferences.legal_floor import legal_window

DAY_SECONDS = 86_400

# A day's allowed half-open local windows [start, end) in seconds after midnight, each with its
# start as a ``time`` so the hot path does not rebuild it.
DayPlan = tuple[tuple[int, int, time], ...]
WeekPlan = tuple[DayPlan, ...]  # indexed by date.weekday(): 0 = Monday


def seconds_of_day(moment: time) -> int:
    """A wall-clock time as seconds after midnight (sub-second precision is not meaningful here)."""
    return moment.hour * 3600 + moment.minute * 60 + moment.second


def daily_span(start: int, end: int) -> tuple[tuple[int, int], ...]:
    """The parts of one day covered by a window that may cross midnight.

    ``start == end`` is an empty window: that is how a level says "no quiet hours".
    """
    if start == end:
        return ()
    if start < end:
        return ((start, end),)
    return ((start, DAY_SECONDS), (0, end))


def in_window(moment: time, start: time, end: time) -> bool:
    """Whether a local time falls in [start, end), a window that may cross midnight."""
    s = seconds_of_day(moment)
    return any(a <= s < b for a, b in daily_span(seconds_of_day(start), seconds_of_day(end)))


def _subtract(
    allowed: list[tuple[int, int]], forbidden: tuple[tuple[int, int], ...]
) -> list[tuple[int, int]]:
    for f_start, f_end in forbidden:
        remaining: list[tuple[int, int]] = []
        for a, b in allowed:
            if f_end <= a or f_start >= b:
                remaining.append((a, b))
                continue
            if a < f_start:
                remaining.append((a, f_start))
            if f_end < b:
                remaining.append((f_end, b))
        allowed = remaining
    return allowed


def _work_spans(
    weekday: int, work: tuple[int, int, frozenset[int]] | None
) -> tuple[tuple[int, int], ...]:
    # A shift belongs to the day it starts on: a Monday 22:00-06:00 shift blocks Tuesday's early
    # hours, and a Friday night shift blocks Saturday morning.
    if work is None:
        return ()
    start, end, days = work
    if start == end:
        return ()
    spans: list[tuple[int, int]] = []
    if start < end:
        if weekday in days:
            spans.append((start, end))
        return tuple(spans)
    if weekday in days:
        spans.append((start, DAY_SECONDS))
    if (weekday - 1) % 7 in days:
        spans.append((0, end))
    return tuple(spans)


@lru_cache(maxsize=8_192)
def week_plan(
    florida: bool,
    quiet: tuple[int, int],
    work: tuple[int, int, frozenset[int]] | None,
) -> WeekPlan:
    """Allowed local windows per weekday: the legal floor minus quiet hours minus work hours.

    Starting from the floor is what makes it impossible for any preference to widen it. Plans are
    shared by every patient with the same settings, hence the cache.
    """
    floor = legal_window(florida)
    quiet_spans = daily_span(*quiet)
    plan: list[DayPlan] = []
    for weekday in range(7):
        allowed = _subtract([floor], quiet_spans + _work_spans(weekday, work))
        plan.append(tuple((a, b, _time_of(a)) for a, b in sorted(allowed)))
    return tuple(plan)


def _time_of(seconds: int) -> time:
    hours, rest = divmod(seconds, 3600)
    return time(hours, *divmod(rest, 60))
