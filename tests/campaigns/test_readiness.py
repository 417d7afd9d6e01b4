"""Whether a campaign's templates let it run, and which channels a step may use."""

from __future__ import annotations

from outreach.campaigns import CampaignDefinition
from outreach.campaigns.readiness import readiness, step_channels
from outreach.domain import Channel, Purpose
from outreach.templating import TemplateRecord, load_seed_templates

EDU = Purpose.CAMPAIGN_EDUCATION
RECALL = [t for t in load_seed_templates() if t.family]


def definition(*steps: dict, **fields: object) -> CampaignDefinition:
    return CampaignDefinition.parse(
        {"org_id": "org", "name": "n", "segment_id": 1, "steps": list(steps), **fields}
    )


def template(
    channel: Channel, body: str, declared: tuple[str, ...], **fields: object
) -> TemplateRecord:
    return TemplateRecord(
        id=str(fields.pop("id", "t9")),
        purpose=EDU,
        channel=channel,
        language=str(fields.pop("language", "en")),
        subject="Hello" if channel is Channel.EMAIL else None,
        body=body,
        declared_variables=declared,
        family=str(fields.pop("family", "promo")),
        **fields,  # type: ignore[arg-type]
    )


def test_the_shipped_recall_is_ready_with_its_a_b_variants() -> None:
    verdict = readiness(
        definition(
            {"template_family": "dental_recall"},
            {"offset_hours": 168, "template_family": "dental_recall_reminder"},
            variants={"A": 50, "B": 50},
        ),
        RECALL,
        "es",
    )
    assert verdict.problems == ()
    # The reminder family has variant A only: variant B's patients get it, and are told so.
    assert verdict.warnings == (
        "step 2: family 'dental_recall_reminder' has no template of variant B; "
        "its patients get variant A's",
    )


def test_a_template_reading_phi_refuses_activation_and_says_which() -> None:
    leaky = template(
        Channel.SMS,
        "Hi {{ first_name }}, about {{ diagnosis }}",
        ("first_name", "diagnosis"),
        id="66",
    )
    verdict = readiness(definition({"template_family": "promo"}), [leaky], None)
    assert verdict.phi and verdict.problems  # declared, and read on line 1: one problem each
    for problem in verdict.problems:
        assert problem.code == "phi_policy_violation" and problem.template_id == "66"
        assert problem.pointer == "/steps/0/template_family" and "diagnosis" in problem.message


def test_a_marketing_email_without_an_unsubscribe_link_is_refused() -> None:
    mail = template(Channel.EMAIL, "<p>Hi {{ first_name }}</p>", ("first_name",), id="5")
    (problem,) = readiness(definition({"template_family": "promo"}), [mail], None).problems
    assert problem.code == "no_unsubscribe_link" and problem.template_id == "5"


def test_a_fixed_channel_needs_a_template_on_it() -> None:
    text = template(Channel.SMS, "Hi {{ first_name }}", ("first_name",))
    verdict = readiness(
        definition({"template_family": "promo", "channel": "whatsapp"}), [text], None
    )
    assert [p.code for p in verdict.problems] == ["missing_template"]
    assert "whatsapp" in verdict.problems[0].message


def test_a_family_only_in_another_language_than_the_fallbacks_is_missing() -> None:
    german = template(Channel.SMS, "Hallo {{ first_name }}", ("first_name",), language="de")
    assert [
        p.code for p in readiness(definition({"template_family": "promo"}), [german], None).problems
    ] == ["missing_template"]
    assert readiness(definition({"template_family": "promo"}), [german], "de").problems == ()


def test_a_step_uses_the_channels_its_family_covers_cleanly() -> None:
    text = template(Channel.SMS, "Hi {{ first_name }}", ("first_name",), id="1")
    leaky = template(Channel.EMAIL, "{{ medication }}", ("medication",), id="2")
    chosen = step_channels(definition({"template_family": "promo"}), 0, [text, leaky])
    assert chosen.usable == {Channel.SMS} and chosen.refused == {Channel.EMAIL}
    fixed = step_channels(
        definition({"template_family": "promo", "channel": "email"}), 0, [text, leaky]
    )
    assert fixed.usable == frozenset() and fixed.refused == {Channel.EMAIL}
