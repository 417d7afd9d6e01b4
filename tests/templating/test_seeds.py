"""The shipped seed templates: complete, within policy, and rendering in every language."""

from __future__ import annotations

import uuid
from datetime import timedelta

import pytest

from outreach.domain import Channel, Purpose
from outreach.templating import (
    PortalResource,
    TemplateRecord,
    TemplateRenderer,
    find_violations,
    load_seed_templates,
    make_portal_link,
)
from outreach.templating.sms_limits import SMS_SEGMENT_LIMITS

from .factories import APPOINTMENT, NOW, SECRETS, patient_context

SEEDS = load_seed_templates()
LANGUAGES = ("en", "es", "fr", "pt")
PATIENT_LOCALES = {"en": "en-US", "es": "es-MX", "fr": "fr-FR", "pt": "pt-BR"}


def worst_case_context() -> dict[str, object]:
    """Long accented names (UCS-2) and a one-time portal link with UUIDs: the longest SMS."""
    link = make_portal_link(
        "https://portal.clinic.example",
        "seed-test-secret",
        str(uuid.UUID(int=1)),
        PortalResource(Purpose.LAB_READY, str(uuid.UUID(int=2))),
        timedelta(days=7),
        NOW,
        one_time=True,
    )
    return patient_context(
        first_name="María José",
        clinic_name="Clínica Familiar del Sol",
        clinic_phone="+52 55 1234 5678",
        booking_link="https://portal.clinic.example/book/4f9a2c",
        portal_link=link,
    )


def test_complete_for_every_purpose_channel_and_language() -> None:
    standard = [t for t in SEEDS if t.family is None]
    keys = {(t.language, t.purpose, t.channel) for t in standard}
    assert keys == {(lang, p, c) for lang in LANGUAGES for p in Purpose for c in Channel}
    assert len(standard) == len(keys) == 4 * 7 * 3
    assert len({t.id for t in SEEDS}) == len(SEEDS)
    assert all(t.org_id is None and t.provider_id is None and t.is_active for t in SEEDS)


def test_the_dental_recall_families_cover_every_channel_and_language() -> None:
    """The shipped recall campaign's families: the invitation in variants A and B, the reminder
    in A, on every channel and in every seed language; marketing e-mails carry the link."""
    recall = {(t.family, t.variant, t.language, t.channel) for t in SEEDS if t.family}
    expected = {
        (family, variant, lang, channel)
        for family, variants in (("dental_recall", "AB"), ("dental_recall_reminder", "A"))
        for variant in variants
        for lang in LANGUAGES
        for channel in Channel
    }
    assert recall == expected
    for template in SEEDS:
        if template.family and template.channel is Channel.EMAIL:
            assert "unsubscribe_link" in template.declared_variables, template.id


@pytest.mark.parametrize("template", SEEDS, ids=lambda t: t.id)
def test_every_seed_passes_the_policy(template: TemplateRecord) -> None:
    assert find_violations(template) == ()


@pytest.mark.parametrize("template", SEEDS, ids=lambda t: t.id)
@pytest.mark.parametrize("context_name", ["typical", "worst_case"])
def test_every_seed_renders_within_its_limits(template: TemplateRecord, context_name: str) -> None:
    context = patient_context() if context_name == "typical" else worst_case_context()
    message = TemplateRenderer().render(
        template,
        context,
        now=NOW,
        timezone="America/Mexico_City",
        locale=PATIENT_LOCALES[template.language],
    )
    assert message.body and "{{" not in message.body and "[" not in message.body
    assert not any(secret in message.body for secret in SECRETS)
    if template.channel is Channel.SMS:
        assert message.sms_segments <= SMS_SEGMENT_LIMITS[template.purpose]
    if template.channel is Channel.EMAIL:
        assert message.subject
    if template.channel is Channel.WHATSAPP:
        assert template.whatsapp_template_name
        assert len(message.whatsapp_parameters) == len(template.declared_variables)


def test_typical_sms_in_english_and_french_fit_gsm7() -> None:
    """With plain names, English and French reminders cost one cheap GSM-7 segment."""
    renderer = TemplateRenderer()
    reminders = [
        t
        for t in SEEDS
        if t.channel is Channel.SMS
        and t.purpose is Purpose.APPT_REMINDER
        and t.language in ("en", "fr")
    ]
    assert len(reminders) == 2
    for template in reminders:
        message = renderer.render(
            template, patient_context(), now=NOW, timezone="Europe/Paris", locale="fr"
        )
        assert (message.encoding, message.sms_segments) == ("GSM-7", 1), template.id


@pytest.mark.parametrize(
    "template",
    [t for t in SEEDS if t.channel is Channel.SMS],
    ids=lambda t: t.id,
)
def test_every_sms_carries_an_opt_out_hint(template: TemplateRecord) -> None:
    assert "STOP" in template.body


@pytest.mark.parametrize(
    "template",
    [t for t in SEEDS if t.purpose in (Purpose.LAB_READY, Purpose.RX_REFILL)],
    ids=lambda t: t.id,
)
def test_results_and_prescriptions_only_point_to_the_portal(template: TemplateRecord) -> None:
    assert "portal_link" in template.declared_variables
    clinical = {"lab_result", "lab_test_name", "medication", "medication_dose", "diagnosis"}
    assert not clinical & set(template.declared_variables)


def test_seed_dates_read_naturally() -> None:
    by_id = {t.id: t for t in SEEDS}
    renderer = TemplateRenderer()
    expected = {
        "seed-en-appt_reminder-email": "Reminder: your appointment on Saturday, March 7",
        "seed-es-appt_reminder-email": "Recordatorio: su cita del sábado, 7 de marzo",
        "seed-fr-appt_reminder-email": "Rappel : votre rendez-vous du samedi 7 mars",
        "seed-pt-appt_reminder-email": "Lembrete: sua consulta de sábado, 7 de março",
    }
    for template_id, subject in expected.items():
        template = by_id[template_id]
        message = renderer.render(
            template,
            patient_context(),
            now=NOW,
            timezone="America/Mexico_City",
            locale=template.language,
        )
        assert message.subject == subject
    assert APPOINTMENT.year == NOW.year
