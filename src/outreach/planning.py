"""Core event -> the communications it calls for. Pure: no I/O, the clock is a parameter.

Each planned job carries a deterministic idempotency key (event id + purpose + step), so a
replayed or redelivered event plans the same keys and the database keeps the first of each.
Appointment events also carry a fact about their appointment (booked, cancelled, no-show,
attended) for the ``appointments`` table that segments and funnels read.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any, TypeVar

from pydantic import BaseModel, ValidationError

from outreach.domain import AppointmentFact, AppointmentStatus, Channel, Purpose
from outreach.events import (
    AppointmentData,
    CommRequestData,
    CoreEvent,
    LabResultData,
    MalformedEvent,
    PatientData,
    RefillData,
    describe_validation_error,
)

ModelT = TypeVar("ModelT", bound=BaseModel)

# How long a flexible purpose may wait for a good hour before it is pointless.
NO_SHOW_DEADLINE = timedelta(days=3)
LAB_READY_DEADLINE = timedelta(days=2)
RX_REFILL_DEADLINE = timedelta(days=3)
DEFAULT_REQUEST_DEADLINE = timedelta(days=7)


@dataclass(frozen=True, slots=True)
class PlannedJob:
    idempotency_key: str
    org_id: str
    patient_id: str
    provider_id: str | None
    purpose: Purpose
    requested_at: datetime
    deadline: datetime | None
    # The core event it answers; None for a campaign step.
    source_event_id: str | None
    appointment_id: str | None = None
    channel_hint: Channel | None = None
    # Channels the job may use at all (a campaign step: those its template family can render).
    channel_choices: frozenset[Channel] | None = None
    campaign_id: int | None = None
    variant: str | None = None
    # Event facts the template may need (appointment time, provider name, ...), never rendered text.
    context: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True, slots=True)
class EventPlan:
    event: CoreEvent
    patient: PatientData | None = None
    cancel_appointment_ids: tuple[str, ...] = ()
    jobs: tuple[PlannedJob, ...] = ()
    appointment: AppointmentFact | None = None
    ignored: bool = False


def _data(model: type[ModelT], event: CoreEvent) -> ModelT:
    try:
        return model.model_validate(event.data)
    except ValidationError as error:
        raise MalformedEvent(f"{event.type} data: {describe_validation_error(error)}") from None


def _job(
    event: CoreEvent,
    purpose: Purpose,
    step: str,
    requested_at: datetime,
    deadline: datetime | None,
    **extra: Any,
) -> PlannedJob:
    return PlannedJob(
        idempotency_key=f"{event.event_id}:{purpose.value}:{step}",
        org_id=event.org_id,
        patient_id=event.patient_id,
        provider_id=event.provider_id,
        purpose=purpose,
        requested_at=requested_at,
        deadline=deadline,
        source_event_id=event.event_id,
        **extra,
    )


def _appointment_fact(
    event: CoreEvent, appointment: AppointmentData, status: AppointmentStatus
) -> AppointmentFact:
    return AppointmentFact(
        appointment_id=appointment.appointment_id,
        org_id=event.org_id,
        patient_id=event.patient_id,
        provider_id=event.provider_id,
        starts_at=appointment.starts_at,
        status=status,
        event_id=event.event_id,
        event_type=event.type,
        occurred_at=event.occurred_at,
    )


def _appointment_context(appointment: AppointmentData) -> dict[str, Any]:
    context: dict[str, Any] = {"appointment_id": appointment.appointment_id}
    if appointment.starts_at:
        context["appointment_starts_at"] = appointment.starts_at.isoformat()
    if appointment.provider_display_name:
        context["provider_display_name"] = appointment.provider_display_name
    if appointment.location_name:
        context["location_name"] = appointment.location_name
    if appointment.reason:
        context["appointment_reason"] = appointment.reason
    return context


def _appointment_jobs(
    event: CoreEvent, appointment: AppointmentData, reminder_offsets: Sequence[timedelta]
) -> tuple[PlannedJob, ...]:
    if appointment.starts_at is None:
        raise MalformedEvent(f"{event.type} data: starts_at: Field required")
    starts_at = appointment.starts_at
    if starts_at <= event.occurred_at:
        return ()  # booked in the past (back-office entry): nothing to confirm or remind
    context = _appointment_context(appointment)
    jobs = [
        _job(
            event,
            Purpose.APPT_CONFIRM,
            "confirm",
            event.occurred_at,
            starts_at,
            appointment_id=appointment.appointment_id,
            context=context,
        )
    ]
    for offset in reminder_offsets:
        remind_at = starts_at - offset
        # A reminder whose moment has passed at booking adds nothing to the confirmation.
        if remind_at > event.occurred_at:
            step = f"before-{int(offset.total_seconds() // 60)}m"
            jobs.append(
                _job(
                    event,
                    Purpose.APPT_REMINDER,
                    step,
                    remind_at,
                    starts_at,
                    appointment_id=appointment.appointment_id,
                    context=context,
                )
            )
    return tuple(jobs)


def plan_event(event: CoreEvent, *, reminder_offsets: Sequence[timedelta]) -> EventPlan:
    """What ``event`` asks of outreach. Raises ``MalformedEvent`` when its data does not fit."""
    kind = event.type
    if kind == "patient.upserted":
        return EventPlan(event, patient=_data(PatientData, event))
    if kind == "appointment.booked":
        appointment = _data(AppointmentData, event)
        return EventPlan(
            event,
            jobs=_appointment_jobs(event, appointment, reminder_offsets),
            appointment=_appointment_fact(event, appointment, AppointmentStatus.BOOKED),
        )
    if kind == "appointment.rescheduled":
        appointment = _data(AppointmentData, event)
        return EventPlan(
            event,
            cancel_appointment_ids=(appointment.appointment_id,),
            jobs=_appointment_jobs(event, appointment, reminder_offsets),
            appointment=_appointment_fact(event, appointment, AppointmentStatus.BOOKED),
        )
    if kind == "appointment.cancelled":
        appointment = _data(AppointmentData, event)
        return EventPlan(
            event,
            cancel_appointment_ids=(appointment.appointment_id,),
            appointment=_appointment_fact(event, appointment, AppointmentStatus.CANCELLED),
        )
    if kind == "appointment.no_show":
        appointment = _data(AppointmentData, event)
        job = _job(
            event,
            Purpose.NO_SHOW,
            "follow-up",
            event.occurred_at,
            event.occurred_at + NO_SHOW_DEADLINE,
            appointment_id=appointment.appointment_id,
            context=_appointment_context(appointment),
        )
        return EventPlan(
            event,
            jobs=(job,),
            appointment=_appointment_fact(event, appointment, AppointmentStatus.NO_SHOW),
        )
    if kind == "appointment.attended":
        # A fact only (segments' "last attended visit"); no message follows a visit yet.
        appointment = _data(AppointmentData, event)
        return EventPlan(
            event, appointment=_appointment_fact(event, appointment, AppointmentStatus.ATTENDED)
        )
    if kind == "lab.result_ready":
        lab = _data(LabResultData, event)
        context = {"result_id": lab.result_id}
        if lab.test_name:
            context["lab_test_name"] = lab.test_name
        job = _job(
            event,
            Purpose.LAB_READY,
            "notify",
            event.occurred_at,
            event.occurred_at + LAB_READY_DEADLINE,
            context=context,
        )
        return EventPlan(event, jobs=(job,))
    if kind == "rx.refill_due":
        refill = _data(RefillData, event)
        context = {"prescription_id": refill.prescription_id}
        if refill.due_date:
            context["refill_due_date"] = refill.due_date
        if refill.medication:
            context["medication"] = refill.medication
        job = _job(
            event,
            Purpose.RX_REFILL,
            "notify",
            event.occurred_at,
            event.occurred_at + RX_REFILL_DEADLINE,
            context=context,
        )
        return EventPlan(event, jobs=(job,))
    if kind == "comm.requested":
        request = _data(CommRequestData, event)
        return EventPlan(event, jobs=(plan_comm_request(event, request),))
    return EventPlan(event, ignored=True)


def plan_comm_request(event: CoreEvent, request: CommRequestData) -> PlannedJob:
    """A direct schedule request (``comm.requested`` or ``POST /api/v1/comm/schedule``)."""
    requested_at = request.send_at or event.occurred_at
    deadline = request.deadline or requested_at + DEFAULT_REQUEST_DEADLINE
    if deadline < requested_at:
        raise MalformedEvent("comm.requested data: deadline is before send_at")
    return _job(
        event,
        request.purpose,
        "request",
        requested_at,
        deadline,
        appointment_id=request.appointment_id,
        channel_hint=request.channel,
        campaign_id=_campaign_id(request.context),
        context=dict(request.context),
    )


def _campaign_id(context: Mapping[str, Any]) -> int | None:
    """The campaign a direct request counts towards (``campaign_id`` in its context)."""
    value = context.get("campaign_id")
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int | str) or not str(value).isdigit():
        raise MalformedEvent("comm.requested data: context.campaign_id must be a campaign id")
    return int(value)


def reminder_offsets_from_hours(hours: Sequence[float]) -> tuple[timedelta, ...]:
    return tuple(timedelta(hours=h) for h in hours)
