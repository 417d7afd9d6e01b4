"""Frequency caps: marketing per channel, the healthcare-reminder profile, Florida's 3 per 24 h."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime, timedelta

from hypothesis import given, settings
from hypothesis import strategies as st

from outreach.domain import Channel, Purpose, SuppressionReason
from outreach.preferences import (
    GLOBAL_DEFAULTS,
    PreferenceLayer,
    SentRecord,
    frequency_refusal,
    resolve_effective_preferences,
)

from .strategies import channels, histories, instants_2026

NOW = datetime(2026, 6, 1, 15, tzinfo=UTC)
CAP = SuppressionReason.FREQUENCY_CAP
EDU, REMINDER = Purpose.CAMPAIGN_EDUCATION, Purpose.APPT_REMINDER


def prefs(**org: object):  # type: ignore[no-untyped-def]
    return resolve_effective_preferences(GLOBAL_DEFAULTS, PreferenceLayer(**org), None, None)  # type: ignore[arg-type]


def sent(channel: Channel, purpose: Purpose, hours_ago: float) -> SentRecord:
    return SentRecord(channel, purpose, NOW - timedelta(hours=hours_ago))


def test_marketing_daily_cap_is_per_channel_and_rolling() -> None:
    p = prefs(marketing_max_per_day=1, marketing_max_per_week=None)
    history = [sent(Channel.EMAIL, EDU, 23.9)]
    assert frequency_refusal(EDU, Channel.EMAIL, NOW, p, history) is CAP
    assert frequency_refusal(EDU, Channel.SMS, NOW, p, history) is None
    assert frequency_refusal(EDU, Channel.EMAIL, NOW + timedelta(hours=0.2), p, history) is None
    # Exactly 24 h ago is outside the rolling day.
    assert frequency_refusal(EDU, Channel.EMAIL, NOW, p, [sent(Channel.EMAIL, EDU, 24)]) is None


def test_marketing_weekly_cap() -> None:
    p = prefs(marketing_max_per_day=5, marketing_max_per_week=2)
    history = [sent(Channel.SMS, EDU, 30), sent(Channel.SMS, EDU, 6 * 24)]
    assert frequency_refusal(EDU, Channel.SMS, NOW, p, history) is CAP
    assert frequency_refusal(EDU, Channel.SMS, NOW, p, history[:1]) is None


def test_transactional_purposes_are_exempt() -> None:
    p = prefs(marketing_max_per_day=0, marketing_max_per_week=0)
    history = [sent(Channel.SMS, EDU, 1), sent(Channel.SMS, REMINDER, 1)]
    for purpose in (REMINDER, Purpose.APPT_CONFIRM, Purpose.URGENT, Purpose.LAB_READY):
        assert frequency_refusal(purpose, Channel.SMS, NOW, p, history) is None
    assert frequency_refusal(EDU, Channel.SMS, NOW, p, []) is CAP


def test_healthcare_reminder_profile() -> None:
    on, off = prefs(healthcare_reminder_profile=True), prefs()
    one_today = [sent(Channel.EMAIL, REMINDER, 5)]
    three_this_week = [sent(Channel.SMS, REMINDER, h) for h in (30, 60, 100)]
    # Counted across channels: a reminder is about the patient, not the channel.
    assert frequency_refusal(REMINDER, Channel.SMS, NOW, on, one_today) is CAP
    assert frequency_refusal(REMINDER, Channel.SMS, NOW, on, three_this_week) is CAP
    assert frequency_refusal(REMINDER, Channel.SMS, NOW, on, three_this_week[:2]) is None
    assert frequency_refusal(REMINDER, Channel.SMS, NOW, off, one_today + three_this_week) is None


def test_planned_messages_count_too() -> None:
    p = prefs(marketing_max_per_day=1)
    planned_tomorrow = [SentRecord(Channel.EMAIL, EDU, NOW + timedelta(hours=10))]
    assert frequency_refusal(EDU, Channel.EMAIL, NOW, p, planned_tomorrow) is CAP


def test_florida_numbers_get_three_marketing_messages_per_day_across_phone_channels() -> None:
    p = prefs(marketing_max_per_day=10, marketing_max_per_week=20)
    history = [sent(Channel.SMS, EDU, 1), sent(Channel.WHATSAPP, EDU, 2), sent(Channel.SMS, EDU, 3)]
    assert frequency_refusal(EDU, Channel.SMS, NOW, p, history, florida_number=True) is CAP
    assert frequency_refusal(EDU, Channel.SMS, NOW, p, history, florida_number=False) is None
    assert frequency_refusal(EDU, Channel.SMS, NOW, p, history[:2], florida_number=True) is None
    # E-mail is not a telephone solicitation.
    assert frequency_refusal(EDU, Channel.EMAIL, NOW, p, history, florida_number=True) is None


@settings(max_examples=300)
@given(
    data=st.data(),
    per_day=st.one_of(st.none(), st.integers(0, 3)),
    per_week=st.one_of(st.none(), st.integers(0, 6)),
    profile=st.booleans(),
    purpose=st.sampled_from([EDU, REMINDER]),
    channel=channels,
    florida=st.booleans(),
    send_at=instants_2026(),
)
def test_caps_are_never_exceeded(
    data: st.DataObject,
    per_day: int | None,
    per_week: int | None,
    profile: bool,
    purpose: Purpose,
    channel: Channel,
    florida: bool,
    send_at: datetime,
) -> None:
    p = prefs(
        marketing_max_per_day=per_day,
        marketing_max_per_week=per_week,
        healthcare_reminder_profile=profile,
    )
    history = data.draw(histories(around=send_at))
    if frequency_refusal(purpose, channel, send_at, p, history, florida) is not None:
        return
    # Accepting the message must leave every rolling window ending at it within its cap.
    after = [*history, SentRecord(channel, purpose, send_at)]

    def count(window: timedelta, keep: Callable[[SentRecord], bool]) -> int:
        return sum(1 for r in after if send_at - window < r.sent_at <= send_at and keep(r))

    day, week = timedelta(hours=24), timedelta(days=7)
    if purpose is EDU:
        same = lambda r: r.purpose is EDU and r.channel is channel  # noqa: E731
        p_day = GLOBAL_DEFAULTS.marketing_max_per_day if per_day is None else per_day
        p_week = GLOBAL_DEFAULTS.marketing_max_per_week if per_week is None else per_week
        assert p_day is not None and p_week is not None
        assert count(day, same) <= p_day
        assert count(week, same) <= p_week
        if florida and channel is not Channel.EMAIL:
            phone = lambda r: r.purpose is EDU and r.channel is not Channel.EMAIL  # noqa: E731
            assert count(day, phone) <= 3
    elif profile:
        reminder = lambda r: r.purpose is REMINDER  # noqa: E731
        assert count(day, reminder) <= 1
        assert count(week, reminder) <= 3
