"""Local windows mapped to UTC instants across DST gaps, folds and midnight transitions."""

from __future__ import annotations

from datetime import UTC, datetime, time, timedelta
from functools import cache
from zoneinfo import ZoneInfo

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from outreach.preferences.quiet_hours import DayPlan, WeekPlan
from outreach.preferences.wall_clock import earliest_allowed, is_allowed, transitions_on

from .strategies import MIDNIGHT_ZONES, REQUIRED_ZONES, instants_2026, minute_grid

NEW_YORK = ZoneInfo("America/New_York")
LORD_HOWE = ZoneInfo("Australia/Lord_Howe")


def plan_of(*windows: tuple[time, time]) -> WeekPlan:
    def seconds(moment: time) -> int:
        return moment.hour * 3600 + moment.minute * 60

    day: DayPlan = tuple(
        (seconds(start), seconds(end) if end != time(0) else 86_400, start)
        for start, end in windows
    )
    return (day,) * 7


@cache
def transition_minutes(zone: ZoneInfo) -> list[int]:
    """Local minutes of the day just before and at each of the zone's 2026 transitions."""
    minutes = set()
    for day in range(365):
        local_date = (datetime(2026, 1, 1, tzinfo=UTC) + timedelta(days=day)).date()
        for instant in transitions_on(zone, local_date):
            for wall in (instant - timedelta(seconds=1), instant):
                local = wall.astimezone(zone)
                minutes.add(local.hour * 60 + local.minute)
    return sorted(minutes)


@st.composite
def week_plans(draw: st.DrawFn, zone: ZoneInfo) -> WeekPlan:
    """Arbitrary windows, biased towards the local times where the zone's clock jumps."""
    near = [st.integers(max(0, m - 60), min(1440, m + 60)) for m in transition_minutes(zone)]
    minute = st.one_of(st.integers(0, 1440), *near) if near else st.integers(0, 1440)
    days = []
    for _ in range(7):
        marks = sorted(draw(st.lists(minute, unique=True, min_size=2, max_size=6)))
        if len(marks) % 2:
            marks.pop()
        day = tuple(
            (a * 60, b * 60, time(a // 60, a % 60))
            for a, b in zip(marks[::2], marks[1::2], strict=True)
        )
        days.append(day)
    return tuple(days)


@pytest.mark.parametrize(
    ("zone", "day", "expected"),
    [
        ("America/New_York", datetime(2026, 3, 8), [datetime(2026, 3, 8, 7, tzinfo=UTC)]),
        ("America/New_York", datetime(2026, 11, 1), [datetime(2026, 11, 1, 6, tzinfo=UTC)]),
        ("Australia/Lord_Howe", datetime(2026, 4, 5), [datetime(2026, 4, 4, 15, tzinfo=UTC)]),
        ("Australia/Lord_Howe", datetime(2026, 10, 4),
         [datetime(2026, 10, 3, 15, 30, tzinfo=UTC)]),
        ("Europe/Bucharest", datetime(2026, 10, 25), [datetime(2026, 10, 25, 1, tzinfo=UTC)]),
        ("America/Phoenix", datetime(2026, 3, 8), []),
        ("Asia/Kolkata", datetime(2026, 10, 25), []),
        ("America/New_York", datetime(2026, 3, 9), []),
    ],
)  # fmt: skip
def test_transitions_found(zone: str, day: datetime, expected: list[datetime]) -> None:
    assert list(transitions_on(ZoneInfo(zone), day.date())) == expected


def test_a_window_starting_in_a_gap_opens_when_the_clock_jumps() -> None:
    # New York, 8 March 2026: 02:00-03:00 does not exist; a 02:30 window start is reached at 03:00.
    plan = plan_of((time(2, 30), time(4)))
    cursor = datetime(2026, 3, 8, 5, tzinfo=UTC)  # 00:00 EST
    assert earliest_allowed(cursor, cursor + timedelta(days=1), NEW_YORK, plan) == datetime(
        2026, 3, 8, 7, tzinfo=UTC
    )


def test_a_window_wholly_in_a_gap_is_skipped_that_day() -> None:
    plan = plan_of((time(2, 10), time(2, 50)))
    cursor = datetime(2026, 3, 8, 5, tzinfo=UTC)
    # Next day at 02:10 EDT.
    assert earliest_allowed(cursor, cursor + timedelta(days=2), NEW_YORK, plan) == datetime(
        2026, 3, 9, 6, 10, tzinfo=UTC
    )


def test_a_fold_offers_the_window_twice() -> None:
    # New York, 1 November 2026: 01:00-02:00 happens twice (EDT then EST).
    plan = plan_of((time(1, 30), time(1, 45)))
    first_pass_after = datetime(2026, 11, 1, 5, 50, tzinfo=UTC)  # 01:50 EDT, window passed once
    assert earliest_allowed(
        first_pass_after, first_pass_after + timedelta(days=1), NEW_YORK, plan
    ) == datetime(2026, 11, 1, 6, 30, tzinfo=UTC)  # 01:30 EST


def test_lord_howe_half_hour_fold() -> None:
    # 5 April 2026: 02:00 (+11) becomes 01:30 (+10:30); 01:30-02:00 happens twice.
    plan = plan_of((time(1, 40), time(1, 50)))
    after_first = datetime(2026, 4, 4, 14, 55, tzinfo=UTC)  # 01:55 +11
    found = earliest_allowed(after_first, after_first + timedelta(days=1), LORD_HOWE, plan)
    assert found == datetime(2026, 4, 4, 15, 10, tzinfo=UTC)  # 01:40 +10:30


def test_lord_howe_half_hour_gap() -> None:
    # 4 October 2026: 02:00 (+10:30) becomes 02:30 (+11); a 02:15 start opens at the jump.
    plan = plan_of((time(2, 15), time(3)))
    cursor = datetime(2026, 10, 3, 14, tzinfo=UTC)  # 00:30 +10:30
    found = earliest_allowed(cursor, cursor + timedelta(days=1), LORD_HOWE, plan)
    assert found == datetime(2026, 10, 3, 15, 30, tzinfo=UTC)


def test_the_limit_is_inclusive_and_binding() -> None:
    plan = plan_of((time(8), time(21)))
    cursor = datetime(2026, 6, 1, 2, tzinfo=UTC)  # 22:00 EDT
    opening = datetime(2026, 6, 1, 12, tzinfo=UTC)
    assert earliest_allowed(cursor, opening, NEW_YORK, plan) == opening
    assert earliest_allowed(cursor, opening - timedelta(seconds=1), NEW_YORK, plan) is None


@settings(max_examples=600, deadline=None)
@given(
    data=st.data(),
    zone_name=st.sampled_from(REQUIRED_ZONES + MIDNIGHT_ZONES),
    span=st.integers(0, 2 * 86_400),
)
def test_earliest_allowed_matches_a_minute_by_minute_search(
    data: st.DataObject, zone_name: str, span: int
) -> None:
    zone = ZoneInfo(zone_name)
    plan = data.draw(week_plans(zone))
    cursor = data.draw(instants_2026(zone_name, within=36 * 3600))
    limit = cursor + timedelta(seconds=span)
    expected = next(
        (t for t in minute_grid(cursor, limit + timedelta(seconds=1)) if is_allowed(t, zone, plan)),
        None,
    )
    assert earliest_allowed(cursor, limit, zone, plan) == expected
