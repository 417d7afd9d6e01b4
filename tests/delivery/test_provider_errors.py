"""The one table from provider codes to actions, for sends refused at once and failures reported
later."""

from __future__ import annotations

import pytest

from outreach.delivery.provider_errors import (
    ErrorAction,
    classify_delivery_failure,
    classify_send_error,
)

A = ErrorAction


@pytest.mark.parametrize(
    ("provider", "code", "action", "uncertain"),
    [
        # never retry
        ("twilio", "21610", A.OPT_OUT, False),
        ("twilio", "21211", A.ADDRESS_FAILED, False),
        ("twilio", "21614", A.ADDRESS_FAILED, False),
        ("sendgrid", "400", A.REFUSED, False),
        # back off
        ("twilio", "20429", A.RATE_LIMITED, False),
        ("sendgrid", "429", A.RATE_LIMITED, False),
        ("whatsapp", "130429", A.RATE_LIMITED, False),
        ("twilio", "20503", A.BACK_OFF, False),
        ("twilio", "20500", A.BACK_OFF, True),  # Twilio may have created it: ask before resending
        ("sendgrid", "500", A.BACK_OFF, True),
        ("sendgrid", "503", A.BACK_OFF, False),
        ("whatsapp", "131000", A.BACK_OFF, True),
        ("twilio", "timeout", A.BACK_OFF, True),
        ("whatsapp", "timeout", A.BACK_OFF, True),
        ("sendgrid", "connection", A.BACK_OFF, False),
        # per recipient, and fall back
        ("whatsapp", "131056", A.RECIPIENT_BACK_OFF, False),
        ("whatsapp", "131026", A.ADDRESS_FAILED, False),
        # a plugin's provider: HTTP-shaped codes
        ("simgate", "429", A.RATE_LIMITED, False),
        ("simgate", "502", A.BACK_OFF, True),
    ],
)
def test_send_errors(provider: str, code: str, action: ErrorAction, uncertain: bool) -> None:
    found = classify_send_error(provider, code)
    assert (found.action, found.uncertain) == (action, uncertain)


def test_only_provider_trouble_trips_the_breaker() -> None:
    assert classify_send_error("twilio", "20500").trips_breaker
    assert classify_send_error("sendgrid", "timeout").trips_breaker
    assert not classify_send_error("twilio", "20429").trips_breaker  # our pace, not theirs
    assert not classify_send_error("whatsapp", "131056").trips_breaker  # one recipient
    assert not classify_send_error("twilio", "21610").trips_breaker


def test_an_unknown_code_follows_the_channels_judgement() -> None:
    assert classify_send_error("simgate", "weird", final=True).is_final
    assert not classify_send_error("simgate", "weird", final=False).is_final


@pytest.mark.parametrize(
    ("provider", "status", "code", "action"),
    [
        ("sendgrid", "bounced", "5.1.1", A.ADDRESS_FAILED),
        ("sendgrid", "failed", "Bounced Address", A.REFUSED),
        ("sendgrid", "unsubscribed", "spamreport", A.OPT_OUT),
        ("sendgrid", "unsubscribed", "unsubscribe", A.OPT_OUT),
        ("twilio", "failed", "21610", A.OPT_OUT),
        ("twilio", "failed", "30003", A.ADDRESS_FAILED),
        ("twilio", "failed", "30008", A.REFUSED),  # unknown trouble: says nothing of the address
        ("whatsapp", "failed", "131026", A.ADDRESS_FAILED),
        ("whatsapp", "failed", "131050", A.REFUSED),
    ],
)
def test_failures_reported_later(
    provider: str, status: str, code: str, action: ErrorAction
) -> None:
    assert classify_delivery_failure(provider, status, code).action is action
