"""Templates that could blow up or crash are refused at save; a render stops at its budget."""

from __future__ import annotations

import time
import tracemalloc

import pytest

from outreach.domain import Channel
from outreach.templating import TemplatePolicyError, TemplateRenderError, find_violations, render
from outreach.templating.budget import MAX_RENDERED_CHARS
from outreach.templating.environment import build_environment
from outreach.templating.seeds import load_seed_templates

from .factories import NOW, record, sms

# The attack that worked: 194 characters of replace filters, 10 MB per render.
REPLACE_CHAIN = "Hi {{ first_name" + "|replace('','xxxxxxxxxx')" * 7 + " }}, see you soon."
EXPLOSIVE = {
    "replace chain": REPLACE_CHAIN,
    "five replaces within the chain limit": "{{ first_name"
    + "|replace('','xxxxxxxxxx')" * 5
    + " }}",
    "long filter chain": "{{ first_name" + "|upper" * 400 + " }}",
    "deep if nesting": "{% if first_name %}" * 300 + "Hi" + "{% endif %}" * 300,
    "moderate if nesting": "{% if first_name %}" * 40 + "Hi" + "{% endif %}" * 40,
    "deep parentheses": "{{ " + "(" * 3000 + "first_name" + ")" * 3000 + " }}",
    "long and/or": "{{ " + " or ".join(["first_name"] * 2000) + " }}",
}


def test_the_replace_chain_is_a_short_template() -> None:
    assert len(REPLACE_CHAIN) < 215


@pytest.mark.parametrize("body", list(EXPLOSIVE.values()), ids=list(EXPLOSIVE))
def test_templates_that_could_blow_up_or_crash_are_refused_at_save(body: str) -> None:
    started = time.perf_counter()
    violations = find_violations(sms(body))
    assert any(v.code.value == "structure" for v in violations), violations
    assert time.perf_counter() - started < 2.0


@pytest.mark.parametrize("body", list(EXPLOSIVE.values()), ids=list(EXPLOSIVE))
def test_sending_such_a_template_is_a_clean_refusal_not_a_recursion_error(body: str) -> None:
    with pytest.raises(TemplatePolicyError):
        render(sms(body), {"first_name": "Ana"}, now=NOW, timezone="UTC", locale=None)


def test_a_render_that_skipped_validation_stops_at_its_budget() -> None:
    template = build_environment(autoescape=False).from_string(REPLACE_CHAIN)
    tracemalloc.start()
    try:
        with pytest.raises(TemplateRenderError, match="over 100,000 characters"):
            template.render(first_name="Ana Maria")
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert peak < 5 * 1024 * 1024


def test_ordinary_filters_and_every_shipped_template_stay_within_the_limits() -> None:
    body = (
        "{{ first_name|default('there')|trim|title }}, "
        "{{ clinic_name|replace('Clinic', 'Centre') }}"
    )
    assert find_violations(sms(body, ("first_name", "clinic_name"))) == ()
    assert all(find_violations(seed) == () for seed in load_seed_templates())


def test_a_long_email_within_the_budget_is_fine_and_one_beyond_it_is_not() -> None:
    paragraph = "<p>" + "Welcome to the clinic. " * 40 + "{{ first_name }}</p>\n"
    fits = record(paragraph * 15, ("first_name",), channel=Channel.EMAIL, subject="Hello")
    assert find_violations(fits) == ()
    too_many = record(
        "{{ first_name }}" * (MAX_RENDERED_CHARS // 1000 + 1),
        ("first_name",),
        channel=Channel.EMAIL,
        subject="Hello",
    )
    assert any("could render up to" in v.message for v in find_violations(too_many))
