"""Send time: quiet hours, the legal floor, work hours, best hour and deadlines, across DST."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime, time, timedelta
from zoneinfo import ZoneInfo

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from outreach.domain import Purpose, SendTimeSource, SuppressionReason
from outreach.preferences import (
    FLEXIBLE_PURPOSES,
    GLOBAL_DEFAULTS,
    EffectivePreferences,
    Exploration,
    PreferenceLayer,
    SendTime,
    Suppressed,
    choose_send_time,
    exploration_for,
    is_florida_number,
    next_allowed_send_time,
    resolve_effective_preferences,
)

from .strategies import (
    FLORIDA_PHONE,
    OTHER_US_PHONE,
    instants_2026,
    layers,
    legal_and_quiet_ok,
    minute_grid,
    outside_work_hours,
    purposes,
    zones,
)


def prefs_in(zone: str, **patient: object) -> EffectivePreferences:
    return resolve_effective_preferences(
        GLOBAL_DEFAULTS,
        None,
        None,
        PreferenceLayer(timezone=zone, **patient),  # type: ignore[arg-type]
    )


def utc(
    year: int, month: int, day: int, hour: int = 0, minute: int = 0, second: int = 0
) -> datetime:
    return datetime(year, month, day, hour, minute, second, tzinfo=UTC)


def local(
    zone: str, year: int, month: int, day: int, hour: int = 0, minute: int = 0, second: int = 0
) -> datetime:
    """A wall-clock time in ``zone`` as the UTC instant the API speaks."""
    return datetime(year, month, day, hour, minute, second, tzinfo=ZoneInfo(zone)).astimezone(UTC)


NY = "America/New_York"
MONDAY = (2026, 6, 1)
SATURDAY = (2026, 6, 6)


@pytest.mark.parametrize(
    ("zone", "now", "expected"),
    [
        # New York springs forward at 02:00 on 8 March: 01:30 EST waits for 08:00 EDT.
        (NY, utc(2026, 3, 8, 6, 30), utc(2026, 3, 8, 12)),
        # ... and falls back on 1 November: 01:30 EDT (first pass) waits for 08:00 EST.
        (NY, utc(2026, 11, 1, 5, 30), utc(2026, 11, 1, 13)),
        # Lord Howe jumps 30 minutes forward on 4 October: 01:30 +10:30 waits for 08:00 +11.
        ("Australia/Lord_Howe", utc(2026, 10, 3, 15), utc(2026, 10, 3, 21)),
        # ... and 30 minutes back on 5 April: 01:45 +11 waits for 08:00 +10:30.
        ("Australia/Lord_Howe", utc(2026, 4, 4, 14, 45), utc(2026, 4, 4, 21, 30)),
        # Kolkata, +05:30 all year: 21:00 is quiet, next 08:00 IST is 02:30 UTC.
        ("Asia/Kolkata", utc(2026, 6, 1, 15, 30), utc(2026, 6, 2, 2, 30)),
        # Phoenix keeps MST while New York changes: 07:00 MST waits an hour.
        ("America/Phoenix", utc(2026, 3, 8, 14), utc(2026, 3, 8, 15)),
        # Bucharest just moved to EEST: 07:00 local waits for 08:00 local.
        ("Europe/Bucharest", utc(2026, 3, 29, 4), utc(2026, 3, 29, 5)),
        # Inside the window: at once.
        (NY, utc(2026, 6, 1, 15, 17, 42), utc(2026, 6, 1, 15, 17, 42)),
        # 21:00 sharp is already quiet.
        (NY, local(NY, 2026, 6, 1, 21), local(NY, 2026, 6, 2, 8)),
        (NY, local(NY, 2026, 6, 1, 20, 59, 59), local(NY, 2026, 6, 1, 20, 59, 59)),
    ],
)
def test_earliest_slot_table(zone: str, now: datetime, expected: datetime) -> None:
    result = next_allowed_send_time(now, None, Purpose.APPT_CONFIRM, prefs_in(zone), None, now)
    assert result == expected


def test_requested_in_the_future_is_honoured() -> None:
    now = local(NY, *MONDAY, 9)
    requested = local(NY, *MONDAY, 23)
    result = next_allowed_send_time(requested, None, Purpose.LAB_READY, prefs_in(NY), None, now)
    assert result == local(NY, 2026, 6, 2, 8)


def test_urgent_goes_at_once_even_at_night() -> None:
    now = local(NY, *MONDAY, 3)
    assert next_allowed_send_time(now, None, Purpose.URGENT, prefs_in(NY), None, now) == now


def test_no_slot_before_the_deadline_is_suppressed_never_late() -> None:
    now = local(NY, *MONDAY, 22)
    deadline = local(NY, 2026, 6, 2, 7, 59)
    result = next_allowed_send_time(now, deadline, Purpose.APPT_REMINDER, prefs_in(NY), None, now)
    assert isinstance(result, Suppressed)
    assert result.reason is SuppressionReason.QUIET_HOURS_DEADLINE
    # The deadline is inclusive.
    opening = local(NY, 2026, 6, 2, 8)
    assert (
        next_allowed_send_time(now, opening, Purpose.APPT_REMINDER, prefs_in(NY), None, now)
        == opening
    )


def test_a_deadline_already_passed() -> None:
    now = local(NY, *MONDAY, 12)
    result = next_allowed_send_time(
        now, now - timedelta(minutes=1), Purpose.URGENT, prefs_in(NY), None, now
    )
    assert isinstance(result, Suppressed)
    assert result.reason is SuppressionReason.DEADLINE_PASSED


def test_florida_numbers_stop_at_20_00() -> None:
    now = local(NY, *MONDAY, 20, 30)
    prefs = prefs_in(NY)
    assert next_allowed_send_time(now, None, Purpose.RX_REFILL, prefs, OTHER_US_PHONE, now) == now
    assert next_allowed_send_time(now, None, Purpose.RX_REFILL, prefs, FLORIDA_PHONE, now) == local(
        NY, 2026, 6, 2, 8
    )


def test_quiet_hours_may_narrow_but_not_widen_the_floor() -> None:
    narrow = prefs_in(NY, quiet_hours_start=time(22), quiet_hours_end=time(9, 30))
    wide = prefs_in(NY, quiet_hours_start=time(23), quiet_hours_end=time(6))
    now = local(NY, *MONDAY, 7)
    assert next_allowed_send_time(now, None, Purpose.NO_SHOW, narrow, None, now) == local(
        NY, *MONDAY, 9, 30
    )
    assert next_allowed_send_time(now, None, Purpose.NO_SHOW, wide, None, now) == local(
        NY, *MONDAY, 8
    )


def test_work_hours_are_avoided_on_work_days() -> None:
    prefs = prefs_in(NY, avoid_work_hours=True)  # 09:00-17:00 Monday to Friday by default
    monday = local(NY, *MONDAY, 10)
    saturday = local(NY, *SATURDAY, 10)
    assert next_allowed_send_time(monday, None, Purpose.APPT_CONFIRM, prefs, None, monday) == (
        local(NY, *MONDAY, 17)
    )
    assert (
        next_allowed_send_time(saturday, None, Purpose.APPT_CONFIRM, prefs, None, saturday)
        == saturday
    )


def test_work_hours_give_way_when_the_deadline_needs_it() -> None:
    prefs = prefs_in(NY, avoid_work_hours=True)
    now = local(NY, *MONDAY, 10)
    deadline = local(NY, *MONDAY, 12)
    assert next_allowed_send_time(now, deadline, Purpose.APPT_REMINDER, prefs, None, now) == now


def test_flexible_purposes_wait_for_the_best_hour() -> None:
    prefs = prefs_in(NY, best_hour=18)
    now = local(NY, *MONDAY, 10)
    assert next_allowed_send_time(now, None, Purpose.RX_REFILL, prefs, None, now) == local(
        NY, *MONDAY, 18
    )
    # Not for time-bound purposes.
    assert next_allowed_send_time(now, None, Purpose.APPT_REMINDER, prefs, None, now) == now
    # Not past the deadline.
    deadline = local(NY, *MONDAY, 17)
    assert next_allowed_send_time(now, deadline, Purpose.RX_REFILL, prefs, None, now) == now
    # Not into quiet hours.
    night_owl = prefs_in(NY, best_hour=23)
    assert next_allowed_send_time(now, None, Purpose.RX_REFILL, night_owl, None, now) == now


def test_best_hour_inside_quiet_hours_uses_its_allowed_part() -> None:
    prefs = prefs_in(NY, best_hour=8, quiet_hours_end=time(8, 30))
    now = local(NY, *MONDAY, 2)
    assert next_allowed_send_time(now, None, Purpose.LAB_READY, prefs, None, now) == local(
        NY, *MONDAY, 8, 30
    )


def test_no_allowed_hour_at_all() -> None:
    prefs = prefs_in(NY, quiet_hours_start=time(6), quiet_hours_end=time(23))
    now = local(NY, *MONDAY, 12)
    result = next_allowed_send_time(now, None, Purpose.APPT_CONFIRM, prefs, None, now)
    assert isinstance(result, Suppressed)
    assert result.reason is SuppressionReason.QUIET_HOURS_DEADLINE


def test_naive_datetimes_are_refused() -> None:
    naive = datetime(2026, 6, 1, 12)
    aware = naive.replace(tzinfo=UTC)
    prefs = prefs_in(NY)
    with pytest.raises(ValueError, match="now must be a timezone-aware"):
        next_allowed_send_time(aware, None, Purpose.URGENT, prefs, None, naive)
    with pytest.raises(ValueError, match="requested_at"):
        next_allowed_send_time(naive, None, Purpose.URGENT, prefs, None, aware)
    with pytest.raises(ValueError, match="deadline"):
        next_allowed_send_time(aware, naive, Purpose.URGENT, prefs, None, aware)


def test_other_aware_zones_are_accepted_and_answered_in_utc() -> None:
    now = datetime(2026, 6, 1, 12, tzinfo=ZoneInfo(NY))
    result = next_allowed_send_time(now, None, Purpose.URGENT, prefs_in(NY), None, now)
    assert isinstance(result, datetime)
    assert result.tzinfo is UTC
    assert result == now


@settings(max_examples=300, deadline=None)
@given(
    data=st.data(),
    zone=zones,
    purpose=purposes,
    requested_offset=st.integers(-3600, 2 * 86_400),
    deadline_offset=st.one_of(st.none(), st.integers(-3600, 3 * 86_400)),
    phone=st.sampled_from([FLORIDA_PHONE, OTHER_US_PHONE, None]),
)
def test_send_time_obeys_every_rule_and_is_the_earliest(
    data: st.DataObject,
    zone: str,
    purpose: Purpose,
    requested_offset: int,
    deadline_offset: int | None,
    phone: str | None,
) -> None:
    now = data.draw(instants_2026(zone))
    prefs = resolve_effective_preferences(
        GLOBAL_DEFAULTS, None, None, data.draw(layers(timezone=zone))
    )
    requested = now + timedelta(seconds=requested_offset)
    earliest = max(requested, now)
    deadline = None if deadline_offset is None else earliest + timedelta(seconds=deadline_offset)
    florida = is_florida_number(phone)

    result = next_allowed_send_time(requested, deadline, purpose, prefs, phone, now)

    if deadline is not None and deadline < earliest:
        assert isinstance(result, Suppressed)
        assert result.reason is SuppressionReason.DEADLINE_PASSED
        return
    if purpose is Purpose.URGENT:
        assert result == earliest
        return

    limit = deadline if deadline is not None else earliest + timedelta(days=8)
    grid = minute_grid(earliest, limit + timedelta(seconds=1))
    first_legal = next((t for t in grid if legal_and_quiet_ok(t, prefs, florida)), None)
    first_preferred = next(
        (t for t in grid if legal_and_quiet_ok(t, prefs, florida) and outside_work_hours(t, prefs)),
        None,
    )
    if isinstance(result, Suppressed):
        assert result.reason is SuppressionReason.QUIET_HOURS_DEADLINE
        assert first_legal is None
        return

    assert result.tzinfo is UTC
    assert earliest <= result
    assert deadline is None or result <= deadline
    assert legal_and_quiet_ok(result, prefs, florida)
    expected = first_preferred if first_preferred is not None else first_legal
    assert expected is not None
    if purpose in FLEXIBLE_PURPOSES and prefs.best_hour is not None and result != expected:
        assert expected < result <= expected + timedelta(hours=24)
        assert result.astimezone(ZoneInfo(zone)).hour == prefs.best_hour
        assert outside_work_hours(result, prefs) or first_preferred is None
    else:
        assert result == expected


@settings(max_examples=200, deadline=None)
@given(
    data=st.data(),
    zone=zones,
    purpose=purposes,
    best_hour=st.integers(0, 23),
    deadline_offset=st.one_of(st.none(), st.integers(0, 3 * 86_400)),
)
def test_only_flexible_purposes_move_to_the_best_hour(
    data: st.DataObject,
    zone: str,
    purpose: Purpose,
    best_hour: int,
    deadline_offset: int | None,
) -> None:
    now = data.draw(instants_2026(zone))
    deadline = None if deadline_offset is None else now + timedelta(seconds=deadline_offset)
    layer = data.draw(layers(timezone=zone, best_hour=None))
    without = resolve_effective_preferences(GLOBAL_DEFAULTS, None, None, layer)
    with_best = resolve_effective_preferences(
        GLOBAL_DEFAULTS, None, None, replace(layer, best_hour=best_hour)
    )
    plain = next_allowed_send_time(now, deadline, purpose, without, None, now)
    nudged = next_allowed_send_time(now, deadline, purpose, with_best, None, now)
    if purpose not in FLEXIBLE_PURPOSES or isinstance(plain, Suppressed):
        assert nudged == plain
        return
    assert isinstance(nudged, datetime)
    assert plain <= nudged <= plain + timedelta(hours=24)
    if nudged != plain:
        assert nudged.astimezone(ZoneInfo(zone)).hour == best_hour
        assert plain.astimezone(ZoneInfo(zone)).hour != best_hour


def _exploring(share: float, draw: float, pick: float) -> Exploration:
    return Exploration(share=share, draw=draw, pick=pick)


def test_exploration_sends_a_share_at_a_random_allowed_hour() -> None:
    prefs = prefs_in(NY, best_hour=18)
    now = local(NY, *MONDAY, 10, 15)
    florida = False

    # Not drawn: the best hour, with the probability that hour had of being chosen.
    kept = choose_send_time(now, None, Purpose.RX_REFILL, prefs, florida, _exploring(0.1, 0.5, 0))
    assert isinstance(kept, SendTime)
    assert kept.at == local(NY, *MONDAY, 18)
    assert kept.source is SendTimeSource.MODEL
    # 13 allowed hours in the next day: 10:15-20:59 today and 08:00-10:14 tomorrow.
    assert kept.propensity == pytest.approx(0.9 + 0.1 / 13)

    # Drawn: the first allowed hour, then the last one of the day ahead.
    first = choose_send_time(now, None, Purpose.RX_REFILL, prefs, florida, _exploring(0.1, 0.05, 0))
    assert isinstance(first, SendTime)
    assert (first.at, first.source) == (now, SendTimeSource.EXPLORATION)
    assert first.propensity == pytest.approx(0.1 / 13)
    last = choose_send_time(
        now, None, Purpose.RX_REFILL, prefs, florida, _exploring(0.1, 0.05, 0.999)
    )
    assert isinstance(last, SendTime)
    assert last.at == local(NY, 2026, 6, 2, 9)

    # The draw landing on the hour the model would have chosen anyway.
    eighteen = choose_send_time(
        now, None, Purpose.RX_REFILL, prefs, florida, _exploring(0.1, 0.05, 8.5 / 13)
    )
    assert isinstance(eighteen, SendTime)
    assert eighteen.at == local(NY, *MONDAY, 18)
    assert eighteen.propensity == pytest.approx(0.1 / 13 + 0.9)


def test_exploration_spares_fixed_and_tight_messages() -> None:
    prefs = prefs_in(NY)
    now = local(NY, *MONDAY, 10, 15)
    always = _exploring(1.0, 0.0, 0.7)
    for purpose in (Purpose.APPT_REMINDER, Purpose.APPT_CONFIRM, Purpose.URGENT):
        chosen = choose_send_time(now, None, purpose, prefs, False, always)
        assert isinstance(chosen, SendTime)
        assert (chosen.at, chosen.source, chosen.propensity) == (now, SendTimeSource.DEFAULT, 1.0)
    # A deadline inside the day ahead: no exploring, the default time.
    tight = choose_send_time(
        now, now + timedelta(hours=20), Purpose.LAB_READY, prefs, False, always
    )
    assert isinstance(tight, SendTime)
    assert (tight.at, tight.source) == (now, SendTimeSource.DEFAULT)


def test_exploration_draws_follow_the_job_and_its_share() -> None:
    first = exploration_for("event-1:lab_ready:notify", 0.1)
    assert first == exploration_for("event-1:lab_ready:notify", 0.1)  # a replay draws the same
    draws = [exploration_for(f"event-{n}:rx_refill:notify", 0.1) for n in range(4000)]
    explored = sum(d.draw < d.share for d in draws) / len(draws)
    assert 0.08 < explored < 0.12
    assert all(0 <= d.pick < 1 for d in draws)


@settings(max_examples=300, deadline=None)
@given(
    data=st.data(),
    zone=zones,
    purpose=purposes,
    best_hour=st.one_of(st.none(), st.integers(0, 23)),
    share=st.sampled_from([0.0, 0.1, 1.0]),
    draw=st.floats(0, 1, exclude_max=True),
    pick=st.floats(0, 1, exclude_max=True),
    deadline_offset=st.one_of(st.none(), st.integers(0, 3 * 86_400)),
    phone=st.sampled_from([FLORIDA_PHONE, OTHER_US_PHONE, None]),
)
def test_best_hour_and_exploration_never_leave_the_allowed_window_or_pass_the_deadline(
    data: st.DataObject,
    zone: str,
    purpose: Purpose,
    best_hour: int | None,
    share: float,
    draw: float,
    pick: float,
    deadline_offset: int | None,
    phone: str | None,
) -> None:
    now = data.draw(instants_2026(zone))
    prefs = resolve_effective_preferences(
        GLOBAL_DEFAULTS, None, None, data.draw(layers(timezone=zone, best_hour=best_hour))
    )
    deadline = None if deadline_offset is None else now + timedelta(seconds=deadline_offset)
    florida = is_florida_number(phone)
    plain = choose_send_time(now, deadline, purpose, prefs, florida)

    chosen = choose_send_time(now, deadline, purpose, prefs, florida, _exploring(share, draw, pick))

    if isinstance(plain, Suppressed):
        assert chosen == plain  # neither can find a slot the rules do not allow
        return
    assert isinstance(chosen, SendTime)
    assert now <= chosen.at
    assert deadline is None or chosen.at <= deadline
    assert 0 < chosen.propensity <= 1
    if purpose is Purpose.URGENT:
        assert chosen.at == now
        return
    assert legal_and_quiet_ok(chosen.at, prefs, florida)
    # Work hours give way only when the rules leave nothing else, as for the default time.
    assert outside_work_hours(chosen.at, prefs) or not outside_work_hours(plain.at, prefs)
    if chosen.source is SendTimeSource.MODEL:
        assert chosen.at.astimezone(ZoneInfo(zone)).hour == best_hour
    if chosen.source is not SendTimeSource.DEFAULT:
        assert purpose in FLEXIBLE_PURPOSES
        assert chosen.at < plain.at + timedelta(hours=24) + timedelta(seconds=1)
