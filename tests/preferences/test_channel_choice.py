"""Channel choice: preferred first, then the fallback order; reachability; telling reasons."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from outreach.domain import BUILTIN_CHANNELS, Channel, Purpose, SuppressionReason
from outreach.preferences import (
    DEFAULT_FALLBACK_ORDER,
    GLOBAL_DEFAULTS,
    ConsentState,
    EffectivePreferences,
    PreferenceLayer,
    Suppressed,
    channel_order_for,
    choose_channel,
    most_telling_reason,
    resolve_effective_preferences,
)

from .strategies import FLORIDA_PHONE

NOW = datetime(2026, 6, 1, 15, tzinfo=UTC)
EMAIL, SMS, WHATSAPP = Channel.EMAIL, Channel.SMS, Channel.WHATSAPP
R = SuppressionReason
ALL_IN = ConsentState(
    contact_granted=True,
    granted_at=datetime(2026, 1, 1, tzinfo=UTC),
    marketing_opt_in=frozenset(BUILTIN_CHANNELS),
    whatsapp_opt_in=True,
)

ALL_CHANNELS = frozenset(BUILTIN_CHANNELS)


def prefs(org: PreferenceLayer | None = None, /, **patient: object) -> EffectivePreferences:
    fields: dict[str, object] = {"email": "ann@example.org", "phone": FLORIDA_PHONE, **patient}
    layer = PreferenceLayer(**fields)  # type: ignore[arg-type]
    return resolve_effective_preferences(GLOBAL_DEFAULTS, org, None, layer)


def consent(**changes: object) -> ConsentState:
    values: dict[str, object] = {
        "contact_granted": ALL_IN.contact_granted,
        "granted_at": ALL_IN.granted_at,
        "marketing_opt_in": ALL_IN.marketing_opt_in,
        "whatsapp_opt_in": ALL_IN.whatsapp_opt_in,
    }
    values.update(changes)
    return ConsentState(**values)  # type: ignore[arg-type]


def test_every_purpose_has_a_complete_fallback_order() -> None:
    for purpose in Purpose:
        assert sorted(DEFAULT_FALLBACK_ORDER[purpose]) == sorted(BUILTIN_CHANNELS)
    assert DEFAULT_FALLBACK_ORDER[Purpose.URGENT] == (SMS, WHATSAPP, EMAIL)
    assert DEFAULT_FALLBACK_ORDER[Purpose.CAMPAIGN_EDUCATION] == (EMAIL, SMS, WHATSAPP)


def test_preferred_channel_comes_first_when_allowed() -> None:
    assert channel_order_for(Purpose.URGENT, prefs(preferred_channel=EMAIL)) == (
        EMAIL, SMS, WHATSAPP,
    )  # fmt: skip
    not_allowed = prefs(preferred_channel=EMAIL, allowed_channels=frozenset({SMS, WHATSAPP}))
    assert channel_order_for(Purpose.URGENT, not_allowed) == (SMS, WHATSAPP)


def test_an_explicit_channel_order_beats_the_purpose_defaults() -> None:
    org = PreferenceLayer(channel_order=(WHATSAPP, EMAIL))
    assert channel_order_for(Purpose.CAMPAIGN_EDUCATION, prefs(org)) == (WHATSAPP, EMAIL)
    assert channel_order_for(Purpose.CAMPAIGN_EDUCATION, prefs()) == (EMAIL, SMS, WHATSAPP)


@pytest.mark.parametrize(
    ("patient", "the_consent", "failed", "expected"),
    [
        ({}, ALL_IN, frozenset(), (SMS, FLORIDA_PHONE)),
        ({"preferred_channel": EMAIL}, ALL_IN, frozenset(), (EMAIL, "ann@example.org")),
        # WhatsApp falls back on the phone number.
        ({"preferred_channel": WHATSAPP}, ALL_IN, frozenset(), (WHATSAPP, FLORIDA_PHONE)),
        ({}, consent(opted_out={SMS}), frozenset(), (WHATSAPP, FLORIDA_PHONE)),
        ({}, consent(opted_out={SMS}, whatsapp_opt_in=False), frozenset(),
         (EMAIL, "ann@example.org")),
        ({}, ALL_IN, frozenset({SMS, WHATSAPP}), (EMAIL, "ann@example.org")),
        ({"phone": "invalid"}, ALL_IN, frozenset(), (EMAIL, "ann@example.org")),
    ],
)  # fmt: skip
def test_choice_for_an_appointment_reminder(
    patient: dict[str, object],
    the_consent: ConsentState,
    failed: frozenset[Channel],
    expected: tuple[Channel, str],
) -> None:
    assert choose_channel(Purpose.APPT_REMINDER, prefs(**patient), the_consent, NOW, failed) == (
        expected
    )


@pytest.mark.parametrize(
    ("purpose", "the_consent", "patient", "failed", "expected"),
    [
        # Nothing reachable.
        (Purpose.APPT_REMINDER, ALL_IN, {}, frozenset(BUILTIN_CHANNELS), R.NO_REACHABLE_CHANNEL),
        (Purpose.APPT_REMINDER, ALL_IN, {"allowed_channels": frozenset()}, frozenset(),
         R.NO_REACHABLE_CHANNEL),
        # Unreachable channels do not dilute the reachable ones' consent reasons.
        (Purpose.URGENT, consent(opted_out={SMS}), {}, frozenset({EMAIL, WHATSAPP}),
         R.OPTED_OUT),
        # The patient's own word beats everything.
        (Purpose.CAMPAIGN_EDUCATION, consent(opted_out={SMS}, marketing_opt_in=frozenset()),
         {}, frozenset(), R.OPTED_OUT),
        (Purpose.CAMPAIGN_EDUCATION, consent(marketing_opt_in=frozenset()), {}, frozenset(),
         R.NO_MARKETING_OPT_IN),
        (Purpose.APPT_CONFIRM, ConsentState(), {}, frozenset(), R.NO_CONSENT),
        (Purpose.APPT_CONFIRM, consent(expires_at=NOW), {}, frozenset(), R.CONSENT_EXPIRED),
        (Purpose.URGENT, consent(opted_out=ALL_CHANNELS), {}, frozenset(), R.OPTED_OUT),
    ],
)  # fmt: skip
def test_suppression_reasons(
    purpose: Purpose,
    the_consent: ConsentState,
    patient: dict[str, object],
    failed: frozenset[Channel],
    expected: SuppressionReason,
) -> None:
    result = choose_channel(purpose, prefs(**patient), the_consent, NOW, failed)
    assert isinstance(result, Suppressed)
    assert result.reason is expected
    assert "@" not in result.detail and "305" not in result.detail


def test_precedence_of_reasons() -> None:
    assert most_telling_reason([R.NO_CONSENT, R.OPTED_OUT]) is R.OPTED_OUT
    assert most_telling_reason([R.NO_MARKETING_OPT_IN, R.CONSENT_EXPIRED]) is R.CONSENT_EXPIRED
    assert most_telling_reason([R.NO_MARKETING_OPT_IN, R.NO_CONSENT]) is R.NO_CONSENT
    assert most_telling_reason([R.FREQUENCY_CAP, R.NO_MARKETING_OPT_IN]) is R.NO_MARKETING_OPT_IN
    assert most_telling_reason([R.QUIET_HOURS_DEADLINE, R.FREQUENCY_CAP]) is R.FREQUENCY_CAP
    assert most_telling_reason([]) is R.NO_REACHABLE_CHANNEL
