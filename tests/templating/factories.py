"""Template records and patient contexts for the templating tests."""

from __future__ import annotations

from collections.abc import Iterable
from datetime import UTC, datetime

from outreach.domain import Channel, Purpose
from outreach.templating import TemplateRecord

NOW = datetime(2026, 3, 1, 12, 0, tzinfo=UTC)
# Saturday 7 March 2026, 16:30 UTC: 10:30 in Mexico City, 17:30 in Paris.
APPOINTMENT = datetime(2026, 3, 7, 16, 30, tzinfo=UTC)
SECRET_DIAGNOSIS = "SECRET-DX-HIV"


def sms(body: str, declared: Iterable[str] = ("first_name",), **fields: object) -> TemplateRecord:
    return record(body, declared, channel=Channel.SMS, **fields)


def record(
    body: str,
    declared: Iterable[str],
    *,
    channel: Channel = Channel.SMS,
    purpose: Purpose = Purpose.APPT_REMINDER,
    language: str = "en",
    subject: str | None = None,
    **fields: object,
) -> TemplateRecord:
    return TemplateRecord(
        id=fields.pop("id", "t-1"),  # type: ignore[arg-type]
        purpose=purpose,
        channel=channel,
        language=language,
        subject=subject,
        body=body,
        declared_variables=tuple(declared),
        **fields,  # type: ignore[arg-type]
    )


def patient_context(**overrides: object) -> dict[str, object]:
    """Everything the pipeline knows about a patient and event, PHI included, as it would be."""
    context: dict[str, object] = {
        "first_name": "Ana",
        "last_name": "Lopez-Secret",
        "clinic_name": "Sunrise Clinic",
        "clinic_phone": "555-0100",
        "clinic_address": "1 Main St",
        "appointment_date": APPOINTMENT,
        "appointment_time": APPOINTMENT,
        "provider_display_name": "Dr. Kim",
        "portal_link": "https://portal.clinic.example/p/abc",
        "booking_link": "https://portal.clinic.example/book",
        "unsubscribe_link": "https://portal.clinic.example/u",
        "diagnosis": SECRET_DIAGNOSIS,
        "lab_result": "SECRET-LAB-POSITIVE",
        "lab_test_name": "SECRET-TEST-HIV-PCR",
        "medication": "SECRET-MED",
        "mrn": "SECRET-MRN-123",
        "date_of_birth": datetime(1980, 1, 2, tzinfo=UTC),
        "appointment_reason": "SECRET-REASON",
        "provider_specialty": "SECRET-ONCOLOGY",
        "patient": {"diagnosis": SECRET_DIAGNOSIS},
        "patients": [{"diagnosis": SECRET_DIAGNOSIS}],
    }
    context.update(overrides)
    return context


SECRETS = tuple(
    value
    for value in patient_context().values()
    if isinstance(value, str) and value.startswith(("SECRET", "Lopez"))
)
