"""The bodies of ``POST /api/v1/comm/schedule`` and of its answer (also the status URL's)."""

from __future__ import annotations

import json
import re
from datetime import datetime
from typing import Any, Literal

from pydantic import AwareDatetime, BaseModel, ConfigDict, Field, field_validator, model_validator

from outreach.api.delivery_estimate import TYPICAL_DELIVERY_LATENCY
from outreach.domain import Channel, JobStatus, Purpose, SuppressionReason

MAX_CONTEXT_BYTES = 16 * 1024  # event facts and variables for the template, not documents
MAX_ID = 2**63 - 1  # database ids are signed 64-bit integers
MAX_VARIABLES = 50
MAX_VARIABLE_CHARS = 1000
_VARIABLE_NAME = re.compile(r"[A-Za-z][A-Za-z0-9_]{0,63}")
# Control characters other than tab and newline have no place in a message.
_CONTROL = re.compile(r"[\x00-\x08\x0b-\x1f\x7f]")

VariableValue = str | int | float | bool | None


class ScheduleRequest(BaseModel):
    """A request to contact one patient for one purpose.

    Two sets of names are accepted: ``preferred_channel`` is another name for ``channel``,
    and ``is_urgent: true`` means purpose ``urgent``. ``event_id`` makes retries
    harmless: the same id always answers the same job.
    """

    model_config = ConfigDict(
        extra="forbid",
        json_schema_extra={
            "examples": [
                {
                    "event_id": "3f6c1e0a-request-1",
                    "org_id": "org-1",
                    "patient_id": "pat-42",
                    "purpose": "lab_ready",
                    "preferred_channel": "sms",
                    "send_at": "2026-11-21T15:00:00Z",
                    "variables": {"result_id": "r-981"},
                }
            ]
        },
    )

    event_id: str = Field(
        min_length=1,
        max_length=64,
        description="Your unique id for this request, used as its `request_id`. Sending the "
        "same id again schedules nothing new and answers the job the first call created. It "
        "becomes the id of a `comm.requested` core event, so it must not collide with the core "
        "platform's event ids.",
    )
    org_id: str | None = Field(
        default=None,
        min_length=1,
        max_length=64,
        description="The patient's organisation. It is always the credential's: leave it out, "
        "or give that same organisation (another one is refused with 403).",
    )
    patient_id: str = Field(min_length=1, max_length=64)
    provider_id: str | None = Field(
        default=None,
        min_length=1,
        max_length=64,
        description="The provider whose "
        "preferences apply between the organisation's and the patient's.",
    )
    purpose: Purpose | None = Field(
        default=None,
        description="Why the patient is contacted; decides consent and quiet-hour rules. May be "
        "left out when `is_urgent` is true (purpose `urgent`) or `template_id` names a template "
        "(its purpose).",
    )
    is_urgent: bool | None = Field(
        default=None,
        description="True means purpose `urgent`: it may be sent inside quiet hours, still "
        "needs contact consent and never goes to an opted-out channel. It cannot be combined "
        "with another purpose; false only confirms a non-urgent purpose.",
    )
    channel: Channel | None = Field(
        default=None,
        description="Send on this channel only (consent still decides: if the patient cannot "
        "be reached there, the request is suppressed, not moved to another channel). Left "
        "out, the patient's preferences choose.",
    )
    preferred_channel: Channel | None = Field(
        default=None, description="Another name for `channel`; give one or the other."
    )
    template_id: int | None = Field(
        default=None,
        gt=0,
        le=MAX_ID,
        description="A template version to use. It must exist, belong to the organisation (or "
        "be global) and fit the purpose and channel; the channel defaults to the template's. "
        "Recorded with the job; message building does not honour the pin yet and selects the "
        "active version of the family.",
    )
    variables: dict[str, VariableValue] = Field(
        default_factory=dict,
        description=f"Extra values for the template: at most {MAX_VARIABLES} names (letters, "
        f"digits, `_`), each a string of at most {MAX_VARIABLE_CHARS} characters, a number, a "
        "boolean or null. The channel's PHI policy applies to them as to any fact; recorded "
        "with the job, not yet read by message building.",
    )
    campaign_id: int | None = Field(
        default=None,
        gt=0,
        le=MAX_ID,
        description="A campaign of the organisation this message belongs to (recorded with "
        "the job).",
    )
    send_at: AwareDatetime | None = Field(
        default=None,
        description="Earliest send time (with a zone). Quiet hours and caps may move it later; "
        "left out, as soon as the rules allow.",
    )
    deadline: AwareDatetime | None = Field(
        default=None,
        description="Latest useful send time; past it the request is suppressed. Default: a "
        "week after `send_at`.",
    )
    appointment_id: str | None = Field(
        default=None,
        min_length=1,
        max_length=64,
        description="The appointment the message is about: cancelling it cancels the job.",
    )
    context: dict[str, Any] = Field(
        default_factory=dict,
        description="Event facts for the template (e.g. `result_id`, `appointment_starts_at`).",
    )

    @field_validator("context")
    @classmethod
    def _small_context(cls, value: dict[str, Any]) -> dict[str, Any]:
        if len(json.dumps(value, default=str)) > MAX_CONTEXT_BYTES:
            raise ValueError(f"context is larger than {MAX_CONTEXT_BYTES} bytes")
        return value

    @field_validator("variables")
    @classmethod
    def _clean_variables(cls, value: dict[str, VariableValue]) -> dict[str, VariableValue]:
        # Messages name the rule broken, never the variable or its value.
        if len(value) > MAX_VARIABLES:
            raise ValueError(f"at most {MAX_VARIABLES} variables")
        for name, item in value.items():
            if not _VARIABLE_NAME.fullmatch(name):
                raise ValueError("variable names are a letter, then letters, digits or _ (<= 64)")
            if isinstance(item, str):
                if len(item) > MAX_VARIABLE_CHARS:
                    raise ValueError(f"variable values are at most {MAX_VARIABLE_CHARS} chars")
                if _CONTROL.search(item):
                    raise ValueError("variable values may not hold control characters")
        return value

    @model_validator(mode="after")
    def _consistent(self) -> ScheduleRequest:
        if self.send_at and self.deadline and self.deadline < self.send_at:
            raise ValueError("deadline is before send_at")
        size = len(json.dumps([self.context, self.variables], default=str))
        if size > MAX_CONTEXT_BYTES:
            raise ValueError(f"context and variables together exceed {MAX_CONTEXT_BYTES} bytes")
        return self


