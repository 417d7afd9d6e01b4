"""A job becomes its message: the family's active template or the version a request pinned, with
the caller's variables filling only what the engine itself does not know."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from outreach.channels.message_builder import (
    MessageBuilder,
    MessageBuildError,
    PortalSettings,
    TemplateCatalog,
)
from outreach.domain import Channel, ClinicContact, JobRecord, JobStatus, Purpose
from outreach.preferences import ConsentState, PatientLayers, PreferenceLayer, resolve_patient
from outreach.templating import UnsubscribeClaim, load_seed_templates, verify_unsubscribe_token
from tests.templating.factories import sms

NOW = datetime(2026, 3, 2, 15, 0, tzinfo=UTC)
ACTIVE = sms("Hi {{ first_name }}, your results are in.", purpose=Purpose.LAB_READY, id="1")
PINNED = sms(
    "Hi {{ first_name }}: {{ opt_out_text }}",
    ("first_name", "opt_out_text"),
    purpose=Purpose.LAB_READY,
    id="2",
    version=2,
    is_active=False,
)
OTHER_PURPOSE = sms("Hi {{ first_name }}", purpose=Purpose.NO_SHOW, id="3")


def builder() -> MessageBuilder:
    versions = {int(r.id): r for r in (ACTIVE, PINNED, OTHER_PURPOSE)}
    catalog = TemplateCatalog(lambda: [ACTIVE], versions.get)
    return MessageBuilder(
        catalog,
        PortalSettings("https://portal.example", None, timedelta(days=1)),
        "https://portal.example/book",
    )


def job(**context: object) -> JobRecord:
    return JobRecord(
        id=7,
        idempotency_key="e1:lab_ready:request",
        org_id="org",
        patient_id="p1",
        provider_id=None,
        appointment_id=None,
        campaign_id=None,
        purpose=Purpose.LAB_READY,
        channel=Channel.SMS,
        status=JobStatus.PROCESSING,
        attempt=1,
        scheduled_for=NOW,
        deadline=None,
        language="en",
        variant=None,
        context=context,
    )


PATIENT = resolve_patient(
    PatientLayers(
        patient_id="p1",
        org_id="org",
        provider_id=None,
        org=None,
        provider=None,
        own=PreferenceLayer(phone="+12125550147", timezone="America/New_York", language="en"),
        consent=ConsentState(contact_granted=True, granted_at=NOW - timedelta(days=1)),
        failed_channels=frozenset(),
        first_name="Ana",
    )
)
CLINIC = ClinicContact("org", "Sunrise Clinic", "+12125550100", None, "en")


def test_the_active_version_is_used_when_nothing_is_pinned() -> None:
    message, template_id = builder().build(job(), PATIENT, CLINIC, NOW)
    assert message.body == "Hi Ana, your results are in." and template_id == 1


def test_a_pinned_version_is_used_even_when_inactive_and_variables_fill_the_gaps() -> None:
    variables = {"opt_out_text": "Reply STOP to opt out.", "first_name": "Mallory"}
    message, template_id = builder().build(
        job(template_id=2, variables=variables), PATIENT, CLINIC, NOW
    )
    # The caller's first_name does not replace the patient's own.
    assert message.body == "Hi Ana: Reply STOP to opt out." and template_id == 2


def test_a_pinned_version_of_another_purpose_or_unknown_refuses_the_job() -> None:
    with pytest.raises(MessageBuildError, match="does not fit"):
        builder().build(job(template_id=3), PATIENT, CLINIC, NOW)
    with pytest.raises(MessageBuildError, match="does not fit"):
        builder().build(job(template_id=99), PATIENT, CLINIC, NOW)


RECALL = [t for t in load_seed_templates() if t.family == "dental_recall"]
EMAIL_PATIENT = resolve_patient(
    PatientLayers(
        patient_id="p1",
        org_id="org",
        provider_id=None,
        org=None,
        provider=None,
        own=PreferenceLayer(email="ana@example.com", timezone="America/New_York", language="en"),
        consent=ConsentState(contact_granted=True, granted_at=NOW - timedelta(days=1)),
        failed_channels=frozenset(),
        first_name="Ana",
    )
)


def campaign_builder(secret: str | None) -> MessageBuilder:
    return MessageBuilder(
        TemplateCatalog(lambda: RECALL),
        PortalSettings("https://portal.example", secret, timedelta(days=1)),
        "https://portal.example/book",
        api_base_url="https://api.example",
    )


def campaign_job(channel: Channel, variant: str) -> JobRecord:
    return JobRecord(
        id=41,
        idempotency_key="campaign:9:p1:step-0",
        org_id="org",
        patient_id="p1",
        provider_id=None,
        appointment_id=None,
        campaign_id=9,
        purpose=Purpose.CAMPAIGN_EDUCATION,
        channel=channel,
        status=JobStatus.PROCESSING,
        attempt=1,
        scheduled_for=NOW,
        deadline=None,
        language="en",
        variant=variant,
        context={"template_family": "dental_recall", "campaign_step": 0},
    )


def test_a_campaign_job_renders_its_family_in_its_variant() -> None:
    builder = campaign_builder("secret")
    a, _ = builder.build(campaign_job(Channel.EMAIL, "A"), EMAIL_PATIENT, CLINIC, NOW)
    b, _ = builder.build(campaign_job(Channel.EMAIL, "B"), EMAIL_PATIENT, CLINIC, NOW)
    assert a.subject == "Time for your check-up at Sunrise Clinic"
    assert b.subject == "Ana, your check-up is due"


def test_a_marketing_email_carries_its_signed_unsubscribe_link_in_body_and_headers() -> None:
    message, _ = campaign_builder("secret").build(
        campaign_job(Channel.EMAIL, "A"), EMAIL_PATIENT, CLINIC, NOW
    )
    assert message.unsubscribe_url is not None
    token = message.unsubscribe_url.removeprefix("https://api.example/api/v1/unsubscribe/")
    assert verify_unsubscribe_token(token, "secret") == UnsubscribeClaim("p1", Channel.EMAIL, 9, 41)
    assert message.unsubscribe_url in message.body


def test_without_a_signing_secret_no_marketing_email_is_built() -> None:
    with pytest.raises(MessageBuildError, match="unsubscribe link"):
        campaign_builder(None).build(campaign_job(Channel.EMAIL, "A"), EMAIL_PATIENT, CLINIC, NOW)


def test_other_messages_carry_no_unsubscribe_header() -> None:
    message, _ = builder().build(job(), PATIENT, CLINIC, NOW)
    assert message.unsubscribe_url is None
