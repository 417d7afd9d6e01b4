"""The messages on Kafka as pydantic models: the event contract (docs/event-contract.md).

Validation happens here, at the edge: a core event that does not parse becomes a DLQ entry with
the reason, and the worker goes on.

These models are the published contract: ``outreach.contract`` generates the JSON Schemas, the
AsyncAPI document and the field tables of ``docs/event-contract.md`` from them, so every field
carries a ``description`` and a PHI marker (``json_schema_extra=PHI`` or ``NOT_PHI``: the
``x-phi`` keyword of its JSON Schema). The per-type models (``AppointmentBookedEvent``,
``PatientOptedOutOutcome``...) fix ``type`` and type ``data``; the worker itself reads the
generic ``CoreEvent`` and validates ``data`` once it knows the type, so an unknown type is
ignored rather than rejected.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from datetime import UTC, datetime
from decimal import Decimal
from typing import Annotated, Any, Literal

from pydantic import (
    AwareDatetime,
    BaseModel,
    ConfigDict,
    Field,
    GetCoreSchemaHandler,
    GetJsonSchemaHandler,
    StringConstraints,
    TypeAdapter,
    ValidationError,
    field_validator,
)
from pydantic.json_schema import JsonSchemaValue
from pydantic_core import CoreSchema, core_schema

from outreach.domain import Channel, PhiFreeError, Purpose

# The PHI marker: ``x-phi: true`` on a field whose value is protected health information or
# personal data (names, addresses, date of birth, record number, demographics, clinical details,
# free text and message bodies). Such values are never logged. ``x-phi: false`` marks opaque
# ids, timestamps, codes, flags and settings.
PHI_KEYWORD = "x-phi"
PHI: dict[str, Any] = {PHI_KEYWORD: True}
NOT_PHI: dict[str, Any] = {PHI_KEYWORD: False}

# What outreach publishes always carries every field (null included): the schemas say so.
_PUBLISHED = ConfigDict(json_schema_serialization_defaults_required=True)


def _integer_as_decimal_text(value: object) -> object:
    """An integer id becomes its decimal string; anything else is left for ``str`` to judge, so
    ``true`` and ``1.0`` are still refused."""
    if isinstance(value, int) and not isinstance(value, bool):
        return str(value)
    return value


class _AcceptsIntegers:
    """Annotation: this string id also takes a JSON integer, and its validation schema says so.

    Not ``BeforeValidator(json_schema_input_type=...)``: that drops the length limits from the
    generated schema. Length limits placed before this marker apply to the decimal string.
    """

    def __get_pydantic_core_schema__(
        self, source: Any, handler: GetCoreSchemaHandler
    ) -> CoreSchema:
        return core_schema.no_info_before_validator_function(
            _integer_as_decimal_text, handler(source)
        )

    def __get_pydantic_json_schema__(
        self, schema: CoreSchema, handler: GetJsonSchemaHandler
    ) -> JsonSchemaValue:
        json_schema = handler(schema)
        if handler.mode == "validation":
            return {**json_schema, "type": ["string", "integer"]}
        return json_schema  # what we publish is always the string


# A local time of day, HH:MM or HH:MM:SS on the 24-hour clock.
_LOCAL_TIME = r"^([01][0-9]|2[0-3]):[0-5][0-9](:[0-5][0-9])?$"

StrId = Annotated[str, _AcceptsIntegers()]
"""A string id that may arrive as a JSON integer (``1`` is read as ``"1"``)."""

CoreId = Annotated[str, StringConstraints(max_length=64), _AcceptsIntegers()]
"""A core platform id: a ``StrId`` of at most 64 characters (the width of its columns)."""


class CoreEventEnvelope(BaseModel):
    """What every event from the core platform on ``core.events`` carries around its ``data``
    (key: patient id)."""

    model_config = ConfigDict(extra="ignore", frozen=True)

    event_id: CoreId = Field(
        min_length=1,
        description="Unique id of this event; a second event with the same id is a duplicate "
        "and changes nothing.",
        json_schema_extra=NOT_PHI,
    )
    type: str = Field(
        min_length=1,
        max_length=64,
        description="What happened; decides the shape of data. Unknown types are ignored.",
        json_schema_extra=NOT_PHI,
    )
    occurred_at: AwareDatetime = Field(
        description="When it happened (RFC 3339, with an offset).", json_schema_extra=NOT_PHI
    )
    org_id: CoreId = Field(
        min_length=1, description="The clinic organisation.", json_schema_extra=NOT_PHI
    )
    provider_id: CoreId | None = Field(
        default=None,
        description="The provider (clinician) concerned, if any.",
        json_schema_extra=NOT_PHI,
    )
    patient_id: CoreId = Field(
        min_length=1,
        description="The patient concerned; also the Kafka key.",
        json_schema_extra=NOT_PHI,
    )

    @field_validator("occurred_at")
    @classmethod
    def _utc(cls, value: datetime) -> datetime:
        return value.astimezone(UTC)


class CoreEvent(CoreEventEnvelope):
    """A core event as the worker reads it: ``data`` is validated by the type's data model once
    the type is known, so an unknown type is ignored rather than rejected."""

    data: dict[str, Any] = Field(
        default_factory=dict,
        description="The facts of this type of event.",
        json_schema_extra=PHI,
    )


class PatientData(BaseModel):
    """``patient.upserted`` data: who the patient is and how they want to be reached.

    A field left out keeps its stored value.
    """

    model_config = ConfigDict(extra="ignore")

    first_name: str | None = Field(
        default=None, max_length=100, description="Given name.", json_schema_extra=PHI
    )
    last_name: str | None = Field(
        default=None, max_length=100, description="Family name.", json_schema_extra=PHI
    )
    date_of_birth: str | None = Field(
        default=None, description="Date of birth, YYYY-MM-DD.", json_schema_extra=PHI
    )
    record_number: CoreId | None = Field(
        default=None, description="Medical record number.", json_schema_extra=PHI
    )
    sex: str | None = Field(
        default=None,
        max_length=16,
        description="Sex as the clinic records it.",
        json_schema_extra=PHI,
    )
    postal_code: str | None = Field(
        default=None,
        max_length=16,
        description="Postal code of the home address.",
        json_schema_extra=PHI,
    )
    region: str | None = Field(
        default=None,
        max_length=32,
        description="State or region code (e.g. FL); some regions have stricter sending hours.",
        json_schema_extra=NOT_PHI,
    )
    email: str | None = Field(
        default=None, max_length=254, description="E-mail address.", json_schema_extra=PHI
    )
    phone: str | None = Field(
        default=None,
        max_length=20,
        description="Mobile number for SMS, E.164 preferred.",
        json_schema_extra=PHI,
    )
    whatsapp: str | None = Field(
        default=None,
        max_length=20,
        description="WhatsApp number, E.164 preferred.",
        json_schema_extra=PHI,
    )
    language: str | None = Field(
        default=None,
        max_length=16,
        description="Preferred language (BCP 47, e.g. en, es-MX).",
        json_schema_extra=NOT_PHI,
    )
    timezone: str | None = Field(
        default=None,
        max_length=64,
        description="IANA time zone (e.g. America/New_York); sending hours are local to it.",
        json_schema_extra=NOT_PHI,
    )
    preferred_channel: Channel | None = Field(
        default=None, description="The channel to try first.", json_schema_extra=NOT_PHI
    )
    allowed_channels: list[Channel] | None = Field(
        default=None,
        description="The only channels that may be used; absent: every channel.",
        json_schema_extra=NOT_PHI,
    )
    quiet_hours_start: str | None = Field(
        default=None,
        pattern=_LOCAL_TIME,
        description="Start of the patient's quiet hours, local HH:MM (24-hour clock).",
        json_schema_extra=NOT_PHI,
    )
    quiet_hours_end: str | None = Field(
        default=None,
        pattern=_LOCAL_TIME,
        description="End of the patient's quiet hours, local HH:MM (24-hour clock).",
        json_schema_extra=NOT_PHI,
    )
    contact_consent: bool | None = Field(
        default=None,
        description="Consent to be contacted at all; nothing is sent without it.",
        json_schema_extra=NOT_PHI,
    )
    consent_granted_at: AwareDatetime | None = Field(
        default=None, description="When contact consent was given.", json_schema_extra=NOT_PHI
    )
    marketing_opt_in: list[Channel] | None = Field(
        default=None,
        description="Channels on which the patient accepts education and marketing messages.",
        json_schema_extra=NOT_PHI,
    )
    whatsapp_opt_in: bool | None = Field(
        default=None,
        description="The patient's opt-in to WhatsApp messages, which WhatsApp requires.",
        json_schema_extra=NOT_PHI,
    )
    attributes: dict[str, Any] = Field(
        default_factory=dict,
        description="Further facts segments may select on (conditions, insurance...).",
        json_schema_extra=PHI,
    )


class AppointmentData(BaseModel):
    """Data of ``appointment.cancelled`` / ``no_show`` / ``attended``; the base of
    ``BookedAppointmentData``."""

    model_config = ConfigDict(extra="ignore")

    appointment_id: CoreId = Field(
        min_length=1, description="The appointment.", json_schema_extra=NOT_PHI
    )
    starts_at: AwareDatetime | None = Field(
        default=None, description="When the appointment starts.", json_schema_extra=NOT_PHI
    )
    provider_display_name: str | None = Field(
        default=None,
        max_length=200,
        description="How messages name the clinician (e.g. Dr. Pop); never a specialty.",
        json_schema_extra=NOT_PHI,
    )
    location_name: str | None = Field(
        default=None,
        max_length=200,
        description="Where the appointment takes place.",
        json_schema_extra=NOT_PHI,
    )
    # Kept for e-mail behind the portal, never rendered into restricted channels.
    reason: str | None = Field(
        default=None, max_length=500, description="Reason for the visit.", json_schema_extra=PHI
    )


class BookedAppointmentData(AppointmentData):
    """Data of ``appointment.booked`` / ``rescheduled``: ``starts_at`` is required, since the
    confirmation and the reminders are timed from it."""

    starts_at: AwareDatetime = Field(
        description="When the appointment (newly) starts.", json_schema_extra=NOT_PHI
    )


class LabResultData(BaseModel):
    """``lab.result_ready`` data: a result the patient can see in the portal."""

    model_config = ConfigDict(extra="ignore")

    result_id: CoreId = Field(
        min_length=1, description="The lab result.", json_schema_extra=NOT_PHI
    )
    test_name: str | None = Field(
        default=None, max_length=200, description="Which test was run.", json_schema_extra=PHI
    )


class RefillData(BaseModel):
    """``rx.refill_due`` data: a prescription to renew."""

    model_config = ConfigDict(extra="ignore")

    prescription_id: CoreId = Field(
        min_length=1, description="The prescription.", json_schema_extra=NOT_PHI
    )
    due_date: str | None = Field(
        default=None, description="When the refill is due, YYYY-MM-DD.", json_schema_extra=NOT_PHI
    )
    medication: str | None = Field(
        default=None, max_length=200, description="The medication.", json_schema_extra=PHI
    )


class CommRequestData(BaseModel):
    """``comm.requested`` data, and the body of ``POST /api/v1/comm/schedule``."""

    model_config = ConfigDict(extra="ignore")

    purpose: Purpose = Field(
        description="Why the patient is contacted; decides consent rules and templates.",
        json_schema_extra=NOT_PHI,
    )
    channel: Channel | None = Field(
        default=None,
        description="Use only this channel (consent still applies); absent: outreach chooses.",
        json_schema_extra=NOT_PHI,
    )
    send_at: AwareDatetime | None = Field(
        default=None,
        description="Not before this time; absent: as soon as allowed.",
        json_schema_extra=NOT_PHI,
    )
    deadline: AwareDatetime | None = Field(
        default=None,
        description="Not after this time (not before send_at); absent: 7 days after send_at, "
        "or after the event.",
        json_schema_extra=NOT_PHI,
    )
    appointment_id: CoreId | None = Field(
        default=None,
        description="The appointment the message is about, if any.",
        json_schema_extra=NOT_PHI,
    )
    context: dict[str, Any] = Field(
        default_factory=dict,
        description="Facts the template may use; the channel's PHI policy decides which appear.",
        json_schema_extra=PHI,
    )


# ---- core.events, one model per type: the contract's view of CoreEvent ----

_EVENT_TYPE = "The event type; fixed for this model."
_EVENT_DATA = "The facts of this event."


class PatientUpsertedEvent(CoreEventEnvelope):
    """The patient was created or changed. Outreach stores their contact details, preferences and
    consent; it sends nothing."""

    type: Literal["patient.upserted"] = Field(description=_EVENT_TYPE, json_schema_extra=NOT_PHI)
    data: PatientData = Field(
        default_factory=PatientData, description=_EVENT_DATA, json_schema_extra=PHI
    )


class AppointmentBookedEvent(CoreEventEnvelope):
    """Outreach asks the patient to confirm and reminds them before the start (24 h and 2 h by
    default). An appointment already started is not messaged."""

    type: Literal["appointment.booked"] = Field(description=_EVENT_TYPE, json_schema_extra=NOT_PHI)
    data: BookedAppointmentData = Field(description=_EVENT_DATA, json_schema_extra=PHI)


class AppointmentRescheduledEvent(CoreEventEnvelope):
    """The appointment moved: its pending messages are cancelled and planned again for the new
    time."""

    type: Literal["appointment.rescheduled"] = Field(
        description=_EVENT_TYPE, json_schema_extra=NOT_PHI
    )
    data: BookedAppointmentData = Field(description=_EVENT_DATA, json_schema_extra=PHI)


class AppointmentCancelledEvent(CoreEventEnvelope):
    """The appointment is off: its pending messages are cancelled."""

    type: Literal["appointment.cancelled"] = Field(
        description=_EVENT_TYPE, json_schema_extra=NOT_PHI
    )
    data: AppointmentData = Field(description=_EVENT_DATA, json_schema_extra=PHI)


class AppointmentNoShowEvent(CoreEventEnvelope):
    """The patient missed it; outreach invites them to book again (within 3 days)."""

    type: Literal["appointment.no_show"] = Field(description=_EVENT_TYPE, json_schema_extra=NOT_PHI)
    data: AppointmentData = Field(description=_EVENT_DATA, json_schema_extra=PHI)


class AppointmentAttendedEvent(CoreEventEnvelope):
    """The patient came. Outreach records the visit in its appointment facts (segments select on
    the last attended visit); it sends nothing."""

    type: Literal["appointment.attended"] = Field(
        description=_EVENT_TYPE, json_schema_extra=NOT_PHI
    )
    data: AppointmentData = Field(description=_EVENT_DATA, json_schema_extra=PHI)


class LabResultReadyEvent(CoreEventEnvelope):
    """Outreach tells the patient a result is in the portal (within 2 days); the test name appears
    only where the channel's PHI policy allows it."""

    type: Literal["lab.result_ready"] = Field(description=_EVENT_TYPE, json_schema_extra=NOT_PHI)
    data: LabResultData = Field(description=_EVENT_DATA, json_schema_extra=PHI)


