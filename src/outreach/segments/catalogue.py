"""The fields a segment rule may read, each with its type: the only names ``var`` may take.

Marketers target groups, not people, so the catalogue holds what a de-identified marketing list
may hold (in the spirit of HIPAA's Safe Harbor): an age in whole years rather than the date of
birth, the first three characters of the postal code rather than the code, a region, a sex, the
patient's own communication preferences and consent flags, facts about their appointments, and
the free attributes the deployment declares. Names, addresses, record numbers and the date of
birth itself are never fields.

``attributes.<key>`` fields are declared by the deployment (``OUTREACH_SEGMENT_ATTRIBUTES``:
the core platform's integration decides which attributes exist, for every organisation alike),
each with a type. A stored value of another type reads as missing (null), in memory and in SQL
alike.
"""

from __future__ import annotations

import enum
import re
from collections.abc import Iterator, Mapping
from dataclasses import dataclass


class FieldType(enum.StrEnum):
    STRING = "string"
    NUMBER = "number"
    BOOLEAN = "boolean"
    # An instant (ISO 8601 text in memory): read through days_since / days_until.
    DATE = "date"


# Types an attribute may be declared with (dates in free attributes have no format to trust).
ATTRIBUTE_TYPES = (FieldType.STRING, FieldType.NUMBER, FieldType.BOOLEAN)
ATTRIBUTE_PREFIX = "attributes."
# An attribute key: a letter, then letters, digits or underscores (it becomes a JSON path).
ATTRIBUTE_KEY = re.compile(r"[A-Za-z][A-Za-z0-9_]{0,63}")


class FieldSource(enum.StrEnum):
    """Where a field's value comes from (the SQL compiler maps each to its expression)."""

    PATIENT = "patient"  # a column of ``patients`` (or one derived from a column)
    PREFERENCES = "preferences"  # the patient's own row of ``patient_comm_prefs``
    APPOINTMENTS = "appointments"  # an aggregate over the patient's ``appointments``
    ATTRIBUTE = "attribute"  # a key of ``patients.attributes``


@dataclass(frozen=True, slots=True)
class CatalogueField:
    name: str
    type: FieldType
    source: FieldSource
    description: str
    # Never null: an aggregate with a value for every patient (a count, an existence).
    always_present: bool = False

    @property
    def attribute_key(self) -> str | None:
        if self.source is FieldSource.ATTRIBUTE:
            return self.name.removeprefix(ATTRIBUTE_PREFIX)
        return None


_S, _N, _B, _D = FieldType.STRING, FieldType.NUMBER, FieldType.BOOLEAN, FieldType.DATE
_P, _PR, _A = FieldSource.PATIENT, FieldSource.PREFERENCES, FieldSource.APPOINTMENTS

BUILT_IN_FIELDS: tuple[CatalogueField, ...] = (
    CatalogueField("age", _N, _P, "Age in whole years today (UTC), from the date of birth."),
    CatalogueField("sex", _S, _P, "Sex as the clinic records it."),
    CatalogueField("region", _S, _P, "State or region code (e.g. FL)."),
    CatalogueField(
        "postal_prefix", _S, _P, "The first three characters of the postal code (a ZIP3 area)."
    ),
    CatalogueField("provider_id", _S, _P, "The patient's provider (clinician) id."),
    CatalogueField("language", _S, _PR, "The patient's own preferred language (e.g. en, es)."),
    CatalogueField("timezone", _S, _PR, "The patient's own IANA time zone."),
    CatalogueField("preferred_channel", _S, _PR, "The channel the patient prefers (sms...)."),
    CatalogueField("contact_consent", _B, _PR, "The patient consented to be contacted."),
    CatalogueField("marketing_opt_in_email", _B, _PR, "Accepts marketing by e-mail."),
    CatalogueField("marketing_opt_in_sms", _B, _PR, "Accepts marketing by SMS."),
    CatalogueField("marketing_opt_in_whatsapp", _B, _PR, "Accepts marketing on WhatsApp."),
    CatalogueField("opted_out_email", _B, _PR, "Said STOP to e-mail."),
    CatalogueField("opted_out_sms", _B, _PR, "Said STOP to SMS."),
    CatalogueField("opted_out_whatsapp", _B, _PR, "Said STOP on WhatsApp."),
    CatalogueField("last_attended_at", _D, _A, "Start of the latest attended appointment."),
    CatalogueField(
        "next_appointment_at", _D, _A, "Start of the earliest booked appointment still ahead."
    ),
    CatalogueField("has_future_appointment", _B, _A, "A booked appointment is still ahead.", True),
    CatalogueField("no_show_count", _N, _A, "How many appointments were missed, ever.", True),
)


@dataclass(frozen=True, slots=True)
class Catalogue:
    """The fields of one deployment: the built-in ones and its declared attributes."""

    fields: Mapping[str, CatalogueField]

    def get(self, name: str) -> CatalogueField | None:
        return self.fields.get(name)

    def __iter__(self) -> Iterator[CatalogueField]:
        return iter(self.fields.values())

    @property
    def attributes(self) -> tuple[CatalogueField, ...]:
        return tuple(f for f in self.fields.values() if f.source is FieldSource.ATTRIBUTE)


class AttributeDeclarationError(ValueError):
    """A declared attribute with a bad key or type (refused at start-up)."""


def segment_catalogue(attributes: Mapping[str, str] | None = None) -> Catalogue:
    """The built-in fields plus ``attributes.<key>`` for each declared key -> type."""
    fields = {f.name: f for f in BUILT_IN_FIELDS}
    for key, declared in sorted((attributes or {}).items()):
        if not ATTRIBUTE_KEY.fullmatch(key):
            raise AttributeDeclarationError(
                f"attribute key {key!r}: a letter, then letters, digits or _ (at most 64)"
            )
        try:
            field_type = FieldType(declared)
        except ValueError:
            field_type = None
        if field_type not in ATTRIBUTE_TYPES:
            allowed = ", ".join(t.value for t in ATTRIBUTE_TYPES)
            raise AttributeDeclarationError(
                f"attribute {key!r}: type {declared!r} is not one of {allowed}"
            )
        assert field_type is not None
        name = ATTRIBUTE_PREFIX + key
        fields[name] = CatalogueField(
            name, field_type, FieldSource.ATTRIBUTE, f"Declared attribute ({field_type.value})."
        )
    return Catalogue(fields)
