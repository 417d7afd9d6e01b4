"""The Kafka message models accept integer ids and read them as their decimal text."""

from __future__ import annotations

import json

import pytest
from pydantic import BaseModel, ValidationError

from outreach.events import (
    AppointmentData,
    CommRequestData,
    CoreEvent,
    LabResultData,
    MalformedEvent,
    PatientData,
    RefillData,
    parse_core_event,
)

EVENT = {
    "event_id": "e-1",
    "type": "appointment.booked",
    "occurred_at": "2026-03-02T15:00:00Z",
    "org_id": "org-1",
    "provider_id": "prov-1",
    "patient_id": "pat-1",
    "data": {},
}


@pytest.mark.parametrize("field", ["event_id", "org_id", "provider_id", "patient_id"])
def test_an_integer_event_id_reads_as_its_decimal_text(field: str) -> None:
    raw = json.dumps({**EVENT, field: 1234})
    # The worker's fast path validates the JSON directly; the general path goes through a dict.
    for event in (CoreEvent.model_validate_json(raw), parse_core_event(raw)):
        assert getattr(event, field) == "1234"
        assert json.loads(event.model_dump_json())[field] == "1234"


@pytest.mark.parametrize(
    ("model", "field", "base"),
    [
        (AppointmentData, "appointment_id", {}),
        (LabResultData, "result_id", {}),
        (RefillData, "prescription_id", {}),
        (CommRequestData, "appointment_id", {"purpose": "urgent"}),
        (PatientData, "record_number", {}),
    ],
)
def test_an_integer_id_in_data_reads_as_its_decimal_text(
    model: type[BaseModel], field: str, base: dict
) -> None:
    assert getattr(model.model_validate({**base, field: 77}), field) == "77"
    assert getattr(model.model_validate_json(json.dumps({**base, field: 0})), field) == "0"


@pytest.mark.parametrize("value", [True, False, 1.0, 12.5, None, [1]])
def test_booleans_fractions_and_other_values_are_still_refused(value: object) -> None:
    with pytest.raises(MalformedEvent, match="patient_id: Input should be a valid string"):
        parse_core_event(json.dumps({**EVENT, "patient_id": value}))
    with pytest.raises(ValidationError):
        CoreEvent.model_validate_json(json.dumps({**EVENT, "patient_id": value}))


def test_the_length_limit_applies_to_the_decimal_text() -> None:
    at_limit, over = int("9" * 64), int("9" * 65)
    assert parse_core_event(json.dumps({**EVENT, "org_id": at_limit})).org_id == "9" * 64
    with pytest.raises(MalformedEvent, match="org_id: String should have at most 64 characters"):
        parse_core_event(json.dumps({**EVENT, "org_id": over}))
    with pytest.raises(ValidationError, match="at most 64 characters"):
        AppointmentData.model_validate({"appointment_id": over})


def test_an_optional_id_keeps_its_limit_and_its_message() -> None:
    with pytest.raises(MalformedEvent, match="provider_id: String should have at most 64"):
        parse_core_event(json.dumps({**EVENT, "provider_id": "p" * 65}))
    assert parse_core_event(json.dumps({**EVENT, "provider_id": None})).provider_id is None