class RefillDueEvent(CoreEventEnvelope):
    """Outreach reminds the patient to renew a prescription (within 3 days); the medication appears
    only where the channel's PHI policy allows it."""

    type: Literal["rx.refill_due"] = Field(description=_EVENT_TYPE, json_schema_extra=NOT_PHI)
    data: RefillData = Field(description=_EVENT_DATA, json_schema_extra=PHI)


class CommRequestedEvent(CoreEventEnvelope):
    """A request to send the patient one message for a purpose; ``POST /api/v1/comm/schedule``
    publishes the same."""

    type: Literal["comm.requested"] = Field(description=_EVENT_TYPE, json_schema_extra=NOT_PHI)
    data: CommRequestData = Field(description=_EVENT_DATA, json_schema_extra=PHI)


CORE_EVENT_MODELS: tuple[type[CoreEventEnvelope], ...] = (
    PatientUpsertedEvent,
    AppointmentBookedEvent,
    AppointmentRescheduledEvent,
    AppointmentCancelledEvent,
    AppointmentNoShowEvent,
    AppointmentAttendedEvent,
    LabResultReadyEvent,
    RefillDueEvent,
    CommRequestedEvent,
)


# ---- the topics outreach writes ----


class SendRequest(BaseModel):
    """``outreach.send.<channel>``: a claimed job to send (key: patient id)."""

    model_config = _PUBLISHED

    job_id: int = Field(description="The communication job to send.", json_schema_extra=NOT_PHI)
    attempt: int = Field(
        default=0,
        description="Which attempt this is (0 first); a stale attempt sends nothing.",
        json_schema_extra=NOT_PHI,
    )


