"""Save-time validation: what is refused, and that the report names variable, line and surface."""

from __future__ import annotations

import pytest

from outreach.domain import Channel, Purpose
from outreach.templating import (
    DEFAULT_PHI_POLICY,
    EMAIL_BODY_PHI_POLICY,
    PhiPolicyViolation,
    Sensitivity,
    Surface,
    TemplatePolicyError,
    ViolationCode,
    find_violations,
    validate_template,
)

from .factories import record, sms


def codes(template, policy=DEFAULT_PHI_POLICY) -> set[tuple[ViolationCode, str]]:
    return {(v.code, v.subject) for v in find_violations(template, policy)}


def test_a_minimum_necessary_sms_passes() -> None:
    validate_template(
        sms(
            "{{ clinic_name }}: Hi {{ first_name|title }}, see you {{ appointment_date }} at "
            "{{ appointment_time|format_time }}. Reply STOP to opt out.",
            ("clinic_name", "first_name", "appointment_date", "appointment_time"),
        )
    )


def test_unknown_variables_fail_closed() -> None:
    found = codes(sms("Hi {{ nickname }}", ("nickname",)))
    assert (ViolationCode.UNKNOWN_VARIABLE, "nickname") in found


def test_used_but_not_declared() -> None:
    found = codes(sms("Hi {{ first_name }} from {{ clinic_name }}", ("first_name",)))
    assert found == {(ViolationCode.UNDECLARED_VARIABLE, "clinic_name")}


def test_every_registered_phi_variable_is_refused_in_an_sms() -> None:
    phi = [n for n, s in DEFAULT_PHI_POLICY.registry.items() if s.sensitivity is Sensitivity.PHI]
    assert {"diagnosis", "medication", "date_of_birth", "mrn", "insurance_id"} <= set(phi)
    for name in phi:
        with pytest.raises(PhiPolicyViolation):
            validate_template(sms(f"{{{{ {name} }}}}", (name,)))


def test_email_subject_is_restricted_and_reports_its_surface() -> None:
    template = record(
        "<p>Hi {{ first_name }}</p>",
        ("first_name", "appointment_reason"),
        channel=Channel.EMAIL,
        subject="About your {{ appointment_reason }}",
    )
    with pytest.raises(PhiPolicyViolation) as refused:
        validate_template(template, EMAIL_BODY_PHI_POLICY)
    subject_hits = [v for v in refused.value.violations if v.surface is Surface.SUBJECT]
    assert [(v.subject, v.line, v.channel) for v in subject_hits] == [
        ("appointment_reason", 1, Channel.EMAIL)
    ]


def test_email_body_is_minimum_necessary_by_default_but_policy_is_data() -> None:
    template = record(
        "<p>Hi {{ first_name }}</p>\n<p>{{ lab_test_name }} is back.</p>",
        ("first_name", "lab_test_name"),
        channel=Channel.EMAIL,
        subject="Your result is ready",
    )
    with pytest.raises(PhiPolicyViolation) as refused:
        validate_template(template)
    assert any(v.subject == "lab_test_name" and v.line == 2 for v in refused.value.violations)
    validate_template(template, EMAIL_BODY_PHI_POLICY)  # an organisation allowed it


def test_the_org_policy_never_opens_sms() -> None:
    with pytest.raises(PhiPolicyViolation):
        validate_template(sms("{{ diagnosis }}", ("diagnosis",)), EMAIL_BODY_PHI_POLICY)


def test_structure_rules() -> None:
    no_subject = record("<p>Hi</p>", (), channel=Channel.EMAIL, subject=None)
    assert (ViolationCode.STRUCTURE, "subject") in codes(no_subject)
    sms_with_subject = sms("Hi", (), subject="Hello")
    assert (ViolationCode.STRUCTURE, "subject") in codes(sms_with_subject)
    assert (ViolationCode.STRUCTURE, "body") in codes(sms("   ", ()))
    assert (ViolationCode.STRUCTURE, "declared_variables") in codes(
        sms("{{ first_name }}", ("first_name", "first_name"))
    )
    assert (ViolationCode.STRUCTURE, "length") in codes(sms("x" * 20_001, ()))


def test_whatsapp_declaration_order_is_the_parameter_order() -> None:
    body = "Hi {{ first_name }}, see you at {{ clinic_name }} soon."
    ok = record(body, ("first_name", "clinic_name"), channel=Channel.WHATSAPP)
    validate_template(ok)
    swapped = record(body, ("clinic_name", "first_name"), channel=Channel.WHATSAPP)
    assert (ViolationCode.STRUCTURE, "declared_variables") in codes(swapped)


def test_whatsapp_body_may_not_start_or_end_with_a_parameter() -> None:
    template = record("Hi, call {{ clinic_phone }}", ("clinic_phone",), channel=Channel.WHATSAPP)
    assert (ViolationCode.STRUCTURE, "body") in codes(template)


@pytest.mark.parametrize(
    ("body", "code"),
    [
        ("{{ appointment_date|format_date('yyyy') }}", ViolationCode.BAD_ARGUMENT),
        ("{{ appointment_time|format_time('full') }}", ViolationCode.BAD_ARGUMENT),
        ("{{ first_name|safe }}", ViolationCode.FORBIDDEN_FILTER),
        ("{{ first_name is string }}", ViolationCode.FORBIDDEN_FILTER),
        ("{% if first_name > 'A' %}x{% endif %}", ViolationCode.FORBIDDEN_CONSTRUCT),
        ("{% if first_name %}", ViolationCode.SYNTAX_ERROR),
    ],
)
def test_whitelist_details(body: str, code: ViolationCode) -> None:
    declared = ("first_name", "appointment_date", "appointment_time")
    found = find_violations(sms(body, declared))
    assert code in {v.code for v in found}
    assert all(v.line == 1 for v in found if v.code is code)


def test_policy_error_is_not_a_phi_error_when_no_phi_is_involved() -> None:
    with pytest.raises(TemplatePolicyError) as refused:
        validate_template(sms("{{ first_name.upper() }}", ("first_name",)))
    assert not isinstance(refused.value, PhiPolicyViolation)


def test_purpose_and_channel_strings_from_a_row_are_coerced() -> None:
    template = record("Hi {{ first_name }}", ["first_name"], channel="sms", purpose="no_show")  # type: ignore[arg-type]
    assert template.channel is Channel.SMS and template.purpose is Purpose.NO_SHOW
    assert template.declared_variables == ("first_name",)
    validate_template(template)
