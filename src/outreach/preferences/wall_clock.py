"""From local wall-clock windows to UTC instants, correct across DST gaps and folds.

An instant is allowed when its local wall time, in the patient's zone, falls in a window of its
local date's plan. The earliest allowed instant at or after a cursor is either the cursor itself,
an instant where the wall clock reaches a window start, or an instant where a zone transition makes
the wall clock jump into a window. Days without a transition have a monotonic wall clock and take a
fast path; days with one enumerate those candidates (both folds of each window start, and the
transition instants) and keep the earliest that is truly allowed. Zone transitions are found once
per zone and year by probing offsets, so no private zoneinfo attribute is relied on.
"""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from functools import lru_cache
from zoneinfo import ZoneInfo

from outreach.preferences.quiet_hours import WeekPlan

_PROBE_STEP = timedelta(hours=6)  # no zone changes its offset twice within 6 hours
_ONE_DAY = timedelta(days=1)
_ONE_SECOND = timedelta(seconds=1)


@lru_cache(maxsize=4_096)
def _transitions_in_year(zone: ZoneInfo, year: int) -> tuple[datetime, ...]:
    """UTC instants in ``year`` where the zone's offset changes (first instant of the new one)."""
    found: list[datetime] = []
    probe = datetime(year, 1, 1, tzinfo=UTC)
    end = datetime(year + 1, 1, 1, tzinfo=UTC)
    offset = probe.astimezone(zone).utcoffset()
    while probe < end:
        nxt = min(probe + _PROBE_STEP, end)
        nxt_offset = nxt.astimezone(zone).utcoffset()
        if nxt_offset != offset:
            lo, hi = probe, nxt  # offset(lo) is the old one, offset(hi) the new one
            while hi - lo > _ONE_SECOND:
                mid = lo + (hi - lo) // 2
                mid = mid.replace(microsecond=0)
                if mid.astimezone(zone).utcoffset() == offset:
                    lo = mid
                else:
                    hi = mid
            found.append(hi)
        probe, offset = nxt, nxt_offset
    return tuple(found)


@lru_cache(maxsize=4_096)
def _transitions_by_local_date(zone: ZoneInfo, year: int) -> dict[date, tuple[datetime, ...]]:
    """Transitions near ``year`` keyed by every local date they touch (just before and at them)."""
    by_date: dict[date, list[datetime]] = {}
    for y in (year - 1, year, year + 1):
        for instant in _transitions_in_year(zone, y):
            before = (instant - _ONE_SECOND).astimezone(zone).date()
            after = instant.astimezone(zone).date()
            for local_date in {before, after}:
                by_date.setdefault(local_date, []).append(instant)
    return {d: tuple(sorted(instants)) for d, instants in by_date.items()}


def transitions_on(zone: ZoneInfo, local_date: date) -> tuple[datetime, ...]:
    """The zone's offset changes that make ``local_date``'s wall clock jump (usually none)."""
    return _transitions_by_local_date(zone, local_date.year).get(local_date, ())


def is_allowed(instant: datetime, zone: ZoneInfo, plan: WeekPlan) -> bool:
    """Whether the instant's local wall time falls in an allowed window of its local date."""
    local = instant.astimezone(zone)
    s = local.hour * 3600 + local.minute * 60 + local.second
    return any(a <= s < b for a, b, _ in plan[local.weekday()])


def _earliest_on_transition_day(
    day: date, cursor: datetime, zone: ZoneInfo, plan: WeekPlan, transitions: tuple[datetime, ...]
) -> datetime | None:
    candidates: list[datetime] = []
    for _, _, start in plan[day.weekday()]:
        for fold in (0, 1):
            # In a gap neither fold exists and both land outside it; the transition instant (a
            # candidate below) is then the first moment the window is reached.
            instant = datetime.combine(day, start.replace(fold=fold), zone).astimezone(UTC)
            if instant >= cursor and is_allowed(instant, zone, plan):
                candidates.append(instant)
    for instant in transitions:
        if instant >= cursor and is_allowed(instant, zone, plan):
            candidates.append(instant)
    return min(candidates, default=None)


def earliest_allowed(
    cursor: datetime, limit: datetime, zone: ZoneInfo, plan: WeekPlan
) -> datetime | None:
    """The earliest UTC instant in [cursor, limit] whose local time the plan allows, else None.

    ``cursor`` and ``limit`` are aware UTC datetimes; the result keeps the cursor's precision when
    the cursor itself is allowed and is a whole local second otherwise.
    """
    local = cursor.astimezone(zone)
    s = local.hour * 3600 + local.minute * 60 + local.second
    for a, b, _ in plan[local.weekday()]:
        if a <= s < b:
            return cursor if cursor <= limit else None

    first_day = local.date()
    # A backward jump across midnight can bring the previous local date back after the cursor.
    if transitions_on(zone, first_day - _ONE_DAY):
        first_day -= _ONE_DAY
    last_day = limit.astimezone(zone).date() + _ONE_DAY
    cursor_day = local.date()
    day = first_day
    while day <= last_day:
        transitions = transitions_on(zone, day)
        if transitions:
            found = _earliest_on_transition_day(day, cursor, zone, plan, transitions)
            if found is not None:
                # The next date may hold earlier instants only if a jump links them.
                following = day + _ONE_DAY
                following_transitions = transitions_on(zone, following)
                if following_transitions:
                    other = _earliest_on_transition_day(
                        following, cursor, zone, plan, following_transitions
                    )
                    if other is not None and other < found:
                        found = other
                return found if found <= limit else None
        else:
            # A monotonic wall clock: the first window starting after the cursor is the answer.
            for a, _, start in plan[day.weekday()]:
                if day == cursor_day and a <= s:
                    continue
                instant = datetime.combine(day, start, zone).astimezone(UTC)
                return instant if instant <= limit else None
        day += _ONE_DAY
    return None