class StatusUpdate(BaseModel):
    """``outreach.status``: a provider's delivery status, normalised (key: provider message id)."""

    model_config = _PUBLISHED

    provider: str = Field(
        description="Who reported it (twilio, sendgrid, whatsapp...).", json_schema_extra=NOT_PHI
    )
    provider_message_id: StrId = Field(
        description="The provider's id of the message.", json_schema_extra=NOT_PHI
    )
    status: str = Field(
        description="sent, delivered, opened, clicked, failed or bounced; unsubscribed when the "
        "recipient opted out through the provider (a spam report, an unsubscribe).",
        json_schema_extra=NOT_PHI,
    )
    occurred_at: AwareDatetime = Field(
        description="When the provider saw it.", json_schema_extra=NOT_PHI
    )
    error_code: str | None = Field(
        default=None,
        description="The provider's error code, if it failed.",
        json_schema_extra=NOT_PHI,
    )
    price: Decimal | None = Field(
        default=None,
        ge=0,
        description="What the provider charged for the message, when it reports it (Twilio's "
        "Price, made positive), in price_unit.",
        json_schema_extra=NOT_PHI,
    )
    price_unit: str | None = Field(
        default=None,
        max_length=8,
        description="The currency of price (ISO 4217, e.g. USD).",
        json_schema_extra=NOT_PHI,
    )
    # Echoed by providers that carry it (Twilio callback URL, SendGrid custom args).
    job_id: StrId | None = Field(
        default=None,
        description="The job, when the provider echoes it: lets a status that overtakes the "
        "send's receipt find its job.",
        json_schema_extra=NOT_PHI,
    )
    raw: dict[str, Any] = Field(
        default_factory=dict,
        description="The provider's own fields, as received (they include the recipient).",
        json_schema_extra=PHI,
    )


