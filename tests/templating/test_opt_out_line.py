"""Every marketing SMS says how to stop it, in the message's language."""

from __future__ import annotations

import pytest

from outreach.domain import Purpose
from outreach.templating import TemplateRenderer, opt_out_line, with_opt_out_line

from .factories import NOW, patient_context, sms


@pytest.mark.parametrize(
    ("language", "line"),
    [
        ("en", "Reply STOP to opt out."),
        ("es-MX", "Responda STOP para darse de baja."),
        ("fr", "Répondez STOP pour vous désabonner."),
        ("pt_BR", "Responda STOP para cancelar."),
        ("de", "Antworten Sie STOP zum Abmelden."),
        ("ja", "Reply STOP to opt out."),
        (None, "Reply STOP to opt out."),
    ],
)
def test_the_line_follows_the_language(language: str | None, line: str) -> None:
    assert opt_out_line(language) == line


def test_a_body_naming_stop_keeps_its_own_wording() -> None:
    assert with_opt_out_line("News! STOP para baja.", "es") == "News! STOP para baja."
    assert with_opt_out_line("Don't stop believing", "en").endswith("Reply STOP to opt out.")


def test_a_marketing_sms_gets_the_line_and_its_segments_count_it() -> None:
    renderer = TemplateRenderer()
    promo = sms(
        "Bonjour {{ first_name }}, nouveautés au cabinet.",
        purpose=Purpose.CAMPAIGN_EDUCATION,
        language="fr",
    )
    message = renderer.render(
        promo, patient_context(), now=NOW, timezone="Europe/Paris", locale="fr"
    )
    assert message.body == "Bonjour Ana, nouveautés au cabinet. Répondez STOP pour vous désabonner."
    preview = renderer.preview(promo, now=NOW)
    assert preview.body.endswith("Répondez STOP pour vous désabonner.")


def test_transactional_sms_are_left_alone() -> None:
    reminder = sms("Hi {{ first_name }}, see you tomorrow.")
    message = TemplateRenderer().render(
        reminder, patient_context(), now=NOW, timezone="UTC", locale="en"
    )
    assert message.body == "Hi Ana, see you tomorrow."
