"""The automatic answers: every kind in every language, PHI-free by construction."""

from __future__ import annotations

import pytest

from outreach.replies import ReplyKind
from outreach.replies.reply_texts import (
    GENERIC_CLINIC_NAME,
    HELP_WITHOUT_PHONE,
    REPLY_FIELDS,
    SUPPORTED_LANGUAGES,
    MissingReplyValue,
    all_templates,
    render_reply,
    reply_language,
    template_fields,
)

CLINIC = {
    "clinic_name": "Sunrise Clinic",
    "clinic_phone": "+14155550100",
    "booking_link": "https://book.example/x",
}


@pytest.mark.parametrize("language", SUPPORTED_LANGUAGES)
@pytest.mark.parametrize("kind", [*ReplyKind, HELP_WITHOUT_PHONE])
def test_every_kind_has_every_language_and_formats_with_clinic_details_only(
    kind: str, language: str
) -> None:
    text = all_templates()[(str(kind), language)]
    assert template_fields(text) <= REPLY_FIELDS
    assert text.startswith("{clinic_name}")
    rendered = text.format(**CLINIC)
    assert "{" not in rendered and len(rendered) <= 320  # at most a few SMS segments


def test_the_opt_out_confirmation_follows_ctia_wording() -> None:
    assert render_reply(ReplyKind.OPT_OUT_CONFIRMATION, "en", clinic_name="Sunrise Clinic") == (
        "Sunrise Clinic: You are unsubscribed and will receive no more messages. "
        "Reply START to resubscribe."
    )


@pytest.mark.parametrize("language", SUPPORTED_LANGUAGES)
def test_compliance_keywords_stay_in_english(language: str) -> None:
    assert "START" in render_reply(ReplyKind.OPT_OUT_CONFIRMATION, language, clinic_name="C")
    opt_in = render_reply(ReplyKind.OPT_IN_CONFIRMATION, language, clinic_name="C")
    assert "STOP" in opt_in and "HELP" in opt_in


@pytest.mark.parametrize(
    ("candidates", "expected"),
    [
        (("es",), "es"),
        (("es-MX",), "es"),
        (("pt_BR",), "pt"),
        (("zh",), "en"),
        ((None, "de"), "de"),
        ((None, None), "en"),
        (("xx", "fr"), "fr"),
        (("",), "en"),
    ],
)
def test_language_falls_back_to_the_next_candidate_then_english(candidates, expected) -> None:
    assert reply_language(*candidates) == expected


def test_an_unknown_language_is_answered_in_english() -> None:
    assert render_reply(ReplyKind.THANK_YOU, "zh", clinic_name="Sunrise Clinic").startswith(
        "Sunrise Clinic: Thank you"
    )


def test_help_gives_the_clinic_phone_or_invites_a_written_question() -> None:
    with_phone = render_reply(ReplyKind.HELP, "en", clinic_name="C", clinic_phone="+1415555")
    without = render_reply(ReplyKind.HELP, "en", clinic_name="C", clinic_phone=None)
    assert "+1415555" in with_phone and "call" in with_phone
    assert "call" not in without and "STOP" in without


def test_the_booking_link_is_required_for_the_booking_reply() -> None:
    assert "https://b.example" in render_reply(
        ReplyKind.BOOKING_LINK, "it", clinic_name="C", booking_link="https://b.example"
    )
    with pytest.raises(MissingReplyValue):
        render_reply(ReplyKind.BOOKING_LINK, "en", clinic_name="C")


def test_a_missing_clinic_name_reads_naturally_in_the_language() -> None:
    assert render_reply(ReplyKind.THANK_YOU, "de", clinic_name=None).startswith(
        GENERIC_CLINIC_NAME["de"] + ":"
    )


def test_braces_in_a_clinic_name_are_not_formatted_again() -> None:
    text = render_reply(
        ReplyKind.THANK_YOU,
        "en",
        clinic_name="{booking_link} Clinic",
        booking_link="https://secret.example",
    )
    assert text.startswith("{booking_link} Clinic:") and "secret" not in text