class InboundEnvelope(BaseModel):
    """``outreach.inbound``: a patient's message as a provider delivered it (key: sender
    address)."""

    model_config = ConfigDict(
        populate_by_name=True, json_schema_serialization_defaults_required=True
    )

    provider: str = Field(
        description="Who delivered it (twilio, sendgrid, whatsapp...).", json_schema_extra=NOT_PHI
    )
    channel: Channel = Field(description="The channel it came on.", json_schema_extra=NOT_PHI)
    from_: str = Field(
        alias="from", description="The sender's number or address.", json_schema_extra=PHI
    )
    to: str | None = Field(
        default=None,
        description="The clinic number or address it was sent to.",
        json_schema_extra=NOT_PHI,
    )
    body: str = Field(description="The message text.", json_schema_extra=PHI)
    received_at: AwareDatetime = Field(
        description="When the provider received it.", json_schema_extra=NOT_PHI
    )
    provider_message_id: StrId = Field(
        description="The provider's id of the message; a redelivery repeats it and is ignored.",
        json_schema_extra=NOT_PHI,
    )

    def __repr__(self) -> str:  # personal fields masked
        return f"InboundEnvelope(provider={self.provider!r}, id={self.provider_message_id!r})"

    __str__ = __repr__


class OutcomeEnvelope(BaseModel):
    """``outreach.outcomes``: what the core platform should know (confirmations, opt-outs...),
    around its ``data`` (key: patient id)."""

    model_config = _PUBLISHED

    type: str = Field(description="What happened.", json_schema_extra=NOT_PHI)
    occurred_at: AwareDatetime = Field(
        description="When: the reply's arrival, or the moment the job failed.",
        json_schema_extra=NOT_PHI,
    )
    patient_id: StrId | None = Field(
        default=None, description="The patient concerned.", json_schema_extra=NOT_PHI
    )
    org_id: StrId | None = Field(
        default=None, description="The patient's organisation.", json_schema_extra=NOT_PHI
    )
    appointment_id: StrId | None = Field(
        default=None, description="The appointment concerned, if any.", json_schema_extra=NOT_PHI
    )
    job_id: int | None = Field(
        default=None,
        description="The outreach job (message) concerned, if any.",
        json_schema_extra=NOT_PHI,
    )


