"""The automatic answer as a message: its words, language, link, subject and key."""

from __future__ import annotations

from outreach.domain import Channel, ClinicContact
from outreach.replies.actions import ReplyKind, SendReply
from outreach.replies.answers import compose_answer

CLINIC = ClinicContact("org-1", "Sunrise Clinic", "+14155550100", None, "es")
DEFAULT_LINK = "https://portal.clinic.example/book"


def test_a_booking_answer_falls_back_to_the_default_link_and_the_clinics_language() -> None:
    message = compose_answer(
        SendReply(ReplyKind.BOOKING_LINK, Channel.SMS),
        inbound_id=7,
        to="+14152345678",
        patient_language=None,
        contact=CLINIC,
        default_booking_url=DEFAULT_LINK,
    )
    assert DEFAULT_LINK in message.body and message.body.startswith("Sunrise Clinic:")
    assert (message.reference, message.idempotency_key) == ("reply-7", "reply:7:booking_link")
    assert message.subject is None
    assert "+1415" not in repr(message) and "Sunrise" not in repr(message)


def test_the_replys_language_wins_and_an_email_answer_has_a_subject() -> None:
    english = compose_answer(
        SendReply(ReplyKind.THANK_YOU, Channel.EMAIL, "en"),
        inbound_id=8,
        to="ana@example.org",
        patient_language="es",
        contact=CLINIC,
        default_booking_url=DEFAULT_LINK,
    )
    spanish = compose_answer(
        SendReply(ReplyKind.THANK_YOU, Channel.EMAIL),
        inbound_id=8,
        to="ana@example.org",
        patient_language="es",
        contact=None,
        default_booking_url=DEFAULT_LINK,
    )
    assert english.body.startswith("Sunrise Clinic: Thank you") and english.subject == (
        "Sunrise Clinic"
    )
    assert "Gracias" in spanish.body and spanish.subject == "Re:"
