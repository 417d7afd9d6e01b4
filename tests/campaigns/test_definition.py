"""Campaign definitions: what holds together is accepted, and each problem names its field."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest

from outreach.campaigns import (
    CampaignDefinition,
    CampaignDefinitionError,
    Condition,
)
from outreach.domain import Channel, Purpose


def document(**overrides: Any) -> dict[str, Any]:
    base: dict[str, Any] = {
        "org_id": "org-1",
        "name": "Recall",
        "segment_id": 3,
        "steps": [
            {"offset_hours": 0, "template_family": "dental_recall"},
            {
                "offset_hours": 168,
                "template_family": "dental_recall_reminder",
                "channel": "sms",
            },
        ],
    }
    return base | overrides


def problems(**overrides: Any) -> dict[str, str]:
    with pytest.raises(CampaignDefinitionError) as caught:
        CampaignDefinition.parse(document(**overrides))
    return {p.pointer: p.message for p in caught.value.problems}


def test_a_minimal_definition_gets_the_defaults() -> None:
    definition = CampaignDefinition.parse(document())
    assert definition.purpose is Purpose.CAMPAIGN_EDUCATION
    assert definition.variants == {"A": 100}
    assert definition.exit_on == {Condition.BOOKED, Condition.REPLIED_STOP}
    assert definition.holdout_percent == 0 and not definition.recurring
    assert definition.steps[0].channel is None
    assert definition.steps[1].channel is Channel.SMS
    assert definition.steps[1].offset == timedelta(days=7)
    assert definition.template_families == ("dental_recall", "dental_recall_reminder")


def test_the_stored_form_parses_back_to_the_same_definition() -> None:
    definition = CampaignDefinition.parse(
        document(
            variants={"A": 1, "B": 3},
            holdout_percent=5,
            exit_on=["clicked"],
            starts_at="2027-01-04T09:00:00+00:00",
        )
    )
    stored = {
        "org_id": definition.org_id,
        "name": definition.name,
        "segment_id": definition.segment_id,
        "steps": definition.steps_json(),
        "variants": dict(definition.variants),
        "holdout_percent": definition.holdout_percent,
        "exit_on": [c.value for c in definition.exit_on],
        "starts_at": definition.starts_at,
    }
    assert CampaignDefinition.parse(stored) == definition


@pytest.mark.parametrize(
    ("overrides", "pointer", "words"),
    [
        ({"steps": []}, "/steps", "at least one step"),
        ({"segment_id": "3"}, "/segment_id", "positive integer"),
        ({"purpose": "urgent"}, "/purpose", "never urgent"),
        ({"holdout_percent": 0.5}, "/holdout_percent", "from 1 to 15"),
        ({"holdout_percent": 20}, "/holdout_percent", "from 1 to 15"),
        ({"variants": {"A": 0}}, "/variants", "add up to zero"),
        ({"variants": {"A": -1}}, "/variants/A", "integer from 0"),
        ({"variants": {"a b": 1}}, "/variants/a b", "variant name"),
        ({"exit_on": ["booked", "married"]}, "/exit_on/1", "one of"),
        ({"starts_at": "2027-01-04T09:00:00"}, "/starts_at", "time zone offset"),
        (
            {"starts_at": "2027-01-04T09:00:00+00:00", "ends_at": "2027-01-01T09:00:00+00:00"},
            "/ends_at",
            "after the start",
        ),
    ],
)
def test_each_problem_points_at_its_field(
    overrides: dict[str, Any], pointer: str, words: str
) -> None:
    assert words in problems(**overrides)[pointer]


def test_step_problems_point_into_the_step() -> None:
    found = problems(
        steps=[
            {"offset_hours": 48, "template_family": "Recall!", "channel": "fax"},
            {"offset_hours": 24, "template_family": "x", "wait_until": "clicked"},
            {"template_family": "y", "wait_timeout_hours": 5, "colour": "red"},
        ]
    )
    assert "template family" in found["/steps/0/template_family"]
    assert "best" in found["/steps/0/channel"]
    assert "in order" in found["/steps/1/offset_hours"]
    assert "needs a timeout" in found["/steps/1/wait_timeout_hours"]
    assert "only a step that waits" in found["/steps/2/wait_timeout_hours"]
    assert found["/steps/2/colour"] == "unknown field"


def test_a_step_cannot_wait_for_an_exit_condition() -> None:
    found = problems(
        exit_on=["clicked"],
        steps=[
            {"template_family": "a"},
            {"template_family": "b", "wait_until": "clicked", "wait_timeout_hours": 24},
        ],
    )
    assert "also an exit condition" in found["/steps/1/wait_until"]


def test_the_first_step_cannot_wait_for_a_click() -> None:
    found = problems(
        exit_on=[],
        steps=[{"template_family": "a", "wait_until": "clicked", "wait_timeout_hours": 1}],
    )
    assert "click on nothing" in found["/steps/0/wait_until"]


def test_every_problem_is_reported_at_once() -> None:
    assert len(problems(name="", segment_id=0, holdout_percent=99, steps=[])) == 4


@pytest.mark.parametrize("hours", [1e300, 10_000, -1, float("nan"), float("inf"), True, "7"])
def test_offsets_out_of_reach_are_problems_not_errors(hours: object) -> None:
    found = problems(steps=[{"template_family": "a", "offset_hours": hours}])
    assert "/steps/0/offset_hours" in found