class Outcome(OutcomeEnvelope):
    """An outcome as the publishers build it today; the per-type models below say what ``data``
    holds for each type."""

    data: dict[str, Any] = Field(
        default_factory=dict, description="The facts of this outcome.", json_schema_extra=NOT_PHI
    )


_INTENT = "What the reply was read as."


class AppointmentAnswerData(BaseModel):
    """What a patient's answer about an appointment was, and how it was read."""

    channel: Channel = Field(
        description="The channel the patient replied on.", json_schema_extra=NOT_PHI
    )
    intent: str = Field(description=_INTENT, json_schema_extra=NOT_PHI)
    confidence: float = Field(
        ge=0, le=1, description="How sure the reading is (0 to 1).", json_schema_extra=NOT_PHI
    )
    matched_rule: str | None = Field(
        description="Which parser rule decided, if a rule did.", json_schema_extra=NOT_PHI
    )
    language: str | None = Field(
        description="The reply's language (ISO 639-1), if recognised.", json_schema_extra=NOT_PHI
    )
    inbound_id: int = Field(
        description="Outreach's id of the stored reply.", json_schema_extra=NOT_PHI
    )


class ConfirmAnswerData(AppointmentAnswerData):
    """A patient's confirmation, and how it was read."""

    intent: Literal["confirm"] = Field(description=_INTENT, json_schema_extra=NOT_PHI)


