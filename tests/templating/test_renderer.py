"""Send-time rendering: the guarded context, formatting, channel rules and caching."""

from __future__ import annotations

from datetime import UTC, date, datetime, time
from zoneinfo import ZoneInfo

import pytest

from outreach.domain import Channel, Purpose
from outreach.templating import (
    EMAIL_BODY_PHI_POLICY,
    InvalidContextValue,
    MissingTemplateVariable,
    PhiPolicyViolation,
    SmsEncoding,
    SmsSegmentLimitExceeded,
    Surface,
    TemplateRenderer,
    render,
)

from .factories import APPOINTMENT, NOW, SECRETS, patient_context, record, sms

REMINDER = sms(
    "{{ clinic_name }}: Hi {{ first_name }}, see you {{ appointment_date }} at "
    "{{ appointment_time }}. Reply STOP to opt out.",
    ("clinic_name", "first_name", "appointment_date", "appointment_time"),
)


def test_renders_a_reminder_with_identifiers_for_the_job() -> None:
    message = render(
        REMINDER, patient_context(), now=NOW, timezone="America/New_York", locale="en-US"
    )
    assert message.body == (
        "Sunrise Clinic: Hi Ana, see you Saturday, March 7 at 11:30 AM. Reply STOP to opt out."
    )
    assert (message.template_id, message.version, message.variant) == ("t-1", 1, "A")
    assert (message.sms_segments, message.encoding) == (1, SmsEncoding.GSM_7)
    assert "Ana" not in repr(message)


def test_the_guarded_context_holds_no_phi_at_all() -> None:
    renderer = TemplateRenderer()
    context = renderer.guarded_context(
        REMINDER, Surface.BODY, patient_context(), now=NOW, timezone="UTC", locale="en"
    )
    assert set(context) == {"clinic_name", "first_name", "appointment_date", "appointment_time"}
    assert not any(secret in str(value) for value in context.values() for secret in SECRETS)


def test_template_inserted_straight_into_the_database_renders_nothing() -> None:
    bypassed = sms("Hi {{ first_name }}, your diagnosis: {{ diagnosis }}", ("first_name",))
    with pytest.raises(PhiPolicyViolation) as refused:
        render(bypassed, patient_context(), now=NOW, timezone="UTC", locale="en")
    assert any(v.subject == "diagnosis" for v in refused.value.violations)
    assert not any(secret in str(refused.value) for secret in SECRETS)


def test_email_body_phi_reaches_jinja_only_when_the_policy_allows_it() -> None:
    template = record(
        "<p>{{ first_name }}: {{ lab_test_name }}</p>",
        ("first_name", "lab_test_name"),
        channel=Channel.EMAIL,
        subject="Hello {{ first_name }}",
    )
    message = render(
        template,
        patient_context(),
        now=NOW,
        timezone="UTC",
        locale="en",
        policy=EMAIL_BODY_PHI_POLICY,
    )
    assert message.html_body == "<p>Ana: SECRET-TEST-HIV-PCR</p>"
    assert message.body == "Ana: SECRET-TEST-HIV-PCR"
    assert message.subject == "Hello Ana"
    with pytest.raises(PhiPolicyViolation):
        render(template, patient_context(), now=NOW, timezone="UTC", locale="en")


def test_email_bodies_are_escaped_and_subjects_are_one_line() -> None:
    template = record(
        "<p>Hi {{ first_name }}</p>",
        ("first_name",),
        channel=Channel.EMAIL,
        subject="Hi {{ first_name }}",
    )
    hostile = patient_context(first_name="<script>x</script>\r\nBcc: evil@example.com")
    message = render(template, hostile, now=NOW, timezone="UTC", locale="en")
    assert message.html_body is not None
    assert "<script>" not in message.html_body and "&lt;script&gt;" in message.html_body
    # The text part is text: the name as typed, no markup of the template's.
    assert message.body.startswith("Hi <script>x</script>") and "<p>" not in message.body
    assert "\n" not in message.subject and "\r" not in message.subject
    assert message.sms_segments is None and message.encoding is None


@pytest.mark.parametrize(
    ("language", "locale", "zone", "date_text", "time_text"),
    [
        ("en", "en-US", "America/New_York", "Saturday, March 7", "11:30 AM"),
        ("en", "en-GB", "Europe/London", "Saturday, 7 March", "16:30"),
        ("es", "es-ES", "Europe/Madrid", "sábado, 7 de marzo", "17:30"),
        ("es", "es-MX", "America/Mexico_City", "sábado, 7 de marzo", "10:30 a.m."),
        ("fr", "fr-FR", "Europe/Paris", "samedi 7 mars", "17:30"),
        ("pt", "pt-BR", "America/Sao_Paulo", "sábado, 7 de março", "13:30"),
    ],
)
def test_dates_and_times_in_the_patients_zone_and_language(
    language: str, locale: str, zone: str, date_text: str, time_text: str
) -> None:
    template = record(
        "A {{ appointment_date }} B {{ appointment_time }} C",
        ("appointment_date", "appointment_time"),
        channel=Channel.WHATSAPP,
        language=language,
    )
    message = render(template, patient_context(), now=NOW, timezone=zone, locale=locale)
    # CLDR's narrow no-break space stays in WhatsApp and e-mail (only SMS normalises it).
    assert message.body.replace("\u202f", " ") == f"A {date_text} B {time_text} C"
    assert message.whatsapp_parameters == (date_text, time_text)


