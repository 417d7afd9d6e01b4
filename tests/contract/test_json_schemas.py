"""The generated JSON Schemas: every field documented and marked, real events accepted,
malformed ones refused, in agreement with the worker's own parsing."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from typing import Any

import pytest
from jsonschema import Draft202012Validator, FormatChecker

from outreach.channels.base import NORMALISED_STATUSES
from outreach.contract.asyncapi import asyncapi_document
from outreach.contract.catalogue import message_type
from outreach.contract.json_schemas import core_events_schema, message_schema
from outreach.events import (
    CORE_EVENT_MODELS,
    PHI_KEYWORD,
    AppointmentData,
    CommRequestData,
    DlqEntry,
    InboundEnvelope,
    LabResultData,
    MalformedEvent,
    PatientData,
    RefillData,
    StaffInboxItem,
    StatusUpdate,
    parse_core_event,
)
from outreach.planning import plan_event
from outreach.replies.actions import StaffRouteReason
from outreach.replies.intents import ReplyIntent
from outreach.sim.clinic.generator import generate_clinic
from outreach.sim.clinic.malformed import MALFORMED_KINDS, malformed_events

DAY = datetime(2026, 3, 2, 5, 0, tzinfo=UTC)
FORMATS = FormatChecker()


@FORMATS.checks("date-time", raises=ValueError)
def _aware_date_time(value: object) -> bool:
    """RFC 3339 date-time needs an offset (jsonschema only checks it with an extra package)."""
    return not isinstance(value, str) or datetime.fromisoformat(value).tzinfo is not None


def validator(schema: dict[str, Any]) -> Draft202012Validator:
    Draft202012Validator.check_schema(schema)
    return Draft202012Validator(schema, format_checker=FORMATS)


@pytest.fixture(scope="module")
def clinic_events() -> list[dict[str, Any]]:
    return generate_clinic(patients=150, seed=11, day_start=DAY).events


# Every object schema of the contract, both modes: messages and the data models they hold.
OBJECT_SCHEMAS = {
    name: schema
    for name, schema in asyncapi_document()["components"]["schemas"].items()
    if "properties" in schema
}


@pytest.mark.parametrize("name", OBJECT_SCHEMAS)
def test_every_field_has_a_meaning_and_a_phi_marker(name: str) -> None:
    schema = OBJECT_SCHEMAS[name]
    for field, prop in schema["properties"].items():
        assert prop.get("description"), f"{name}.{field} has no description"
        assert isinstance(prop.get(PHI_KEYWORD), bool), f"{name}.{field} has no {PHI_KEYWORD}"


PERSONAL_FIELDS = [
    (PatientData, name)
    for name in (
        "first_name",
        "last_name",
        "date_of_birth",
        "record_number",
        "postal_code",
        "email",
        "phone",
        "whatsapp",
        "attributes",
    )
] + [
    (AppointmentData, "reason"),
    (LabResultData, "test_name"),
    (RefillData, "medication"),
    (CommRequestData, "context"),
    (InboundEnvelope, "from_"),
    (InboundEnvelope, "body"),
    (StaffInboxItem, "from_address"),
    (StaffInboxItem, "body"),
    (StatusUpdate, "raw"),
]
IDENTIFIERS = [
    (model, name)
    for model in (*CORE_EVENT_MODELS, AppointmentData, LabResultData, RefillData)
    for name in model.model_fields
    if name.endswith("_id")
]


@pytest.mark.parametrize(
    ("model", "field"), PERSONAL_FIELDS, ids=lambda v: getattr(v, "__name__", v)
)
def test_personal_and_health_fields_are_marked_phi(model, field: str) -> None:
    assert model.model_fields[field].json_schema_extra == {PHI_KEYWORD: True}


@pytest.mark.parametrize(("model", "field"), IDENTIFIERS, ids=lambda v: getattr(v, "__name__", v))
def test_opaque_identifiers_are_not_phi(model, field: str) -> None:
    assert model.model_fields[field].json_schema_extra == {PHI_KEYWORD: False}


@pytest.mark.parametrize(
    ("model", "field", "values"),
    [
        (StaffInboxItem, "reason", [reason.value for reason in StaffRouteReason]),
        (StaffInboxItem, "intent", [intent.value for intent in ReplyIntent]),
        (StatusUpdate, "status", sorted(NORMALISED_STATUSES)),
    ],
    ids=["staff reasons", "reply intents", "statuses"],
)
def test_descriptions_that_list_values_list_them_all(model, field: str, values: list[str]) -> None:
    description = model.model_fields[field].description
    assert [value for value in values if value not in description] == []


def test_a_synthetic_clinic_day_fits_the_schemas_and_the_worker(clinic_events) -> None:
    union = validator(core_events_schema())
    per_type = {
        message_type(model): validator(message_schema(model, "validation"))
        for model in CORE_EVENT_MODELS
    }
    kinds = set()
    for event in clinic_events:
        union.validate(event)
        per_type[event["type"]].validate(event)
        plan = plan_event(parse_core_event(json.dumps(event)), reminder_offsets=())
        assert not plan.ignored
        kinds.add(event["type"])
    assert len(kinds) >= 7  # the day holds most types: a real sample, not a trivial one


def test_integer_ids_fit_the_schema_and_booleans_do_not(clinic_events) -> None:
    union = validator(core_events_schema())
    booked = next(e for e in clinic_events if e["type"] == "appointment.booked")
    numbered = booked | {"event_id": 1, "org_id": 2, "provider_id": 3, "patient_id": 4}
    numbered["data"] = booked["data"] | {"appointment_id": 5}
    union.validate(numbered)
    assert not union.is_valid(numbered | {"patient_id": True})
    assert not union.is_valid(numbered | {"org_id": 2.5})


def test_what_the_worker_dead_letters_the_schema_refuses() -> None:
    union = validator(core_events_schema())
    refused = 0
    for raw in malformed_events(3, MALFORMED_KINDS, day_start=DAY):
        with pytest.raises(MalformedEvent):
            plan_event(parse_core_event(raw), reminder_offsets=())
        try:
            value = json.loads(raw)
        except json.JSONDecodeError:
            continue  # not JSON at all: no schema applies
        assert not union.is_valid(value), value
        refused += 1
    assert refused == MALFORMED_KINDS - 1


def test_an_unknown_type_is_outside_the_documented_union() -> None:
    event = {
        "event_id": "e",
        "type": "invoice.paid",
        "occurred_at": DAY.isoformat(),
        "org_id": "o",
        "patient_id": "p",
        "data": {},
    }
    assert not validator(core_events_schema()).is_valid(event)
    assert plan_event(parse_core_event(json.dumps(event)), reminder_offsets=()).ignored


def test_the_dead_letter_topic_carries_no_personal_field() -> None:
    """Its original message travels sealed, its error text PHI-free (outreach.dead_letters)."""
    assert all(
        field.json_schema_extra == {PHI_KEYWORD: False} for field in DlqEntry.model_fields.values()
    )
