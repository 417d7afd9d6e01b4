"""The messages on Kafka (DESIGN.md, "Kafka topics") as pydantic models.

Validation happens here, at the edge: a core event that does not parse becomes a DLQ entry with
the reason, and the worker goes on.
"""

from __future__ import annotations

import json
from datetime import UTC, datetime
from typing import Any, Literal

from pydantic import AwareDatetime, BaseModel, ConfigDict, Field, ValidationError, field_validator

from outreach.domain import Channel, PhiFreeError, Purpose


class CoreEvent(BaseModel):
    """An event from the core platform on ``core.events`` (key: patient id)."""

    model_config = ConfigDict(extra="ignore", frozen=True)

    event_id: str = Field(min_length=1, max_length=64)
    type: str = Field(min_length=1, max_length=64)
    occurred_at: AwareDatetime
    org_id: str = Field(min_length=1, max_length=64)
    provider_id: str | None = Field(default=None, max_length=64)
    patient_id: str = Field(min_length=1, max_length=64)
    data: dict[str, Any] = Field(default_factory=dict)

    @field_validator("occurred_at")
    @classmethod
    def _utc(cls, value: datetime) -> datetime:
        return value.astimezone(UTC)


class PatientData(BaseModel):
    """``patient.upserted`` data: who the patient is and how they want to be reached."""

    model_config = ConfigDict(extra="ignore")

    first_name: str | None = Field(default=None, max_length=100)
    last_name: str | None = Field(default=None, max_length=100)
    date_of_birth: str | None = None
    record_number: str | None = Field(default=None, max_length=64)
    sex: str | None = Field(default=None, max_length=16)
    postal_code: str | None = Field(default=None, max_length=16)
    region: str | None = Field(default=None, max_length=32)
    email: str | None = Field(default=None, max_length=254)
    phone: str | None = Field(default=None, max_length=20)
    whatsapp: str | None = Field(default=None, max_length=20)
    language: str | None = Field(default=None, max_length=16)
    timezone: str | None = Field(default=None, max_length=64)
    preferred_channel: Channel | None = None
    allowed_channels: list[Channel] | None = None
    quiet_hours_start: str | None = None
    quiet_hours_end: str | None = None
    contact_consent: bool | None = None
    consent_granted_at: AwareDatetime | None = None
    marketing_opt_in: list[Channel] | None = None
    whatsapp_opt_in: bool | None = None
    attributes: dict[str, Any] = Field(default_factory=dict)


class AppointmentData(BaseModel):
    """Data of ``appointment.booked`` / ``rescheduled`` / ``cancelled`` / ``no_show``."""

    model_config = ConfigDict(extra="ignore")

    appointment_id: str = Field(min_length=1, max_length=64)
    starts_at: AwareDatetime | None = None
    provider_display_name: str | None = Field(default=None, max_length=200)
    location_name: str | None = Field(default=None, max_length=200)
    # PHI: kept for e-mail behind the portal, never rendered into restricted channels.
    reason: str | None = Field(default=None, max_length=500)


class LabResultData(BaseModel):
    model_config = ConfigDict(extra="ignore")

    result_id: str = Field(min_length=1, max_length=64)
    test_name: str | None = Field(default=None, max_length=200)  # PHI


class RefillData(BaseModel):
    model_config = ConfigDict(extra="ignore")

    prescription_id: str = Field(min_length=1, max_length=64)
    due_date: str | None = None
    medication: str | None = Field(default=None, max_length=200)  # PHI


class CommRequestData(BaseModel):
    """``comm.requested`` data, and the body of ``POST /api/v1/comm/schedule``."""

    model_config = ConfigDict(extra="ignore")

    purpose: Purpose
    channel: Channel | None = None
    send_at: AwareDatetime | None = None
    deadline: AwareDatetime | None = None
    appointment_id: str | None = Field(default=None, max_length=64)
    context: dict[str, Any] = Field(default_factory=dict)


