"""In memory: the domain operators, the patient record, and rules judged as the engine says."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta

import pytest

from outreach.domain import AppointmentStatus
from outreach.segments import (
    AppointmentSummary,
    PatientFacts,
    SegmentEvaluator,
    patient_record,
    segment_catalogue,
)
from outreach.segments.catalogue import FieldType
from outreach.segments.domain_operators import days_since, days_until, event_count
from outreach.segments.records import age_on, typed_attribute

NOW = datetime(2026, 3, 2, 15, 0, tzinfo=UTC)
CATALOGUE = segment_catalogue({"plan": "string", "score": "number", "vip": "boolean"})
DAY = timedelta(days=1)


def test_days_are_whole_and_rounded_down() -> None:
    assert days_since(NOW - 182 * DAY, NOW) == 182
    assert days_since(NOW - 182 * DAY + timedelta(microseconds=1), NOW) == 181
    assert days_since(NOW + timedelta(hours=1), NOW) == -1
    assert days_until(NOW + 7 * DAY - timedelta(seconds=1), NOW) == 6
    assert days_since(None, NOW) is None


def test_event_count_counts_a_status_in_a_window_ending_now() -> None:
    visits = [
        {"status": "no_show", "starts_at": (NOW - 30 * DAY).isoformat()},
        {"status": "no_show", "starts_at": (NOW - 31 * DAY).isoformat()},
        {"status": "no_show", "starts_at": (NOW + DAY).isoformat()},
        {"status": "no_show", "starts_at": None},
        {"status": "attended", "starts_at": NOW.isoformat()},
    ]
    assert event_count(visits, "no_show", 30, NOW) == 1
    assert event_count(visits, "no_show", 31, NOW) == 2
    assert event_count(visits, "attended", 1, NOW) == 1


@pytest.mark.parametrize(
    ("born", "age"),
    [
        (date(1980, 3, 2), 46),
        (date(1980, 3, 3), 45),
        (date(1984, 2, 29), 42),
        (date(2026, 3, 2), 0),
    ],
)
def test_age_in_whole_years(born: date, age: int) -> None:
    assert age_on(born, NOW.date()) == age


def test_attributes_of_another_type_read_as_missing() -> None:
    assert typed_attribute("gold", FieldType.STRING) == "gold"
    assert typed_attribute(3, FieldType.NUMBER) == 3.0
    assert typed_attribute(True, FieldType.NUMBER) is None
    assert typed_attribute("3", FieldType.NUMBER) is None
    assert typed_attribute(1, FieldType.BOOLEAN) is None
    assert typed_attribute(10**400, FieldType.NUMBER) is None


def recall_patient(**fields) -> PatientFacts:
    visits = (
        AppointmentSummary(AppointmentStatus.ATTENDED, NOW - 400 * DAY),
        AppointmentSummary(AppointmentStatus.ATTENDED, NOW - 200 * DAY),
        AppointmentSummary(AppointmentStatus.BOOKED, NOW - 2 * DAY),  # never closed: past
        AppointmentSummary(AppointmentStatus.NO_SHOW, NOW - 10 * DAY),
    )
    return PatientFacts("p1", "org", appointments=visits, **fields)


def test_the_record_holds_the_catalogue_and_nothing_personal() -> None:
    facts = recall_patient(
        date_of_birth=date(1961, 5, 4),
        postal_code="33101",
        attributes={"plan": "gold", "score": "high", "diagnosis": "secret"},
        preferences={"language": "es", "marketing_opt_in_sms": True},
    )
    record = patient_record(facts, CATALOGUE, NOW)
    assert record["age"] == 64 and record["postal_prefix"] == "331"
    assert record["last_attended_at"] == (NOW - 200 * DAY).isoformat()
    assert (record["next_appointment_at"], record["has_future_appointment"]) == (None, False)
    assert record["no_show_count"] == 1
    assert record["attributes"] == {"plan": "gold", "score": None, "vip": None}
    assert (record["language"], record["opted_out_sms"]) == ("es", None)
    assert "date_of_birth" not in record and "postal_code" not in record
    assert "secret" not in repr(record) and "33101" not in repr(facts)


@pytest.mark.parametrize(
    ("rule", "expected"),
    [
        ({">=": [{"days_since": {"var": "last_attended_at"}}, 182]}, True),
        ({">=": [{"days_since": {"var": "last_attended_at"}}, 201]}, False),
        ({"!": {"var": "has_future_appointment"}}, True),
        ({"==": [{"event_count": ["no_show", 30]}, 1]}, True),
        ({"==": [{"var": "attributes.score"}, None]}, True),
        # JSON Logic as the engine runs it: a missing value is below any positive number...
        ({"<": [{"var": "age"}, 18]}, True),
        # ...and loosely equal to "", 0 and false; strictly, only to null.
        ({"==": [{"var": "region"}, ""]}, True),
        ({"===": [{"var": "region"}, ""]}, False),
        ({"==": [{"var": "region"}, "fl"]}, False),
    ],
)
def test_rules_judge_a_record(rule, expected: bool) -> None:
    record = patient_record(recall_patient(region=None), CATALOGUE, NOW)
    assert SegmentEvaluator(rule, now=NOW).matches(record) is expected


def test_segments_are_read_in_place_of_in_segment() -> None:
    saved = {7: {"==": [{"var": "sex"}, "F"]}}
    rule = {"and": [{"in_segment": 7}, {"var": "has_future_appointment"}]}
    booked = AppointmentSummary(AppointmentStatus.BOOKED, NOW + DAY)
    her = patient_record(PatientFacts("p", "o", sex="F", appointments=(booked,)), CATALOGUE, NOW)
    him = patient_record(PatientFacts("q", "o", sex="M", appointments=(booked,)), CATALOGUE, NOW)
    evaluator = SegmentEvaluator(rule, now=NOW, segments=saved)
    assert evaluator.matches(her) and not evaluator.matches(him)
