"""The new-campaign form as the API's document: typed values, empty rows, and each problem's
location mapped back to the form field at fault."""

from __future__ import annotations

import pytest
from starlette.datastructures import FormData

from outreach.api.console.campaign_form import (
    FORM,
    VARIANT_NAMES,
    CampaignForm,
    StepRow,
    checked_document,
    field_of,
)

ORG = "org-form"


def posted(**fields: str) -> CampaignForm:
    exit_on = fields.pop("exit_on", "booked,replied_stop")
    form = FormData([(name.replace("__", "-"), value) for name, value in fields.items()])
    return CampaignForm.posted(form, [c for c in exit_on.split(",") if c])


def test_a_filled_in_form_is_the_api_s_document_with_the_session_s_organisation() -> None:
    entered = posted(
        name="  Spring recall ",
        segment_id="12",
        purpose="campaign_education",
        steps__0__offset_hours="0",
        steps__0__template_family="dental_recall",
        steps__0__channel="best",
        steps__3__offset_hours="168.5",
        steps__3__template_family="dental_recall_reminder",
        steps__3__channel="sms",
        steps__3__wait_until="confirmed",
        steps__3__wait_timeout_hours="24",
        variant__A="70",
        variant__B="30",
        variant__C="",
        holdout_percent="5",
        recurring="on",
        starts_at="2027-01-04T09:00",
        ends_at="2027-06-30T00:00+02:00",
        exit_on="booked",
    )
    document, errors = checked_document(entered, ORG)
    assert errors == {}
    assert document == {
        "org_id": ORG,
        "name": "Spring recall",
        "segment_id": 12,
        "purpose": "campaign_education",
        "steps": [
            {"offset_hours": 0.0, "template_family": "dental_recall", "channel": "best"},
            {
                "offset_hours": 168.5,
                "template_family": "dental_recall_reminder",
                "channel": "sms",
                "wait_until": "confirmed",
                "wait_timeout_hours": 24.0,
            },
        ],
        "exit_on": ["booked"],
        "variants": {"A": 70, "B": 30},
        "holdout_percent": 5.0,
        "recurring": True,
        "starts_at": "2027-01-04T09:00:00Z",  # a browser's date-time field is read as UTC
        "ends_at": "2027-06-30T00:00:00+02:00",
    }


def test_empty_step_rows_are_left_out_and_problems_land_on_their_row() -> None:
    entered = posted(
        name="Recall",
        segment_id="3",
        steps__0__template_family="dental_recall",
        steps__1__offset_hours="",
        steps__1__template_family="",
        steps__2__offset_hours="10",  # no family: required
        steps__5__offset_hours="abc",
        steps__5__template_family="x",
    )
    document, errors = checked_document(entered, ORG)
    assert document is None
    assert errors["steps-2-template_family"] == ["required"]
    # rows are shown again in order, numbered from 0: posted row 5 is the fourth
    assert "valid number" in errors["steps-3-offset_hours"][0]
    assert [row.offset_hours for row in entered.steps] == ["", "", "10", "abc"]
    assert not any(name.startswith("steps-1") for name in errors)


def test_the_definition_s_own_rules_are_reported_with_the_model_s() -> None:
    entered = posted(
        name="Recall",
        segment_id="3",
        steps__0__offset_hours="48",
        steps__0__template_family="dental_recall",
        steps__1__offset_hours="24",
        steps__1__template_family="dental_recall",
        variant__A="lots",
        holdout_percent="40",
    )
    document, errors = checked_document(entered, ORG)
    assert document is None
    assert "valid integer" in errors["variant-A"][0]  # the model's
    assert "1 to 15" in errors["holdout_percent"][0]  # the definition's
    assert "steps go in order" in errors["steps-1-offset_hours"][0]


@pytest.mark.parametrize(
    ("location", "field"),
    [
        (("name",), "name"),
        (("steps",), "steps"),
        (("steps", 1), "steps-4"),
        (("steps", 1, "channel", "literal['best']"), "steps-4-channel"),
        (("steps", 0, "colour"), "steps-0"),
        (("steps", 7, "offset_hours"), "steps-7-offset_hours"),  # not a row: its own index
        (("variants", "B"), "variant-B"),
        (("variants", "Z"), "variants"),
        (("org_id",), FORM),
        ((), FORM),
    ],
)
def test_each_location_finds_its_field(location: tuple[str | int, ...], field: str) -> None:
    assert field_of(location, [0, 4], VARIANT_NAMES) == field


def test_a_blank_row_is_one_with_nothing_chosen() -> None:
    assert StepRow().blank() and StepRow(offset_hours="").blank()
    assert not StepRow(offset_hours="24").blank()
    assert not StepRow(template_family="dental_recall").blank()
    assert not StepRow(wait_until="clicked").blank()
