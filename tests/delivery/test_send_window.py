"""The window at the moment of sending: a held job goes now, later, or not at all — never at
night, never after its deadline."""

from __future__ import annotations

from datetime import UTC, datetime, time, timedelta

from hypothesis import given, settings
from hypothesis import strategies as st

from outreach.delivery.send_window import (
    AFTER_DEADLINE,
    IN_QUIET_HOURS,
    OUTSIDE_LEGAL_FLOOR,
    Replan,
    SendNow,
    TooLate,
    check_send_window,
    send_time_breaches,
)
from outreach.domain import Channel, Purpose, SuppressionReason
from outreach.preferences import (
    GLOBAL_DEFAULTS,
    EffectivePreferences,
    PreferenceLayer,
    resolve_effective_preferences,
)
from tests.preferences.strategies import (
    FLORIDA_PHONE,
    OTHER_US_PHONE,
    instants_2026,
    layers,
    legal_and_quiet_ok,
    purposes,
)

NEW_YORK = "America/New_York"


def prefs(zone: str = NEW_YORK, **patient: object) -> EffectivePreferences:
    return resolve_effective_preferences(
        GLOBAL_DEFAULTS,
        None,
        None,
        PreferenceLayer(timezone=zone, **patient),  # type: ignore[arg-type]
    )


def local(hour: int, minute: int = 0, day: int = 2) -> datetime:
    """A December day in New York (UTC-5), as UTC."""
    return datetime(2026, 12, day, hour, minute, tzinfo=UTC) + timedelta(hours=5)


def test_inside_the_window_it_goes_now() -> None:
    verdict = check_send_window(
        Purpose.APPT_REMINDER, None, Channel.SMS, OTHER_US_PHONE, prefs(), local(10)
    )
    assert verdict == SendNow()


def test_a_job_held_past_nine_pm_is_replanned_to_the_morning() -> None:
    """Planned for 20:55, held by a backlog until 21:30: it waits for 08:00, not sent at night."""
    verdict = check_send_window(
        Purpose.APPT_REMINDER, local(9, day=4), Channel.SMS, OTHER_US_PHONE, prefs(), local(21, 30)
    )
    assert verdict == Replan(local(8, day=3))


def test_florida_numbers_stop_at_eight_pm_but_email_does_not() -> None:
    at = local(20, 15)
    florida = check_send_window(Purpose.NO_SHOW, None, Channel.SMS, FLORIDA_PHONE, prefs(), at)
    email = check_send_window(Purpose.NO_SHOW, None, Channel.EMAIL, "a@b.example", prefs(), at)
    assert florida == Replan(local(8, day=3)) and email == SendNow()


def test_the_patients_quiet_hours_hold_too() -> None:
    quiet = prefs(quiet_hours_start=time(12), quiet_hours_end=time(14))
    verdict = check_send_window(
        Purpose.RX_REFILL, None, Channel.SMS, OTHER_US_PHONE, quiet, local(12, 30)
    )
    assert verdict == Replan(local(14))


def test_past_its_deadline_a_job_is_suppressed_with_the_reason() -> None:
    verdict = check_send_window(
        Purpose.APPT_REMINDER, local(10), Channel.SMS, OTHER_US_PHONE, prefs(), local(10, 1)
    )
    assert isinstance(verdict, TooLate) and verdict.reason is SuppressionReason.DEADLINE_PASSED


def test_no_allowed_moment_before_the_deadline_suppresses_it() -> None:
    verdict = check_send_window(
        Purpose.APPT_REMINDER, local(7, day=3), Channel.SMS, OTHER_US_PHONE, prefs(), local(22)
    )
    assert isinstance(verdict, TooLate)
    assert verdict.reason is SuppressionReason.QUIET_HOURS_DEADLINE


def test_urgent_goes_at_night_but_not_after_its_deadline() -> None:
    night = local(23)
    assert (
        check_send_window(Purpose.URGENT, None, Channel.SMS, OTHER_US_PHONE, prefs(), night)
        == SendNow()
    )
    late = check_send_window(
        Purpose.URGENT, night - timedelta(minutes=1), Channel.SMS, OTHER_US_PHONE, prefs(), night
    )
    assert isinstance(late, TooLate)


@settings(max_examples=300, deadline=None)
@given(
    layer=layers(),
    purpose=purposes.filter(lambda p: p is not Purpose.URGENT),
    now=instants_2026(),
    florida=st.booleans(),
    deadline_in=st.none() | st.integers(0, 72 * 60),
)
def test_never_sends_outside_the_window_nor_replans_past_the_deadline(
    layer: PreferenceLayer, purpose: Purpose, now: datetime, florida: bool, deadline_in: int | None
) -> None:
    effective = resolve_effective_preferences(GLOBAL_DEFAULTS, None, None, layer)
    deadline = now + timedelta(minutes=deadline_in) if deadline_in is not None else None
    phone = FLORIDA_PHONE if florida else OTHER_US_PHONE
    verdict = check_send_window(purpose, deadline, Channel.SMS, phone, effective, now)
    if isinstance(verdict, SendNow):
        assert legal_and_quiet_ok(now, effective, florida)
    elif isinstance(verdict, Replan):
        assert verdict.at > now and legal_and_quiet_ok(verdict.at, effective, florida)
        assert deadline is None or verdict.at <= deadline
    else:  # no allowed moment: before the deadline, or in the week searched (quiet all day)
        assert isinstance(verdict, TooLate)
        assert deadline is not None or verdict.reason is SuppressionReason.QUIET_HOURS_DEADLINE


def test_a_send_audit_names_what_a_late_send_broke() -> None:
    quiet = prefs(quiet_hours_start=time(12), quiet_hours_end=time(14))

    def breaches(at, purpose=Purpose.APPT_REMINDER, deadline=None, phone=OTHER_US_PHONE):
        channel = Channel.EMAIL if "@" in phone else Channel.SMS
        return send_time_breaches(at, purpose, deadline, channel, phone, quiet)

    assert breaches(local(10)) == set()
    assert breaches(local(21, 5)) == {OUTSIDE_LEGAL_FLOOR}
    assert breaches(local(12, 30)) == {IN_QUIET_HOURS}
    assert breaches(local(20, 30), phone=FLORIDA_PHONE) == {OUTSIDE_LEGAL_FLOOR}
    assert breaches(local(11), deadline=local(10, 59), phone="a@b.example") == {AFTER_DEADLINE}
    assert breaches(local(23), purpose=Purpose.URGENT) == set()