def test_date_styles_and_the_year_when_it_is_not_this_year() -> None:
    template = sms(
        "{{ appointment_date|format_date('compact') }} / "
        "{{ appointment_date|format_date('short') }} / {{ appointment_date }}",
        ("appointment_date",),
    )
    french = record(template.body, ("appointment_date",), language="fr")
    message = render(
        french,
        patient_context(appointment_date=datetime(2027, 1, 4, 15, tzinfo=UTC)),
        now=NOW,
        timezone="Europe/Paris",
        locale="fr",
    )
    assert message.body == "lun. 4 janv. / 04/01/2027 / lundi 4 janvier 2027"


def test_dates_follow_the_template_language_after_a_fallback() -> None:
    """An English template chosen for a Spanish speaker must not print Spanish dates."""
    template = sms("On {{ appointment_date }}.", ("appointment_date",), language="en")
    message = render(template, patient_context(), now=NOW, timezone="UTC", locale="es-MX")
    assert message.body == "On Saturday, March 7."


def test_plain_dates_times_and_preformatted_strings() -> None:
    template = sms(
        "{{ appointment_date }} {{ appointment_time }}", ("appointment_date", "appointment_time")
    )
    message = render(
        template,
        {"appointment_date": date(2026, 3, 9), "appointment_time": time(8, 5)},
        now=NOW,
        timezone="UTC",
        locale="en",
    )
    assert message.body == "Monday, March 9 8:05 AM"
    message = render(
        template,
        {"appointment_date": "tomorrow", "appointment_time": "noon"},
        now=NOW,
        timezone=ZoneInfo("UTC"),
        locale="en",
    )
    assert message.body == "tomorrow noon"


@pytest.mark.parametrize(
    ("name", "value"),
    [
        ("appointment_date", datetime(2026, 3, 7, 10, 30)),  # naive: which zone?
        ("appointment_time", date(2026, 3, 7)),
        ("first_name", {"nested": "object"}),
        ("first_name", ["a", "list"]),
        ("first_name", True),
    ],
)
def test_untyped_or_structured_values_are_refused(name: str, value: object) -> None:
    template = sms(f"{{{{ {name} }}}}", (name,))
    with pytest.raises(InvalidContextValue) as refused:
        render(template, {name: value}, now=NOW, timezone="UTC", locale="en")
    assert name in str(refused.value)


def test_missing_values_name_the_variable_and_default_covers_optional_ones() -> None:
    with pytest.raises(MissingTemplateVariable) as missing:
        render(REMINDER, {"first_name": "Ana"}, now=NOW, timezone="UTC", locale="en")
    assert "clinic_name" in missing.value.names
    optional = sms(
        "Hi {{ first_name|default('there') }}{% if provider_display_name is defined %}, "
        "{{ provider_display_name }}{% endif %}.",
        ("first_name", "provider_display_name"),
    )
    body = render(optional, {"first_name": None}, now=NOW, timezone="UTC", locale="en").body
    assert body == "Hi there."


def test_sms_typography_is_normalised_to_gsm() -> None:
    template = sms(
        "Hi {{ first_name }} \u2014 it\u2019s at {{ appointment_time }}",
        ("first_name", "appointment_time"),
    )
    message = render(template, patient_context(), now=NOW, timezone="UTC", locale="en-US")
    assert message.body == "Hi Ana - it's at 4:30 PM"
    assert message.encoding is SmsEncoding.GSM_7


def test_over_the_purpose_segment_limit_is_refused_with_a_clear_error() -> None:
    template = sms("{{ first_name }} " + "x" * 400, ("first_name",))
    with pytest.raises(SmsSegmentLimitExceeded) as refused:
        render(template, patient_context(), now=NOW, timezone="UTC", locale="en")
    assert (refused.value.purpose, refused.value.limit) == (Purpose.APPT_REMINDER, 2)
    assert refused.value.segments == 3 and "appt_reminder" in str(refused.value)


def test_whatsapp_parameters_are_one_line_each() -> None:
    template = record(
        "Hi {{ first_name }}, see {{ clinic_name }} soon.",
        ("first_name", "clinic_name"),
        channel=Channel.WHATSAPP,
    )
    context = patient_context(clinic_name="Sunrise\n\tClinic    East")
    message = render(template, context, now=NOW, timezone="UTC", locale="en")
    assert message.whatsapp_parameters == ("Ana", "Sunrise Clinic East")
    with pytest.raises(MissingTemplateVariable):
        render(template, {"first_name": "Ana"}, now=NOW, timezone="UTC", locale="en")


def test_now_must_be_aware() -> None:
    with pytest.raises(Exception, match="timezone-aware"):
        render(REMINDER, patient_context(), now=datetime(2026, 3, 1), timezone="UTC", locale="en")


def test_compiled_templates_are_cached_by_content() -> None:
    renderer = TemplateRenderer()
    for patient in ("Ana", "Bo", "Cy"):
        renderer.render(
            REMINDER, patient_context(first_name=patient), now=NOW, timezone="UTC", locale="en"
        )
    same_text_new_version = sms(REMINDER.body, REMINDER.declared_variables, id="t-2", version=2)
    renderer.render(same_text_new_version, patient_context(), now=NOW, timezone="UTC", locale="en")
    info = renderer._plan.cache_info()
    assert (info.misses, info.hits) == (1, 3)


def test_appointment_constant_is_a_saturday() -> None:
    assert APPOINTMENT.weekday() == 5
