"""WhatsApp: free text inside the 24-hour window, the approved template outside it."""

from __future__ import annotations

from datetime import timedelta

import pytest

from outreach.domain import Channel
from outreach.templating import (
    WhatsAppTemplateMessage,
    WhatsAppTemplateRequired,
    WhatsAppTextMessage,
    render,
    whatsapp_payload,
    window_is_open,
)
from outreach.templating.whatsapp_rules import whatsapp_language_code

from .factories import NOW, patient_context, record

TEMPLATE = record(
    "Hi {{ first_name }}, your appointment at {{ clinic_name }} is on {{ appointment_date }}.",
    ("first_name", "clinic_name", "appointment_date"),
    channel=Channel.WHATSAPP,
    language="es-MX",
    whatsapp_template_name="outreach_appt_reminder_v1",
)


def rendered():
    return render(TEMPLATE, patient_context(), now=NOW, timezone="UTC", locale="es-MX")


def test_outside_the_window_the_approved_template_is_used() -> None:
    payload = whatsapp_payload(TEMPLATE, rendered(), None, None, NOW)
    assert payload == WhatsAppTemplateMessage(
        name="outreach_appt_reminder_v1",
        language="es_MX",
        parameters=("Ana", "Sunrise Clinic", "sábado, 7 de marzo"),
    )
    stale = NOW - timedelta(hours=24)
    assert isinstance(
        whatsapp_payload(TEMPLATE, rendered(), None, stale, NOW), WhatsAppTemplateMessage
    )


def test_inside_the_window_free_text_is_sent() -> None:
    message = rendered()
    payload = whatsapp_payload(TEMPLATE, message, None, NOW - timedelta(hours=23, minutes=59), NOW)
    assert payload == WhatsAppTextMessage(message.body)
    assert "Ana" not in repr(payload)


def test_a_future_inbound_timestamp_does_not_open_the_window() -> None:
    assert not window_is_open(NOW + timedelta(minutes=5), NOW)
    assert window_is_open(NOW, NOW)


def test_outside_the_window_without_an_approved_name_is_an_error() -> None:
    unnamed = record(TEMPLATE.body, TEMPLATE.declared_variables, channel=Channel.WHATSAPP)
    message = render(unnamed, patient_context(), now=NOW, timezone="UTC", locale="en")
    with pytest.raises(WhatsAppTemplateRequired):
        whatsapp_payload(unnamed, message, None, None, NOW)
    assert isinstance(
        whatsapp_payload(unnamed, message, None, NOW - timedelta(hours=1), NOW),
        WhatsAppTextMessage,
    )


def test_mismatched_inputs_are_refused() -> None:
    with pytest.raises(ValueError):
        whatsapp_payload(TEMPLATE, rendered(), ("only one",), None, NOW)
    other = record("Hi {{ first_name }}!", ("first_name",), channel=Channel.WHATSAPP, id="t-9")
    with pytest.raises(ValueError):
        whatsapp_payload(other, rendered(), None, None, NOW)


@pytest.mark.parametrize(
    ("language", "code"), [("es-MX", "es_MX"), ("en", "en"), ("pt_br", "pt_BR"), ("FR", "fr")]
)
def test_language_codes(language: str, code: str) -> None:
    assert whatsapp_language_code(language) == code
