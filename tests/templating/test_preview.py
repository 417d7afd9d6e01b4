"""Staff previews: PHI always masked, missing samples as placeholders, the policy enforced."""

from __future__ import annotations

import pytest

from outreach.domain import Channel
from outreach.templating import (
    EMAIL_BODY_PHI_POLICY,
    PhiPolicyViolation,
    SmsEncoding,
    TemplateRenderer,
    preview,
)

from .factories import NOW, SECRETS, patient_context, record, sms

EMAIL_WITH_PHI = record(
    "<p>Hi {{ first_name }}, your {{ lab_test_name }} result: {{ lab_result }}</p>",
    ("first_name", "lab_test_name", "lab_result", "clinic_name"),
    channel=Channel.EMAIL,
    subject="Results from {{ clinic_name }}",
)


def test_preview_masks_phi_an_org_allows_on_email_bodies() -> None:
    shown = preview(EMAIL_WITH_PHI, patient_context(), now=NOW, policy=EMAIL_BODY_PHI_POLICY)
    assert shown.body == "<p>Hi Ana, your [lab_test_name] result: [lab_result]</p>"
    assert shown.subject == "Results from Sunrise Clinic"
    assert set(shown.masked_variables) == {"lab_test_name", "lab_result"}
    assert not any(secret in shown.body for secret in SECRETS)


def test_preview_without_samples_shows_placeholders() -> None:
    shown = TemplateRenderer(EMAIL_BODY_PHI_POLICY).preview(EMAIL_WITH_PHI, now=NOW)
    assert shown.body == "<p>Hi [first_name], your [lab_test_name] result: [lab_result]</p>"
    assert shown.subject == "Results from [clinic_name]"
    assert set(shown.placeholder_variables) == {"first_name", "clinic_name"}


def test_preview_still_refuses_phi_where_the_policy_forbids_it() -> None:
    with pytest.raises(PhiPolicyViolation):
        preview(EMAIL_WITH_PHI, patient_context(), now=NOW)
    with pytest.raises(PhiPolicyViolation):
        preview(sms("{{ diagnosis }}", ("diagnosis",)), patient_context(), now=NOW)


def test_sms_preview_reports_cost_instead_of_raising() -> None:
    long_sms = sms("Hi {{ first_name }} " + "é" * 300, ("first_name",))
    shown = preview(long_sms, {"first_name": "Ana"}, now=NOW)
    assert shown.encoding is SmsEncoding.GSM_7
    assert shown.sms_segments == 3 and shown.segment_limit == 2
    assert not shown.within_segment_limit


def test_preview_formats_sample_dates_in_the_requested_zone() -> None:
    template = sms("On {{ appointment_date }}", ("appointment_date",), language="fr")
    shown = preview(template, patient_context(), now=NOW, timezone="Europe/Paris")
    assert shown.body == "On samedi 7 mars"
