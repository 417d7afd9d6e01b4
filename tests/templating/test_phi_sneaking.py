"""Ways to get a PHI variable into an SMS: every one is refused at save time, and none leaks at
send time even when save-time validation is skipped entirely."""

from __future__ import annotations

import pytest

from outreach.templating import (
    PhiPolicyViolation,
    TemplatePolicyError,
    TemplatingError,
    ViolationCode,
    render,
    validate_template,
)
from outreach.templating import renderer as renderer_module

from .factories import NOW, SECRETS, patient_context, sms

# (id, body, declared variables, subjects that must appear among the violations)
SNEAKS: list[tuple[str, str, tuple[str, ...], set[str]]] = [
    ("plain", "{{ diagnosis }}", ("diagnosis",), {"diagnosis"}),
    ("plain-undeclared", "Hi {{ first_name }} {{ diagnosis }}", ("first_name",), {"diagnosis"}),
    (
        "other-phi-names",
        "{{ mrn }} {{ date_of_birth }} {{ lab_result }}",
        (),
        {"mrn", "lab_result"},
    ),
    ("filter", "{{ diagnosis|upper }}", (), {"diagnosis"}),
    ("filter-default", "{{ first_name|default(diagnosis) }}", ("first_name",), {"diagnosis"}),
    ("attribute", "{{ patient.diagnosis }}", (), {"patient.diagnosis", "patient"}),
    ("item", "{{ patient['diagnosis'] }}", (), {"patient['diagnosis']"}),
    ("attr-filter", "{{ first_name|attr('diagnosis') }}", ("first_name",), {"|attr"}),
    ("attr-concat", "{{ patient|attr('diag' ~ 'nosis') }}", (), {"|attr", "attr(...)"}),
    ("map-attribute", "{{ patients|map(attribute='diagnosis')|join }}", (), {"|map", "|join"}),
    ("selectattr", "{{ patients|selectattr('diagnosis')|list }}", (), {"|selectattr"}),
    ("set", "{% set x = diagnosis %}{{ x }}", (), {"{% set %}", "diagnosis"}),
    ("set-block", "{% set x %}{{ diagnosis }}{% endset %}{{ x }}", (), {"{% set %} block"}),
    (
        "macro",
        "{% macro m(v) %}{{ v }}{% endmacro %}{{ m(diagnosis) }}",
        (),
        {"{% macro %}", "m()", "diagnosis"},
    ),
    (
        "call-block",
        "{% macro m() %}{{ caller() }}{% endmacro %}{% call m() %}{{ diagnosis }}{% endcall %}",
        (),
        {"{% call %}", "diagnosis"},
    ),
    (
        "macro-varargs",
        "{% macro m() %}{{ varargs }}{% endmacro %}{{ m(diagnosis) }}",
        (),
        {"varargs", "diagnosis"},
    ),
    (
        "macro-kwargs",
        "{% macro m() %}{{ kwargs }}{% endmacro %}{{ m(x=diagnosis) }}",
        (),
        {"kwargs", "diagnosis"},
    ),
    ("include", "{% include 'phi.txt' %}", (), {"{% include %}"}),
    ("import", "{% import 'phi.txt' as p %}{{ p.diagnosis }}", (), {"{% import %}"}),
    ("from-import", "{% from 'phi.txt' import dx %}{{ dx }}", (), {"{% from ... import %}"}),
    ("extends", "{% extends 'base.txt' %}", (), {"{% extends %}"}),
    ("block", "{% block b %}{{ diagnosis }}{% endblock %}", (), {"{% block %}"}),
    ("tilde-concat", "{{ first_name ~ diagnosis }}", ("first_name",), {"diagnosis"}),
    ("plus-concat", "{{ first_name + diagnosis }}", ("first_name",), {"arithmetic (+)"}),
    ("percent-format", "{{ '%s' % diagnosis }}", (), {"% formatting", "diagnosis"}),
    ("format-filter", "{{ '%s'|format(diagnosis) }}", (), {"|format"}),
    ("str-format", "{{ '{0}'.format(diagnosis) }}", (), {"'{0}'.format()"}),
    ("loop-self", "{% for k in self %}{{ k }}{% endfor %}", (), {"{% for %}", "self"}),
    ("loop-context", "{% for v in patients %}{{ v }}{% endfor %}", (), {"{% for %}"}),
    ("self-block", "{{ self.b() }}", (), {"self"}),
    (
        "namespace",
        "{% set ns = namespace(v=diagnosis) %}{{ ns.v }}",
        (),
        {"namespace", "diagnosis"},
    ),
    ("cycler", "{{ cycler(diagnosis).next() }}", (), {"cycler", "diagnosis"}),
    ("joiner", "{{ joiner(diagnosis)() }}", (), {"joiner"}),
    ("lipsum", "{{ lipsum(1) }}", (), {"lipsum"}),
    ("range", "{{ range(3)|list }}", (), {"range"}),
    ("loop-var", "{{ loop.cycle(diagnosis) }}", (), {"loop"}),
    ("dict-literal", "{{ {'a': diagnosis}['a'] }}", (), {"dict literal"}),
    ("list-literal", "{{ [diagnosis]|first }}", (), {"list literal", "|first"}),
    ("tuple-literal", "{{ (first_name, diagnosis)|last }}", ("first_name",), {"tuple literal"}),
    ("with", "{% with x = diagnosis %}{{ x }}{% endwith %}", (), {"{% with %}"}),
    ("filter-block", "{% filter upper %}{{ diagnosis }}{% endfilter %}", (), {"{% filter %}"}),
    (
        "autoescape-block",
        "{% autoescape false %}{{ diagnosis }}{% endautoescape %}",
        (),
        {"{% autoescape %}"},
    ),
    ("if-side-channel", "{% if diagnosis == 'HIV' %}call us{% endif %}", (), {"diagnosis"}),
    ("condexpr", "{{ 'see portal' if diagnosis else '' }}", (), {"diagnosis"}),
    ("test-argument", "{{ first_name is defined(diagnosis) }}", ("first_name",), {"diagnosis"}),
    (
        "filter-arg-name",
        "{{ first_name|replace('A', diagnosis) }}",
        ("first_name",),
        {"replace(...)"},
    ),
    (
        "filter-star-args",
        "{{ first_name|truncate(*patients) }}",
        ("first_name",),
        {"truncate(*...)"},
    ),
    ("slice", "{{ diagnosis[0:3] }}", (), {"diagnosis['...']", "slice"}),
    ("unary", "{{ -diagnosis }}", (), {"unary minus"}),
    ("dunder-class-mro", "{{ ''.__class__.__mro__[1].__subclasses__() }}", (), {"''.__class__"}),
    (
        "dunder-globals",
        "{{ first_name.__init__.__globals__ }}",
        ("first_name",),
        {"first_name.__init__"},
    ),
    ("attr-dunder", "{{ first_name|attr('__class__') }}", ("first_name",), {"|attr"}),
    ("tojson", "{{ patient|tojson }}", (), {"|tojson"}),
    ("dictsort", "{{ patient|dictsort }}", (), {"|dictsort"}),
    ("unicode-lookalike", "{{ dіagnosis }}", (), {"dіagnosis"}),  # Cyrillic і
    (
        "nested-if",
        "{% if first_name %}{% if true %}{{ diagnosis }}{% endif %}{% endif %}",
        ("first_name",),
        {"diagnosis"},
    ),
    ("declared-only", "Hi {{ first_name }}", ("first_name", "diagnosis"), {"diagnosis"}),
    ("whitespace-control", "{{- diagnosis -}}", (), {"diagnosis"}),
    ("syntax-trick", "{{ diagnosis }", (), {"syntax"}),
]