RequestStatus = Literal["pending"] | JobStatus
_LATENCIES = ", ".join(
    f"{channel.value} {int(latency.total_seconds())} s"
    for channel, latency in TYPICAL_DELIVERY_LATENCY.items()
)


class ScheduleAnswer(BaseModel):
    """What became of a schedule request: the job the orchestrator planned, or ``pending``."""

    request_id: str = Field(description="The request's `event_id`.")
    status: RequestStatus = Field(
        description="`pending` until the orchestrator planned the request, then the job's "
        "status: `queued` (planned), `processing`, `sent`, `delivered`, `opened`, `clicked`, "
        "`replied`, or an end without delivery: `suppressed` (see `suppression_reason`), "
        "`cancelled`, `failed`, `bounced`."
    )
    job_id: int | None = Field(description="The job's id; null while pending.")
    scheduled_at: datetime | None = Field(
        description="When the job is planned to go out (after quiet hours, caps and "
        "`send_at`); null while pending or when suppressed."
    )
    channel: Channel | None = Field(
        description="The channel chosen; null while pending or when suppressed."
    )
    estimated_delivery: datetime | None = Field(
        description="An estimate, not a promise: the reported delivery time once known, "
        "otherwise `scheduled_at` (or the send time) plus a typical latency of the channel "
        f"({_LATENCIES}). Null while pending or when the job ended without delivery."
    )
    suppression_reason: SuppressionReason | None = Field(
        default=None, description="Why the job will not be sent, when `status` is `suppressed`."
    )
    status_url: str = Field(
        description="Where to ask again: `GET` answers this same shape (202 while pending)."
    )
