"""decide(): the whole rule set at once, and the last check before sending."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import replace
from datetime import UTC, datetime, time, timedelta
from zoneinfo import ZoneInfo

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from outreach.domain import BUILTIN_CHANNELS, Channel, Purpose, SuppressionReason
from outreach.preferences import (
    GLOBAL_DEFAULTS,
    CommRequest,
    ConsentState,
    EffectivePreferences,
    FatiguePolicy,
    PreferenceLayer,
    Scheduled,
    SentRecord,
    Suppressed,
    address_for,
    channel_permission,
    decide,
    is_florida_number,
    recheck_at_send_time,
    resolve_effective_preferences,
    with_fatigue,
)

from .strategies import (
    EMAILS,
    FLORIDA_PHONE,
    OTHER_US_PHONE,
    PHONES,
    channel_sets,
    consent_states,
    histories,
    instants_2026,
    layers,
    legal_and_quiet_ok,
    purposes,
    zones,
)

NY = "America/New_York"
R = SuppressionReason
EMAIL, SMS, WHATSAPP = Channel.EMAIL, Channel.SMS, Channel.WHATSAPP
EDU, REMINDER = Purpose.CAMPAIGN_EDUCATION, Purpose.APPT_REMINDER
ALL_IN = ConsentState(
    contact_granted=True,
    granted_at=datetime(2026, 1, 1, tzinfo=UTC),
    marketing_opt_in=frozenset(BUILTIN_CHANNELS),
    whatsapp_opt_in=True,
)


def local(year: int, month: int, day: int, hour: int = 0, minute: int = 0) -> datetime:
    """A New York wall-clock time as the UTC instant the API speaks."""
    return datetime(year, month, day, hour, minute, tzinfo=ZoneInfo(NY)).astimezone(UTC)


def patient(phone: str = OTHER_US_PHONE, **fields: object) -> EffectivePreferences:
    layer = PreferenceLayer(timezone=NY, phone=phone, email="ann@example.org", **fields)  # type: ignore[arg-type]
    return resolve_effective_preferences(GLOBAL_DEFAULTS, None, None, layer)


def with_consent(**changes: object) -> ConsentState:
    values: dict[str, object] = {
        "contact_granted": True,
        "granted_at": ALL_IN.granted_at,
        "marketing_opt_in": ALL_IN.marketing_opt_in,
        "whatsapp_opt_in": True,
    }
    values.update(changes)
    return ConsentState(**values)  # type: ignore[arg-type]


def test_an_evening_reminder_waits_for_the_morning() -> None:
    now = local(2026, 6, 1, 22)
    appointment = local(2026, 6, 2, 10)
    decision = decide(CommRequest(REMINDER, now, appointment), patient(language="es-MX"), ALL_IN,
                      [], now)  # fmt: skip
    assert decision == Scheduled(SMS, OTHER_US_PHONE, local(2026, 6, 2, 8), "es-MX", NY)


def test_florida_floor_moves_the_message_to_email_rather_than_late() -> None:
    now = local(2026, 6, 1, 20, 30)
    deadline = local(2026, 6, 1, 20, 55)
    decision = decide(CommRequest(REMINDER, now, deadline), patient(FLORIDA_PHONE), ALL_IN, [], now)
    assert isinstance(decision, Scheduled)
    assert (decision.channel, decision.send_at) == (EMAIL, now)


def test_no_slot_on_any_channel_is_quiet_hours_deadline() -> None:
    now = local(2026, 6, 1, 21, 30)
    decision = decide(CommRequest(REMINDER, now, local(2026, 6, 1, 23)), patient(), ALL_IN, [], now)
    assert isinstance(decision, Suppressed)
    assert decision.reason is R.QUIET_HOURS_DEADLINE
    assert "America/New_York" in decision.detail


def test_urgent_crosses_quiet_hours_but_not_an_opt_out() -> None:
    now = local(2026, 6, 1, 3)
    decision = decide(CommRequest(Purpose.URGENT, now), patient(), with_consent(opted_out={SMS}),
                      [], now)  # fmt: skip
    assert decision == Scheduled(WHATSAPP, OTHER_US_PHONE, now, "en", NY)
    everything_out = with_consent(opted_out=frozenset(BUILTIN_CHANNELS))
    decision = decide(CommRequest(Purpose.URGENT, now), patient(), everything_out, [], now)
    assert isinstance(decision, Suppressed)
    assert decision.reason is R.OPTED_OUT


def test_marketing_cap_on_one_channel_falls_back_to_the_next() -> None:
    now = local(2026, 6, 1, 12)
    history = [SentRecord(EMAIL, EDU, now - timedelta(hours=3))]
    decision = decide(CommRequest(EDU, now), patient(), ALL_IN, history, now)
    assert isinstance(decision, Scheduled)
    assert decision.channel is SMS
    capped_everywhere = [SentRecord(c, EDU, now - timedelta(hours=3)) for c in BUILTIN_CHANNELS]
    decision = decide(CommRequest(EDU, now), patient(), ALL_IN, capped_everywhere, now)
    assert isinstance(decision, Suppressed)
    assert decision.reason is R.FREQUENCY_CAP


def test_marketing_without_opt_ins_says_so_not_that_consent_is_missing() -> None:
    """A consenting patient opted in to no marketing channel and not to WhatsApp: the campaign
    message is refused for want of opt-ins, and no figure may call it missing consent."""
    now = local(2026, 6, 1, 12)
    consent = with_consent(marketing_opt_in=frozenset(), whatsapp_opt_in=False)
    decision = decide(CommRequest(EDU, now), patient(), consent, [], now)
    assert isinstance(decision, Suppressed)
    assert decision.reason is R.NO_MARKETING_OPT_IN
    assert "whatsapp: no_whatsapp_opt_in" in decision.detail
    only_whatsapp_refused = with_consent(whatsapp_opt_in=False)
    reminder = decide(
        CommRequest(REMINDER, now, now + timedelta(days=1)),
        patient(),
        only_whatsapp_refused,
        [],
        now,
    )
    assert isinstance(reminder, Scheduled) and reminder.channel is not WHATSAPP


def test_consent_lapsing_before_the_slot() -> None:
    now = local(2026, 6, 1, 22)
    lapsing = with_consent(expires_at=local(2026, 6, 2, 7))
    decision = decide(CommRequest(REMINDER, now), patient(), lapsing, [], now)
    assert isinstance(decision, Suppressed)
    assert decision.reason is R.CONSENT_EXPIRED


def test_a_deadline_already_passed() -> None:
    now = local(2026, 6, 1, 12)
    decision = decide(CommRequest(REMINDER, now, now - timedelta(hours=1)), patient(), ALL_IN,
                      [], now)  # fmt: skip
    assert isinstance(decision, Suppressed)
    assert decision.reason is R.DEADLINE_PASSED


def test_permanently_failed_channels_are_skipped() -> None:
    now = local(2026, 6, 1, 12)
    decision = decide(CommRequest(REMINDER, now), patient(), ALL_IN, [], now, frozenset({SMS}))
    assert isinstance(decision, Scheduled)
    assert decision.channel is WHATSAPP


def test_naive_datetimes_are_refused() -> None:
    naive = datetime(2026, 6, 1, 12)
    aware = naive.replace(tzinfo=UTC)
    with pytest.raises(ValueError, match="now"):
        decide(CommRequest(REMINDER, aware), patient(), ALL_IN, [], naive)
    with pytest.raises(ValueError, match="requested_at"):
        decide(CommRequest(REMINDER, naive), patient(), ALL_IN, [], aware)
    with pytest.raises(ValueError, match="deadline"):
        decide(CommRequest(REMINDER, aware, naive), patient(), ALL_IN, [], aware)


def test_purposes_and_channels_given_as_strings_obey_the_same_rules() -> None:
    now = local(2026, 6, 1, 12)
    no_marketing = with_consent(marketing_opt_in=frozenset())
    request = CommRequest("campaign_education", now)  # type: ignore[arg-type]
    decision = decide(request, patient(), no_marketing, [], now)
    assert isinstance(decision, Suppressed)
    assert decision.reason is R.NO_MARKETING_OPT_IN
    assert recheck_at_send_time("campaign_education", "sms", no_marketing, now) is (  # type: ignore[arg-type]
        R.NO_MARKETING_OPT_IN
    )
    assert SentRecord("sms", "urgent", now).purpose is Purpose.URGENT  # type: ignore[arg-type]
    with pytest.raises(ValueError):
        CommRequest("newsletter", now)  # type: ignore[arg-type]


def test_a_stop_after_scheduling_suppresses_at_send_time() -> None:
    now = local(2026, 6, 1, 22)
    decision = decide(CommRequest(REMINDER, now), patient(), ALL_IN, [], now)
    assert isinstance(decision, Scheduled)
    assert recheck_at_send_time(REMINDER, decision.channel, ALL_IN, decision.send_at) is None
    after_stop = with_consent(opted_out={decision.channel})
    assert recheck_at_send_time(REMINDER, decision.channel, after_stop, decision.send_at) is (
        R.OPTED_OUT
    )
    assert recheck_at_send_time(Purpose.URGENT, decision.channel, after_stop, decision.send_at) is (
        R.OPTED_OUT
    )


def test_scheduled_repr_masks_the_address() -> None:
    now = local(2026, 6, 1, 12)
    decision = decide(CommRequest(REMINDER, now), patient(), ALL_IN, [], now)
    assert "2125550199" not in repr(decision)


@settings(max_examples=300, deadline=None)
@given(
    data=st.data(),
    zone=zones,
    purpose=purposes,
    requested_offset=st.integers(-3600, 86_400),
    deadline_offset=st.one_of(st.none(), st.integers(0, 3 * 86_400)),
    failed=st.sampled_from([frozenset(), frozenset(), frozenset(), frozenset({Channel.SMS})]),
)
def test_decide_never_breaks_a_rule(
    data: st.DataObject,
    zone: str,
    purpose: Purpose,
    requested_offset: int,
    deadline_offset: int | None,
    failed: frozenset[Channel],
) -> None:
    now = data.draw(instants_2026(zone))
    consent = data.draw(consent_states(now))
    org = data.draw(
        st.one_of(st.none(), layers(timezone=None, email=None, phone=None, allowed_channels=None))
    )
    prefs = resolve_effective_preferences(
        GLOBAL_DEFAULTS,
        org,
        None,
        # Mostly reachable patients, so that most examples exercise the timing and caps rules.
        data.draw(
            layers(
                timezone=zone,
                email=data.draw(st.sampled_from([*EMAILS, None])),
                phone=data.draw(st.sampled_from(PHONES)),
                allowed_channels=data.draw(st.one_of(st.none(), st.none(), channel_sets)),
            )
        ),
    )
    requested = now + timedelta(seconds=requested_offset)
    earliest = max(requested, now)
    deadline = None if deadline_offset is None else earliest + timedelta(seconds=deadline_offset)
    history = data.draw(histories(around=now))

    decision = decide(
        CommRequest(purpose, requested, deadline), prefs, consent, history, now, failed
    )

    if deadline is not None and deadline < earliest:
        assert decision == Suppressed(R.DEADLINE_PASSED, decision.detail)  # type: ignore[union-attr]
        return
    if isinstance(decision, Suppressed):
        assert decision.reason is not R.DEADLINE_PASSED
        if decision.reason is R.OPTED_OUT:
            assert consent.opted_out
        return

    channel, send_at = decision.channel, decision.send_at
    # Consent: an opted-out channel is never chosen, urgent included; marketing needs opt-in.
    assert channel not in consent.opted_out
    assert channel_permission(purpose, channel, consent, now) is None
    assert channel_permission(purpose, channel, consent, send_at) is None
    assert not purpose.is_marketing or channel in consent.marketing_opt_in
    # Reachability.
    assert channel in prefs.allowed_channels
    assert channel not in failed
    assert decision.address == address_for(channel, prefs) is not None
    # Time.
    assert send_at.tzinfo is UTC
    assert earliest <= send_at
    assert deadline is None or send_at <= deadline
    if purpose is Purpose.URGENT:
        assert send_at == earliest
    else:
        florida = channel is not EMAIL and is_florida_number(decision.address)
        assert legal_and_quiet_ok(send_at, prefs, florida)
    # Caps, counting the new message, in every rolling window ending at it.
    after = [*history, SentRecord(channel, purpose, send_at)]

    def count(window: timedelta, keep: Callable[[SentRecord], bool]) -> int:
        return sum(1 for r in after if send_at - window < r.sent_at <= send_at and keep(r))

    day, week = timedelta(hours=24), timedelta(days=7)
    if purpose is EDU:
        same_channel = lambda r: r.purpose is EDU and r.channel is channel  # noqa: E731
        if prefs.marketing_max_per_day is not None:
            assert count(day, same_channel) <= prefs.marketing_max_per_day
        if prefs.marketing_max_per_week is not None:
            assert count(week, same_channel) <= prefs.marketing_max_per_week
    if purpose is REMINDER and prefs.healthcare_reminder_profile:
        assert count(day, lambda r: r.purpose is REMINDER) <= 1
        assert count(week, lambda r: r.purpose is REMINDER) <= 3
    assert (decision.language, decision.timezone) == (prefs.language, prefs.timezone)


@settings(max_examples=200, deadline=None)
@given(zone=zones, purpose=purposes, now=instants_2026(), quiet_end=st.integers(8, 20))
def test_a_consenting_reachable_patient_is_always_scheduled(
    zone: str, purpose: Purpose, now: datetime, quiet_end: int
) -> None:
    prefs = resolve_effective_preferences(
        GLOBAL_DEFAULTS,
        None,
        None,
        PreferenceLayer(timezone=zone, email="ann@example.org", quiet_hours_end=time(quiet_end)),
    )
    decision = decide(CommRequest(purpose, now), prefs, ALL_IN, [], now)
    assert isinstance(decision, Scheduled)
    assert decision.channel is EMAIL
    assert decision.send_at - now <= timedelta(days=1, hours=1)


@settings(max_examples=200, deadline=None)
@given(
    data=st.data(),
    zone=zones,
    purpose=purposes,
    lapse_after=st.integers(0, 48 * 3600),
    failed=channel_sets,
)
def test_never_after_consent_lapses_nor_on_a_failed_channel(
    data: st.DataObject, zone: str, purpose: Purpose, lapse_after: int, failed: frozenset[Channel]
) -> None:
    now = data.draw(instants_2026(zone))
    lapsing = with_consent(expires_at=now + timedelta(seconds=lapse_after))
    prefs = resolve_effective_preferences(
        GLOBAL_DEFAULTS,
        None,
        None,
        PreferenceLayer(timezone=zone, email="ann@example.org", phone=FLORIDA_PHONE),
    )
    decision = decide(CommRequest(purpose, now), prefs, lapsing, [], now, failed)
    if isinstance(decision, Scheduled):
        assert decision.send_at < lapsing.expires_at  # type: ignore[operator]
        assert decision.channel not in failed
    elif decision.reason is R.NO_REACHABLE_CHANNEL:
        assert failed == frozenset(BUILTIN_CHANNELS)


def test_timing_beats_a_channel_the_patient_never_opted_into() -> None:
    """SMS and e-mail are permitted but their only slots are in quiet hours; WhatsApp lacks the
    opt-in. What stopped the reminder is the clock, and the reason must say so."""
    from datetime import UTC, datetime, time, timedelta

    from outreach.domain import Purpose, SuppressionReason
    from outreach.preferences import (
        GLOBAL_DEFAULTS,
        CommRequest,
        ConsentState,
        PreferenceLayer,
        Suppressed,
        decide,
        resolve_effective_preferences,
    )

    now = datetime(2026, 3, 2, 3, 0, tzinfo=UTC)  # 22:00 in New York
    prefs = resolve_effective_preferences(
        GLOBAL_DEFAULTS,
        None,
        None,
        PreferenceLayer(
            timezone="America/New_York",
            phone="+12125550147",
            email="ana@example.com",
            quiet_hours_start=time(21),
            quiet_hours_end=time(8),
        ),
    )
    consent = ConsentState(contact_granted=True, granted_at=now - timedelta(days=9))
    appointment = now + timedelta(hours=3)  # 01:00 local: every slot before it is quiet
    decision = decide(CommRequest(Purpose.APPT_REMINDER, now, appointment), prefs, consent, (), now)
    assert isinstance(decision, Suppressed)
    assert decision.reason is SuppressionReason.QUIET_HOURS_DEADLINE
    assert "whatsapp: no_whatsapp_opt_in" in decision.detail


FATIGUE = FatiguePolicy(threshold=0.6, marketing_max_per_day=1, marketing_max_per_week=1)


def test_fatigue_lowers_marketing_sends_and_leaves_transactional_ones_alone() -> None:
    now = local(2026, 6, 1, 10)
    prefs = patient()  # the global caps: 1 marketing message a day, 3 a week, per channel
    # A campaign message two days ago; reminders two days and three hours ago.
    history = [
        SentRecord(SMS, EDU, now - timedelta(days=2)),
        SentRecord(SMS, REMINDER, now - timedelta(days=2)),
        SentRecord(SMS, REMINDER, now - timedelta(hours=3)),
    ]
    rested = with_fatigue(prefs, 0.3, FATIGUE)
    tired = with_fatigue(prefs, 0.7, FATIGUE)
    assert rested is prefs
    assert (tired.marketing_max_per_day, tired.marketing_max_per_week) == (1, 1)

    campaign = CommRequest(EDU, now)
    assert isinstance(decide(campaign, rested, ALL_IN, history, now), Scheduled)
    # By SMS alone, the fatigued weekly cap of one is used up.
    refused = decide(
        campaign, replace(tired, allowed_channels=frozenset({SMS})), ALL_IN, history, now
    )
    assert refused == Suppressed(R.FREQUENCY_CAP, refused.detail)  # type: ignore[union-attr]

    for purpose in (REMINDER, Purpose.APPT_CONFIRM, Purpose.LAB_READY, Purpose.URGENT):
        request = CommRequest(purpose, now, now + timedelta(days=2))
        decision = decide(request, tired, ALL_IN, history, now)
        assert isinstance(decision, Scheduled)
        assert decision == decide(request, rested, ALL_IN, history, now)


def test_fatigue_never_raises_a_cap() -> None:
    strict = patient(marketing_max_per_day=0, marketing_max_per_week=0)
    uncapped = resolve_effective_preferences(
        GLOBAL_DEFAULTS,
        None,
        None,
        PreferenceLayer(timezone=NY, marketing_max_per_day=5, marketing_max_per_week=20),
    )
    assert with_fatigue(strict, 1.0, FATIGUE).marketing_max_per_week == 0
    assert with_fatigue(uncapped, 1.0, FATIGUE).marketing_max_per_week == 1
    assert with_fatigue(uncapped, None, FATIGUE) is uncapped  # never scored
    assert with_fatigue(uncapped, 1.0, None) is uncapped  # no policy


@settings(max_examples=200, deadline=None)
@given(
    data=st.data(),
    zone=zones,
    purpose=purposes,
    score=st.floats(0, 1),
)
def test_fatigue_changes_no_transactional_decision(
    data: st.DataObject, zone: str, purpose: Purpose, score: float
) -> None:
    now = data.draw(instants_2026(zone))
    prefs = resolve_effective_preferences(
        GLOBAL_DEFAULTS, None, None, data.draw(layers(timezone=zone))
    )
    consent = data.draw(consent_states(now))
    history = data.draw(histories(now))
    request = CommRequest(purpose, now, now + timedelta(days=2))
    tired = with_fatigue(prefs, score, FATIGUE)

    decision = decide(request, tired, consent, history, now)

    if purpose.is_transactional:
        assert decision == decide(request, prefs, consent, history, now)
    elif isinstance(decision, Scheduled):
        # Fatigue only ever takes marketing away: what it lets through, the own caps do too.
        assert isinstance(decide(request, prefs, consent, history, now), Scheduled)
