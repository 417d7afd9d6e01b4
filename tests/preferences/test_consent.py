"""Consent rules: contact consent, marketing opt-in, WhatsApp opt-in, absolute opt-outs, expiry."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from outreach.domain import BUILTIN_CHANNELS, Channel, Purpose, SuppressionReason
from outreach.preferences import ConsentState, channel_permission, consents_expiring

from .strategies import channels, consent_states, instants_2026, purposes

NOW = datetime(2026, 6, 1, 12, tzinfo=UTC)
GRANTED = datetime(2025, 6, 1, tzinfo=UTC)
R = SuppressionReason
ONLY_SMS = frozenset({Channel.SMS})


def full_consent(**changes: object) -> ConsentState:
    values: dict[str, object] = {
        "contact_granted": True,
        "granted_at": GRANTED,
        "marketing_opt_in": frozenset(BUILTIN_CHANNELS),
        "whatsapp_opt_in": True,
    }
    values.update(changes)
    return ConsentState(**values)  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("consent", "purpose", "channel", "expected"),
    [
        (full_consent(), Purpose.APPT_REMINDER, Channel.SMS, None),
        (full_consent(), Purpose.CAMPAIGN_EDUCATION, Channel.WHATSAPP, None),
        (ConsentState(), Purpose.APPT_REMINDER, Channel.SMS, R.NO_CONSENT),
        (ConsentState(), Purpose.URGENT, Channel.EMAIL, R.NO_CONSENT),
        (full_consent(opted_out=ONLY_SMS), Purpose.URGENT, Channel.SMS, R.OPTED_OUT),
        (full_consent(opted_out=ONLY_SMS), Purpose.URGENT, Channel.EMAIL, None),
        (ConsentState(opted_out=ONLY_SMS), Purpose.URGENT, Channel.SMS, R.OPTED_OUT),
        (full_consent(marketing_opt_in={Channel.EMAIL}), Purpose.CAMPAIGN_EDUCATION,
         Channel.SMS, R.NO_MARKETING_OPT_IN),
        (full_consent(marketing_opt_in=frozenset()), Purpose.APPT_CONFIRM, Channel.SMS, None),
        (full_consent(whatsapp_opt_in=False), Purpose.URGENT, Channel.WHATSAPP,
         R.NO_WHATSAPP_OPT_IN),
        (full_consent(whatsapp_opt_in=False), Purpose.LAB_READY, Channel.SMS, None),
        (full_consent(granted_at=datetime(2024, 5, 31, tzinfo=UTC)), Purpose.APPT_REMINDER,
         Channel.SMS, R.CONSENT_EXPIRED),
        (full_consent(expires_at=NOW), Purpose.URGENT, Channel.SMS, R.CONSENT_EXPIRED),
        (full_consent(expires_at=NOW + timedelta(seconds=1)), Purpose.URGENT, Channel.SMS, None),
        (full_consent(expires_at=NOW, opted_out=ONLY_SMS), Purpose.URGENT, Channel.SMS,
         R.OPTED_OUT),
    ],
)  # fmt: skip
def test_permission_table(
    consent: ConsentState, purpose: Purpose, channel: Channel, expected: SuppressionReason | None
) -> None:
    assert channel_permission(purpose, channel, consent, NOW) == expected


def test_consent_lasts_two_years_by_default() -> None:
    consent = full_consent(granted_at=datetime(2024, 2, 29, 10, tzinfo=UTC))
    assert consent.expires_at == datetime(2026, 2, 28, 10, tzinfo=UTC)
    assert full_consent().expires_at == datetime(2027, 6, 1, tzinfo=UTC)


def test_granted_consent_must_be_dated_and_aware() -> None:
    with pytest.raises(ValueError, match="granted_at"):
        ConsentState(contact_granted=True)
    with pytest.raises(ValueError, match="timezone-aware"):
        ConsentState(contact_granted=True, granted_at=datetime(2026, 1, 1))
    with pytest.raises(ValueError, match="timezone-aware"):
        channel_permission(Purpose.URGENT, Channel.SMS, full_consent(), datetime(2026, 1, 1))


@settings(max_examples=300)
@given(data=st.data(), purpose=purposes, channel=channels, now=instants_2026())
def test_an_opt_out_is_absolute(
    data: st.DataObject, purpose: Purpose, channel: Channel, now: datetime
) -> None:
    consent = data.draw(consent_states(now))
    reason = channel_permission(purpose, channel, consent, now)
    if channel in consent.opted_out:
        assert reason is R.OPTED_OUT
    if reason is None:
        assert channel not in consent.opted_out
        assert consent.contact_granted
        assert not consent.is_expired(now)
        assert channel is not Channel.WHATSAPP or consent.whatsapp_opt_in
        assert not purpose.is_marketing or channel in consent.marketing_opt_in


@settings(max_examples=100)
@given(consent=consent_states(), channel=channels, now=instants_2026())
def test_marketing_never_goes_without_opt_in(
    consent: ConsentState, channel: Channel, now: datetime
) -> None:
    if channel not in consent.marketing_opt_in:
        assert channel_permission(Purpose.CAMPAIGN_EDUCATION, channel, consent, now) is not None


def test_consents_expiring_flags_those_lapsing_within_the_window() -> None:
    consents = [
        ("lapsed", full_consent(expires_at=NOW - timedelta(days=1))),
        ("in-10-days", full_consent(expires_at=NOW + timedelta(days=10))),
        ("in-40-days", full_consent(expires_at=NOW + timedelta(days=40))),
        ("in-2-days", full_consent(expires_at=NOW + timedelta(days=2))),
        ("at-the-edge", full_consent(expires_at=NOW + timedelta(days=30))),
        ("never-granted", ConsentState()),
    ]
    expiring = consents_expiring(consents, NOW, timedelta(days=30))
    assert [item.consent_id for item in expiring] == ["in-2-days", "in-10-days", "at-the-edge"]
    assert expiring[0].expires_at == NOW + timedelta(days=2)