def test_the_table_is_big_enough() -> None:
    assert len(SNEAKS) >= 20
    assert len({case[0] for case in SNEAKS}) == len(SNEAKS)


@pytest.mark.parametrize(
    ("body", "declared", "subjects"), [c[1:] for c in SNEAKS], ids=[c[0] for c in SNEAKS]
)
def test_refused_at_save_time(body: str, declared: tuple[str, ...], subjects: set[str]) -> None:
    with pytest.raises(TemplatePolicyError) as refused:
        validate_template(sms(body, declared))
    found = {violation.subject for violation in refused.value.violations}
    assert subjects & found, f"expected one of {subjects}, got {found}"
    for violation in refused.value.violations:
        assert violation.channel == "sms"
        assert violation.message


@pytest.mark.parametrize(("body", "declared"), [c[1:3] for c in SNEAKS], ids=[c[0] for c in SNEAKS])
def test_refused_at_send_time(body: str, declared: tuple[str, ...]) -> None:
    """A row written straight into the database: render re-validates and renders nothing."""
    with pytest.raises(TemplatePolicyError):
        render(sms(body, declared), patient_context(), now=NOW, timezone="UTC", locale="en")


@pytest.mark.parametrize(("body", "declared"), [c[1:3] for c in SNEAKS], ids=[c[0] for c in SNEAKS])
def test_no_leak_even_with_validation_switched_off(
    body: str, declared: tuple[str, ...], monkeypatch: pytest.MonkeyPatch
) -> None:
    """Second wall: with the analysis bypassed, the context and sandbox still hold no PHI."""
    monkeypatch.setattr(renderer_module, "find_violations", lambda record, policy: ())
    renderer = renderer_module.TemplateRenderer()
    try:
        message = renderer.render(
            sms(body, declared), patient_context(), now=NOW, timezone="UTC", locale="en"
        )
    except TemplatingError:
        return
    assert not any(secret in message.body for secret in SECRETS)


def test_a_bare_phi_read_is_a_phi_violation_naming_line_and_channel() -> None:
    template = sms("Hi {{ first_name }},\nyour result: {{ lab_result }}", ("first_name",))
    with pytest.raises(PhiPolicyViolation) as refused:
        validate_template(template)
    phi = [v for v in refused.value.violations if v.code is ViolationCode.PHI_NOT_ALLOWED]
    assert [(v.subject, v.line, v.channel, v.surface) for v in phi] == [
        ("lab_result", 2, "sms", "body")
    ]
    assert "lab_result" in str(refused.value) and "line 2" in str(refused.value)


@pytest.mark.parametrize(
    "body",
    [
        "Hi {{ first_name }} {# {{ diagnosis }} is only a comment #}",
        "Hi {% raw %}{{ diagnosis }}{% endraw %}",  # literal text, nothing is read
        "Hi {{ first_name|default('there')|title }}",
        "{% if first_name is defined %}Hi {{ first_name }}{% else %}Hello{% endif %}",
    ],
)
def test_harmless_lookalikes_are_allowed(body: str) -> None:
    """The gate judges what a template reads, not what its text looks like."""
    validate_template(sms(body, ("first_name",)))