class RescheduleAnswerData(AppointmentAnswerData):
    """A patient's request for another time, and how it was read."""

    intent: Literal["reschedule"] = Field(description=_INTENT, json_schema_extra=NOT_PHI)


class CancelAnswerData(AppointmentAnswerData):
    """A patient's request to cancel, and how it was read."""

    intent: Literal["cancel"] = Field(description=_INTENT, json_schema_extra=NOT_PHI)


_SHARED_ADDRESS = (
    "Present (true) only on the copy for another patient who shares the address the reply "
    "came from."
)


class OptedOutData(BaseModel):
    """A STOP, or an e-mail unsubscribe link: which channels the patient no longer receives
    messages on."""

    channels: list[Channel] = Field(
        description="The channels opted out.", json_schema_extra=NOT_PHI
    )
    stop_all: bool = Field(
        description="The patient asked to stop every channel (STOPALL).", json_schema_extra=NOT_PHI
    )
    matched_rule: str | None = Field(
        default=None,
        description="Which keyword rule decided (e.g. compliance:STOP); null for a link.",
        json_schema_extra=NOT_PHI,
    )
    inbound_id: int | None = Field(
        default=None,
        description="Outreach's id of the stored reply; absent for an unsubscribe link.",
        json_schema_extra=NOT_PHI,
    )
    channel: Channel = Field(
        description="The channel the patient replied on, or the link's channel (email).",
        json_schema_extra=NOT_PHI,
    )
    via: Literal["reply", "unsubscribe_link"] = Field(
        default="reply",
        description="How the patient opted out: a reply (STOP...) or the one-click unsubscribe "
        "link of a marketing e-mail (RFC 8058).",
        json_schema_extra=NOT_PHI,
    )
    campaign_id: int | None = Field(
        default=None,
        description="The campaign whose e-mail carried the unsubscribe link, if any.",
        json_schema_extra=NOT_PHI,
    )
    shared_address: bool = Field(
        default=False, description=_SHARED_ADDRESS, json_schema_extra=NOT_PHI
    )


class OptedInData(BaseModel):
    """A START: the channel the patient receives messages on again."""

    channels: list[Channel] = Field(
        description="The channels opted back in.", json_schema_extra=NOT_PHI
    )
    matched_rule: str | None = Field(
        description="Which keyword rule decided (e.g. compliance:START).", json_schema_extra=NOT_PHI
    )
    inbound_id: int = Field(
        description="Outreach's id of the stored reply.", json_schema_extra=NOT_PHI
    )
    channel: Channel = Field(
        description="The channel the patient replied on.", json_schema_extra=NOT_PHI
    )
    stop_all: bool = Field(
        default=False,
        description="Present (false) only on the copy for another patient who shares the address.",
        json_schema_extra=NOT_PHI,
    )
    shared_address: bool = Field(
        default=False, description=_SHARED_ADDRESS, json_schema_extra=NOT_PHI
    )


