"""A patient as segment rules see them in memory: one JSON document of catalogue fields.

The SQL compiler derives the same fields from the same rows (docs/segments.md, "The catalogue"),
so a rule answers the same for a patient in memory and in the database.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, date, datetime
from typing import Any

from outreach.domain import AppointmentStatus
from outreach.segments.catalogue import ATTRIBUTE_PREFIX, Catalogue, FieldSource, FieldType
from outreach.segments.domain_operators import APPOINTMENTS_KEY

POSTAL_PREFIX_LENGTH = 3
# The preference fields a patient without a preference row of their own reads as null.
PREFERENCE_FIELDS = (
    "language",
    "timezone",
    "preferred_channel",
    "contact_consent",
    "marketing_opt_in_email",
    "marketing_opt_in_sms",
    "marketing_opt_in_whatsapp",
    "opted_out_email",
    "opted_out_sms",
    "opted_out_whatsapp",
)


@dataclass(frozen=True, slots=True)
class AppointmentSummary:
    status: AppointmentStatus
    starts_at: datetime | None


@dataclass(frozen=True, slots=True)
class PatientFacts:
    """What segments read of one patient: their row, their own preferences (None: no row) and
    their appointments. Personal fields are masked in ``repr``."""

    patient_id: str
    org_id: str
    provider_id: str | None = None
    date_of_birth: date | None = None
    sex: str | None = None
    postal_code: str | None = None
    region: str | None = None
    attributes: Mapping[str, Any] | None = None
    preferences: Mapping[str, Any] | None = None
    appointments: tuple[AppointmentSummary, ...] = ()

    def __repr__(self) -> str:
        return f"PatientFacts(patient_id={self.patient_id!r}, org_id={self.org_id!r})"


def age_on(date_of_birth: date, today: date) -> int:
    """Whole years from the date of birth to ``today`` (a 29 February birthday falls on
    1 March in other years)."""
    had_birthday = (today.month, today.day) >= (date_of_birth.month, date_of_birth.day)
    return today.year - date_of_birth.year - (0 if had_birthday else 1)


def typed_attribute(value: Any, field_type: FieldType) -> Any:
    """A stored attribute as its declared type; a value of another type reads as null. Numbers
    become doubles, as the database compares them."""
    if field_type is FieldType.STRING:
        return value if isinstance(value, str) else None
    if field_type is FieldType.BOOLEAN:
        return value if isinstance(value, bool) else None
    if field_type is FieldType.NUMBER and isinstance(value, int | float):
        if isinstance(value, bool):
            return None
        try:
            return float(value)
        except OverflowError:
            return None
    return None


def _iso(moment: datetime | None) -> str | None:
    return None if moment is None else moment.astimezone(UTC).isoformat()


def patient_record(facts: PatientFacts, catalogue: Catalogue, now: datetime) -> dict[str, Any]:
    """The document a rule reads for this patient at ``now``."""
    today = now.astimezone(UTC).date()
    postal = facts.postal_code
    record: dict[str, Any] = {
        "age": age_on(facts.date_of_birth, today) if facts.date_of_birth else None,
        "sex": facts.sex,
        "region": facts.region,
        "postal_prefix": postal[:POSTAL_PREFIX_LENGTH] if postal is not None else None,
        "provider_id": facts.provider_id,
    }
    own = facts.preferences or {}
    for name in PREFERENCE_FIELDS:
        record[name] = own.get(name)
    attended = [
        a.starts_at
        for a in facts.appointments
        if a.status is AppointmentStatus.ATTENDED and a.starts_at is not None
    ]
    ahead = [
        a.starts_at
        for a in facts.appointments
        if a.status is AppointmentStatus.BOOKED and a.starts_at is not None and a.starts_at > now
    ]
    record["last_attended_at"] = _iso(max(attended)) if attended else None
    record["next_appointment_at"] = _iso(min(ahead)) if ahead else None
    record["has_future_appointment"] = bool(ahead)
    record["no_show_count"] = sum(
        1 for a in facts.appointments if a.status is AppointmentStatus.NO_SHOW
    )
    record[APPOINTMENTS_KEY] = [
        {"status": a.status.value, "starts_at": _iso(a.starts_at)} for a in facts.appointments
    ]
    stored = facts.attributes if isinstance(facts.attributes, Mapping) else {}
    record["attributes"] = {
        attribute.name.removeprefix(ATTRIBUTE_PREFIX): typed_attribute(
            stored.get(attribute.name.removeprefix(ATTRIBUTE_PREFIX)), attribute.type
        )
        for attribute in catalogue
        if attribute.source is FieldSource.ATTRIBUTE
    }
    return record
