"""``POST /api/v1/comm/schedule``: a direct request to contact a patient.

The request becomes a ``comm.requested`` core event on ``core.events`` (keyed by patient), so the
orchestrator plans it like every other job: one path, one set of rules, one idempotency key.
"""

from __future__ import annotations

import json
from typing import Any

from fastapi import APIRouter, status
from pydantic import AwareDatetime, BaseModel, ConfigDict, Field, field_validator, model_validator

from outreach import topics
from outreach.api.dependencies import ClockDep, PublisherDep
from outreach.api.errors import ApiError
from outreach.api.publisher import PublishFailed, hand_over
from outreach.domain import Channel, Purpose
from outreach.events import CommRequestData, CoreEvent, MalformedEvent
from outreach.planning import plan_comm_request

router = APIRouter(prefix="/api/v1/comm", tags=["schedule"])

COMM_REQUESTED = "comm.requested"
MAX_CONTEXT_BYTES = 16 * 1024  # event facts for the template, not documents


class ScheduleRequest(BaseModel):
    """A request to contact one patient for one purpose; ``event_id`` makes retries harmless."""

    model_config = ConfigDict(extra="forbid")

    event_id: str = Field(min_length=1, max_length=64)
    org_id: str = Field(min_length=1, max_length=64)
    patient_id: str = Field(min_length=1, max_length=64)
    provider_id: str | None = Field(default=None, min_length=1, max_length=64)
    purpose: Purpose
    channel: Channel | None = None
    send_at: AwareDatetime | None = None
    deadline: AwareDatetime | None = None
    appointment_id: str | None = Field(default=None, min_length=1, max_length=64)
    context: dict[str, Any] = Field(default_factory=dict)

    @field_validator("context")
    @classmethod
    def _small_context(cls, value: dict[str, Any]) -> dict[str, Any]:
        if len(json.dumps(value, default=str)) > MAX_CONTEXT_BYTES:
            raise ValueError(f"context is larger than {MAX_CONTEXT_BYTES} bytes")
        return value

    @model_validator(mode="after")
    def _deadline_after_send_at(self) -> ScheduleRequest:
        if self.send_at and self.deadline and self.deadline < self.send_at:
            raise ValueError("deadline is before send_at")
        return self


class ScheduleAccepted(BaseModel):
    status: str = "accepted"
    event_id: str
    idempotency_key: str


@router.post("/schedule", status_code=status.HTTP_202_ACCEPTED, response_model=ScheduleAccepted)
async def schedule_communication(
    request: ScheduleRequest, publisher: PublisherDep, clock: ClockDep
) -> ScheduleAccepted:
    """Validate, publish ``comm.requested`` and answer 202 with the job's idempotency key."""
    now = clock()
    if request.deadline is not None and request.deadline <= now:
        raise ApiError(
            422,
            "validation_error",
            [{"loc": "body.deadline", "msg": "deadline is in the past", "type": "value_error"}],
        )
    data = CommRequestData(
        purpose=request.purpose,
        channel=request.channel,
        send_at=request.send_at,
        deadline=request.deadline,
        appointment_id=request.appointment_id,
        context=request.context,
    )
    event = CoreEvent(
        event_id=request.event_id,
        type=COMM_REQUESTED,
        occurred_at=now,
        org_id=request.org_id,
        provider_id=request.provider_id,
        patient_id=request.patient_id,
        data=data.model_dump(mode="json", exclude_none=True),
    )
    try:
        # The orchestrator's own planning: what it would refuse is refused here, with a 422.
        planned = plan_comm_request(event, data)
    except MalformedEvent as error:
        raise ApiError(
            422, "validation_error", [{"loc": "body", "msg": str(error), "type": "value_error"}]
        ) from None
    value = event.model_dump_json().encode("utf-8")
    try:
        await hand_over(publisher, [(topics.CORE_EVENTS, request.patient_id.encode(), value)])
    except PublishFailed:
        raise ApiError(
            503,
            "unavailable",
            "the request could not be queued; retry",
            headers={"Retry-After": "5"},
        ) from None
    return ScheduleAccepted(event_id=request.event_id, idempotency_key=planned.idempotency_key)