class CommFailedData(BaseModel):
    """A message outreach gave up on."""

    purpose: Purpose = Field(
        description="Why the patient was to be contacted.", json_schema_extra=NOT_PHI
    )
    channel: Channel = Field(
        description="The channel it last failed on.", json_schema_extra=NOT_PHI
    )
    error: str = Field(
        max_length=300,
        description="Why, without personal data: the provider's error class and code, or why "
        "no message could be built.",
        json_schema_extra=NOT_PHI,
    )


_OUTCOME_TYPE = "The outcome type; fixed for this model."
_OUTCOME_DATA = "The facts of this outcome."


class AppointmentConfirmedOutcome(OutcomeEnvelope):
    """The patient confirmed the appointment a message asked about."""

    type: Literal["appointment.confirmed"] = Field(
        description=_OUTCOME_TYPE, json_schema_extra=NOT_PHI
    )
    data: ConfirmAnswerData = Field(description=_OUTCOME_DATA, json_schema_extra=NOT_PHI)


class AppointmentRescheduleRequestedOutcome(OutcomeEnvelope):
    """The patient wants another time (they were sent the booking link, or staff were asked to
    call)."""

    type: Literal["appointment.reschedule_requested"] = Field(
        description=_OUTCOME_TYPE, json_schema_extra=NOT_PHI
    )
    data: RescheduleAnswerData = Field(description=_OUTCOME_DATA, json_schema_extra=NOT_PHI)


class AppointmentCancelRequestedOutcome(OutcomeEnvelope):
    """The patient asked to cancel; the core platform decides."""

    type: Literal["appointment.cancel_requested"] = Field(
        description=_OUTCOME_TYPE, json_schema_extra=NOT_PHI
    )
    data: CancelAnswerData = Field(description=_OUTCOME_DATA, json_schema_extra=NOT_PHI)


class PatientOptedOutOutcome(OutcomeEnvelope):
    """No more messages on these channels until the patient opts back in. One per patient at the
    address (``data.shared_address`` on the others)."""

    type: Literal["patient.opted_out"] = Field(description=_OUTCOME_TYPE, json_schema_extra=NOT_PHI)
    data: OptedOutData = Field(description=_OUTCOME_DATA, json_schema_extra=NOT_PHI)


class PatientOptedInOutcome(OutcomeEnvelope):
    """The patient may be messaged on the channel again. One per patient at the address
    (``data.shared_address`` on the others)."""

    type: Literal["patient.opted_in"] = Field(description=_OUTCOME_TYPE, json_schema_extra=NOT_PHI)
    data: OptedInData = Field(description=_OUTCOME_DATA, json_schema_extra=NOT_PHI)


class CommFailedOutcome(OutcomeEnvelope):
    """A message could not be delivered after its retries and fallbacks."""

    type: Literal["comm.failed"] = Field(description=_OUTCOME_TYPE, json_schema_extra=NOT_PHI)
    data: CommFailedData = Field(description=_OUTCOME_DATA, json_schema_extra=NOT_PHI)


OUTCOME_MODELS: tuple[type[OutcomeEnvelope], ...] = (
    AppointmentConfirmedOutcome,
    AppointmentRescheduleRequestedOutcome,
    AppointmentCancelRequestedOutcome,
    PatientOptedOutOutcome,
    PatientOptedInOutcome,
    CommFailedOutcome,
)
TypedOutcome = (
    AppointmentConfirmedOutcome
    | AppointmentRescheduleRequestedOutcome
    | AppointmentCancelRequestedOutcome
    | PatientOptedOutOutcome
    | PatientOptedInOutcome
    | CommFailedOutcome
)
_TYPED_OUTCOME: TypeAdapter[TypedOutcome] = TypeAdapter(
    Annotated[TypedOutcome, Field(discriminator="type")]
)


def typed_outcome(fields: Mapping[str, Any]) -> TypedOutcome:
    """The per-type outcome model for ``fields`` (chosen by ``type``), validated against the
    published contract before it is published. Serialise with ``exclude_unset=True``: a field
    left at its default (``shared_address``) is then absent, as the contract documents."""
    return _TYPED_OUTCOME.validate_python(dict(fields))