class SendRequest(BaseModel):
    """``outreach.send.<channel>``: a claimed job to send (key: patient id)."""

    job_id: int
    attempt: int = 0


class StatusUpdate(BaseModel):
    """``outreach.status``: a provider's delivery status, normalised."""

    provider: str
    provider_message_id: str
    status: str
    occurred_at: AwareDatetime
    error_code: str | None = None
    # Echoed by providers that carry it (Twilio callback URL, SendGrid custom args).
    job_id: str | None = None
    raw: dict[str, Any] = Field(default_factory=dict)


class InboundEnvelope(BaseModel):
    """``outreach.inbound``: a patient's message as a provider delivered it."""

    provider: str
    channel: Channel
    from_: str = Field(alias="from")
    to: str | None = None
    body: str
    received_at: AwareDatetime
    provider_message_id: str

    model_config = ConfigDict(populate_by_name=True)

    def __repr__(self) -> str:  # personal fields masked
        return f"InboundEnvelope(provider={self.provider!r}, id={self.provider_message_id!r})"

    __str__ = __repr__


class StaffInboxItem(BaseModel):
    """``outreach.staff_inbox``: a reply a person must read (key: patient id, if known).

    It carries the body and the sender's address because staff act on them; neither is ever
    logged, and ``repr`` masks both.
    """

    inbound_id: int
    patient_id: str | None
    org_id: str | None
    channel: Channel
    reason: str
    intent: str
    confidence: float
    language: str | None
    job_id: int | None
    provider: str
    provider_message_id: str
    received_at: AwareDatetime
    from_address: str
    body: str

    def __repr__(self) -> str:
        return (
            f"StaffInboxItem(inbound_id={self.inbound_id!r}, patient_id={self.patient_id!r}, "
            f"reason={self.reason!r}, body=<{len(self.body)} chars>)"
        )

    __str__ = __repr__  # pydantic's str() would list every field, the body included


class Outcome(BaseModel):
    """``outreach.outcomes``: what the core platform should know (confirmations, opt-outs...)."""

    type: str
    occurred_at: AwareDatetime
    patient_id: str | None = None
    org_id: str | None = None
    appointment_id: str | None = None
    job_id: int | None = None
    data: dict[str, Any] = Field(default_factory=dict)


class DlqEntry(BaseModel):
    """``outreach.dlq``: a message that could not be handled, where, when and why.

    The topic carries no personal data: ``error`` is PHI-free by construction
    (``outreach.dead_letters``) and the original message is sealed (encrypted and
    authenticated with the dead-letter key), so only operators holding the key can read or
    replay it.
    """

    entry_id: str
    source_topic: str
    stage: str
    kind: Literal["malformed", "processing", "send"] = "malformed"
    error: str
    failed_at: AwareDatetime
    key: str | None = None
    original_sealed: str


def describe_validation_error(error: ValidationError) -> str:
    """A short, PHI-free reason: field paths and messages, never the input values."""
    parts = []
    for item in error.errors(include_input=False, include_url=False):
        location = ".".join(str(p) for p in item["loc"]) or "(root)"
        parts.append(f"{location}: {item['msg']}")
    return "; ".join(parts)


def parse_core_event(raw: bytes | str) -> CoreEvent:
    """Parse one ``core.events`` value; raises ``MalformedEvent`` with a reason."""
    try:
        payload = json.loads(raw)
    except (UnicodeDecodeError, json.JSONDecodeError) as error:
        raise MalformedEvent(f"not JSON: {error.msg if hasattr(error, 'msg') else error}") from None
    if not isinstance(payload, dict):
        raise MalformedEvent("not a JSON object")
    try:
        return CoreEvent.model_validate(payload)
    except ValidationError as error:
        raise MalformedEvent(describe_validation_error(error)) from None


class MalformedEvent(PhiFreeError, ValueError):
    """A core event that cannot be understood: it goes to the DLQ, the worker goes on.

    Its text names fields and rules, never the values it was given.
    """
