"""Weekly plans: the legal floor minus quiet hours minus work hours, in local wall-clock time."""

from __future__ import annotations

from datetime import time

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from outreach.preferences.quiet_hours import in_window, seconds_of_day, week_plan

from .strategies import in_daily_window, minute_times

H = 3600
MON, FRI, SAT, SUN = 0, 4, 5, 6
WEEKDAYS = frozenset(range(5))


def windows(plan_day: tuple[tuple[int, int, time], ...]) -> list[tuple[float, float]]:
    return [(a / H, b / H) for a, b, _ in plan_day]


@pytest.mark.parametrize(
    ("florida", "quiet", "expected"),
    [
        (False, (21 * H, 8 * H), [(8, 21)]),
        (False, (0, 0), [(8, 21)]),  # start == end: no quiet hours, the floor still holds
        (False, (22 * H, 9 * H), [(9, 21)]),  # crosses midnight
        (False, (12 * H, 13 * H + 1800), [(8, 12), (13.5, 21)]),
        (False, (6 * H, 23 * H), []),  # quiet all day long: no slot at all
        (False, (23 * H, 6 * H), [(8, 21)]),  # cannot widen the floor
        (True, (21 * H, 8 * H), [(8, 20)]),
        (True, (19 * H + 1800, 8 * H + 900), [(8.25, 19.5)]),
    ],
)
def test_floor_minus_quiet_hours(
    florida: bool, quiet: tuple[int, int], expected: list[tuple[float, float]]
) -> None:
    plan = week_plan(florida, quiet, None)
    assert all(windows(day) == expected for day in plan)


def test_work_hours_apply_on_work_days() -> None:
    plan = week_plan(False, (21 * H, 8 * H), (9 * H, 17 * H, WEEKDAYS))
    assert windows(plan[MON]) == [(8, 9), (17, 21)]
    assert windows(plan[FRI]) == [(8, 9), (17, 21)]
    assert windows(plan[SAT]) == [(8, 21)]


def test_a_night_shift_blocks_the_next_morning() -> None:
    plan = week_plan(False, (21 * H, 8 * H), (20 * H, 10 * H, frozenset({FRI})))
    assert windows(plan[FRI]) == [(8, 20)]
    assert windows(plan[SAT]) == [(10, 21)]
    assert windows(plan[SUN]) == [(8, 21)]
    assert windows(plan[MON]) == [(8, 21)]


@settings(max_examples=300)
@given(
    florida=st.booleans(),
    quiet=st.tuples(minute_times, minute_times),
    work=st.one_of(
        st.none(), st.tuples(minute_times, minute_times, st.frozensets(st.integers(0, 6)))
    ),
    weekday=st.integers(0, 6),
    moment=st.builds(time, st.integers(0, 23), st.integers(0, 59), st.integers(0, 59)),
)
def test_plan_allows_exactly_what_the_rules_allow(
    florida: bool,
    quiet: tuple[time, time],
    work: tuple[time, time, frozenset[int]] | None,
    weekday: int,
    moment: time,
) -> None:
    plan = week_plan(
        florida,
        (seconds_of_day(quiet[0]), seconds_of_day(quiet[1])),
        None if work is None else (seconds_of_day(work[0]), seconds_of_day(work[1]), work[2]),
    )
    s = seconds_of_day(moment)
    planned = any(a <= s < b for a, b, _ in plan[weekday])

    floor_end = time(20) if florida else time(21)
    expected = time(8) <= moment < floor_end and not in_daily_window(moment, *quiet)
    if work is not None:
        start, end, days = work
        if start == end:
            at_work = False
        elif start < end:
            at_work = weekday in days and start <= moment < end
        else:
            at_work = (weekday in days and moment >= start) or (
                (weekday - 1) % 7 in days and moment < end
            )
        expected = expected and not at_work
    assert planned == expected
    # Windows are sorted, disjoint, and never leave the floor.
    bounds = [edge for a, b, _ in plan[weekday] for edge in (a, b)]
    assert bounds == sorted(bounds)
    assert all(8 * H <= a < b <= seconds_of_day(floor_end) for a, b, _ in plan[weekday])


def test_in_window_crossing_midnight() -> None:
    assert in_window(time(23), time(21), time(8))
    assert in_window(time(7, 59), time(21), time(8))
    assert not in_window(time(8), time(21), time(8))
    assert not in_window(time(12), time(12), time(12))