class StaffInboxItem(BaseModel):
    """``outreach.staff_inbox``: a reply a person must read (key: patient id, if known).

    It carries the body and the sender's address because staff act on them; neither is ever
    logged, and ``repr`` masks both.
    """

    model_config = _PUBLISHED

    inbound_id: int = Field(
        description="Outreach's id of the stored reply.", json_schema_extra=NOT_PHI
    )
    patient_id: StrId | None = Field(
        description="Whose reply it is, if the sender is known.", json_schema_extra=NOT_PHI
    )
    org_id: StrId | None = Field(
        description="The patient's organisation, if known.", json_schema_extra=NOT_PHI
    )
    channel: Channel = Field(description="The channel it came on.", json_schema_extra=NOT_PHI)
    reason: str = Field(
        description="Why a person must read it (unclassified, unknown_sender, "
        "no_matching_request, no_appointment, opted_out_no_reply, "
        "cancel_keyword_with_appointment).",
        json_schema_extra=NOT_PHI,
    )
    intent: str = Field(
        description="What the reply was read as (confirm, reschedule, cancel, stop, start, help "
        "or other).",
        json_schema_extra=NOT_PHI,
    )
    confidence: float = Field(
        description="How sure the reading is (0 to 1).", json_schema_extra=NOT_PHI
    )
    language: str | None = Field(
        description="The reply's language (ISO 639-1), if recognised.", json_schema_extra=NOT_PHI
    )
    job_id: int | None = Field(
        description="The job (message) it answers, if one matched.", json_schema_extra=NOT_PHI
    )
    provider: str = Field(description="Who delivered it.", json_schema_extra=NOT_PHI)
    provider_message_id: StrId = Field(
        description="The provider's id of the message.", json_schema_extra=NOT_PHI
    )
    received_at: AwareDatetime = Field(
        description="When the provider received it.", json_schema_extra=NOT_PHI
    )
    from_address: str = Field(description="The sender's number or address.", json_schema_extra=PHI)
    body: str = Field(description="The message text.", json_schema_extra=PHI)

    def __repr__(self) -> str:
        return (
            f"StaffInboxItem(inbound_id={self.inbound_id!r}, patient_id={self.patient_id!r}, "
            f"reason={self.reason!r}, body=<{len(self.body)} chars>)"
        )

    __str__ = __repr__  # pydantic's str() would list every field, the body included


class DlqEntry(BaseModel):
    """``outreach.dlq``: a message that could not be handled, where, when and why.

    The topic carries no personal data: ``error`` is PHI-free by construction
    (``outreach.dead_letters``) and the original message is sealed (encrypted and
    authenticated with the dead-letter key), so only operators holding the key can read or
    replay it. Key: the original message's key.
    """

    model_config = _PUBLISHED

    entry_id: str = Field(
        description="This entry's own id (operators name it to show, replay or discard it).",
        json_schema_extra=NOT_PHI,
    )
    source_topic: str = Field(
        description="The topic the message came from.", json_schema_extra=NOT_PHI
    )
    stage: str = Field(
        description="Where it failed (e.g. orchestrator.parse, channel.send).",
        json_schema_extra=NOT_PHI,
    )
    kind: Literal["malformed", "processing", "send"] = Field(
        default="malformed",
        description="malformed: it could not be understood; processing: handling it kept "
        "failing; send: the message could not be delivered.",
        json_schema_extra=NOT_PHI,
    )
    error: str = Field(
        description="Why, without personal data: the error's type, and its text only when "
        "outreach wrote it and it names no personal data (for a malformed message: the fields "
        "at fault and what is wrong with them, never their values). At most 500 characters.",
        json_schema_extra=NOT_PHI,
    )
    failed_at: AwareDatetime = Field(description="When it failed.", json_schema_extra=NOT_PHI)
    key: str | None = Field(
        default=None,
        description="The original message's key (a patient id, or for outreach.inbound a "
        "bucket of the sender's address that names nobody).",
        json_schema_extra=NOT_PHI,
    )
    org_id: str | None = Field(
        default=None,
        description="The organisation the message belongs to, when the stage that failed knew "
        "it for certain (a send of a job); absent otherwise (a malformed message, a provider's "
        "webhook). The console shows an organisation's admins only its own entries.",
        json_schema_extra=NOT_PHI,
    )
    original_sealed: str = Field(
        description="The original message value, sealed (Fernet: AES-128-CBC with an "
        "HMAC-SHA256) with the deployment's dead-letter key; at most 512 KiB before sealing.",
        json_schema_extra=NOT_PHI,
    )


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
