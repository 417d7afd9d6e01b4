"""``POST /api/v1/comm/schedule`` and ``GET /api/v1/comm/requests/{request_id}``.

A request becomes a ``comm.requested`` core event on ``core.events`` (keyed by patient), so the
orchestrator plans it like every other job: one path, one set of rules, one idempotency key.
The API then waits briefly (``schedule_answer_wait_seconds``) for that plan and answers it:
201 with the job (queued on a channel at a time, or suppressed with the reason), 200 when the
same request was planned before (nothing is published again), or 202 with a status URL when
the orchestrator has not planned it yet.
"""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any

from fastapi import APIRouter, Path, Response, status
from starlette.concurrency import run_in_threadpool

from outreach import topics
from outreach.api.access import Caller, PlatformCaller
from outreach.api.dependencies import ApiServices, ServicesDep
from outreach.api.errors import ApiError, ErrorBody
from outreach.api.publisher import PublishFailed, hand_over
from outreach.api.request_tracking import (
    COMM_REQUESTED,
    PendingRequests,
    find_jobs,
    job_answer,
    pending_answer,
    request_job_keys,
    status_url,
    wait_for_jobs,
)
from outreach.api.schedule_models import ScheduleAnswer, ScheduleRequest
from outreach.domain import Purpose
from outreach.events import CommRequestData, CoreEvent, MalformedEvent
from outreach.planning import PlannedJob, plan_comm_request
from outreach.redis_store import KeySpace
from outreach.sql.request_repository import CampaignRef, RequestedJob, TemplateRef
from outreach.sql.store import Store

router = APIRouter(prefix="/api/v1/comm", tags=["schedule"])

# Keys of ``context`` that carry these request fields to the job (read by nothing else yet).
TEMPLATE_ID, VARIABLES, CAMPAIGN_ID = "template_id", "variables", "campaign_id"

_ERROR_RESPONSES: dict[int | str, dict[str, Any]] = {
    404: {
        "model": ErrorBody,
        "description": "Unknown patient: outreach has not stored this patient in the caller's "
        "organisation (yet: publish `patient.upserted` first).",
    },
    409: {
        "model": ErrorBody,
        "description": "The `event_id` was already used for a different request.",
    },
    422: {
        "model": ErrorBody,
        "description": "Invalid request: field paths and messages, never the values.",
    },
    503: {
        "model": ErrorBody,
        "description": "Kafka did not take the request; retry (`Retry-After`).",
    },
}


def _error(location: str, message: str) -> dict[str, str]:
    return {"loc": location, "msg": message, "type": "value_error"}


def _references(
    store: Store, patient_id: str, template_id: int | None, campaign_id: int | None
) -> tuple[str | None, TemplateRef | None, CampaignRef | None]:
    """The patient's organisation and the referenced template and campaign, as stored."""
    with store.reading() as repos:
        patient_org = repos.patients.org_of(patient_id)
        template = repos.requests.template(template_id) if template_id is not None else None
        campaign = repos.requests.campaign(campaign_id) if campaign_id is not None else None
    return patient_org, template, campaign


def _pending_requests(services: ApiServices) -> PendingRequests:  # markers hold the org
    settings = services.settings
    return PendingRequests(
        services.redis,
        KeySpace(settings.redis_key_prefix),
        settings.schedule_pending_marker_seconds,
    )


def _comm_request_data(
    request: ScheduleRequest,
    org_id: str,
    template: TemplateRef | None,
    campaign: CampaignRef | None,
) -> CommRequestData:
    """The ``comm.requested`` data, or a 422 naming every field that does not fit."""
    errors: list[dict[str, str]] = []
    channel = request.channel
    if request.preferred_channel is not None:
        if channel is not None and channel != request.preferred_channel:
            errors.append(_error("body.preferred_channel", "differs from channel"))
        channel = request.preferred_channel

    purpose = request.purpose
    if request.is_urgent is True:
        if purpose not in (None, Purpose.URGENT):
            errors.append(_error("body.is_urgent", "is_urgent is only for purpose urgent"))
        purpose = Purpose.URGENT
    elif request.is_urgent is False and purpose is Purpose.URGENT:
        errors.append(_error("body.is_urgent", "false contradicts purpose urgent"))

    if request.template_id is not None:
        if template is None or template.org_id not in (None, org_id):
            errors.append(_error("body.template_id", "unknown template"))
        else:
            if purpose is None:
                purpose = template.purpose
            elif template.purpose is not purpose:
                errors.append(_error("body.template_id", "template is for another purpose"))
            if channel is None:
                channel = template.channel  # a template version is written for one channel
            elif template.channel is not channel:
                errors.append(_error("body.template_id", "template is for another channel"))
    if request.campaign_id is not None and (campaign is None or campaign.org_id != org_id):
        errors.append(_error("body.campaign_id", "unknown campaign"))
    if purpose is None:
        errors.append(_error("body.purpose", "required unless is_urgent or template_id gives it"))

    context = dict(request.context)
    for name, value, given in (
        (TEMPLATE_ID, request.template_id, request.template_id is not None),
        (VARIABLES, request.variables, bool(request.variables)),
        (CAMPAIGN_ID, request.campaign_id, request.campaign_id is not None),
    ):
        if not given:
            continue
        if name in context:
            errors.append(_error(f"body.context.{name}", f"given twice: also the field {name}"))
        context[name] = value
    if errors:
        raise ApiError(422, "validation_error", errors)
    assert purpose is not None
    return CommRequestData(
        purpose=purpose,
        channel=channel,
        send_at=request.send_at,
        deadline=request.deadline,
        appointment_id=request.appointment_id,
        context=context,
    )


def _audit_request(store: Store, caller: Caller, planned: PlannedJob, now: datetime) -> None:
    """Record who asked for the message, before it is handed over (a send starts here)."""
    with store.transaction() as repos:
        repos.audit.record(
            [
                caller.audit(
                    "schedule_requested",
                    now,
                    patient_id=planned.patient_id,
                    detail={
                        "event_id": planned.source_event_id,
                        "purpose": planned.purpose.value,
                    },
                )
            ]
        )


def _same_request(job: RequestedJob, planned: PlannedJob) -> bool:
    return (job.idempotency_key, job.org_id, job.patient_id) == (
        planned.idempotency_key,
        planned.org_id,
        planned.patient_id,
    )


def _answer_for(
    found: dict[str, RequestedJob], planned: PlannedJob, response: Response, code: int
) -> ScheduleAnswer:
    """The answer for the jobs found under the request's keys: its own job, or a conflict."""
    job = found.get(planned.idempotency_key)
    if job is None or not _same_request(job, planned):
        raise ApiError(409, "conflict", "event_id was already used for a different request")
    response.status_code = code
    response.headers["Location"] = status_url(planned.source_event_id)
    return job_answer(planned.source_event_id, job)


@router.post(
    "/schedule",
    status_code=status.HTTP_201_CREATED,
    response_model=ScheduleAnswer,
    response_description="Planned by this call: queued on a channel at a time, or suppressed "
    "with the reason.",
    responses={
        200: {"model": ScheduleAnswer, "description": "Planned before: the same request again."},
        202: {
            "model": ScheduleAnswer,
            "description": "Accepted but not planned yet (`status: pending`): follow "
            "`status_url` (also the `Location` header).",
        },
        **_ERROR_RESPONSES,
    },
)
async def schedule_communication(
    request: ScheduleRequest, response: Response, services: ServicesDep, caller: PlatformCaller
) -> ScheduleAnswer:
    """Schedule one message to one patient of the caller's organisation, and answer the plan.

    201: planned by this call (queued with channel and time, or suppressed with the reason).
    200: this `event_id` was planned before; nothing new is scheduled. 202: accepted, the plan
    is not ready within the API's wait; `status_url` answers once it is. 404: the patient is
    not known in the caller's organisation.
    """
    org_id = caller.own_org(request.org_id, "body.org_id")
    now = services.clock()
    if request.deadline is not None and request.deadline <= now:
        raise ApiError(
            422, "validation_error", [_error("body.deadline", "deadline is in the past")]
        )
    patient_org, template, campaign = await run_in_threadpool(
        _references, services.store, request.patient_id, request.template_id, request.campaign_id
    )
    data = _comm_request_data(request, org_id, template, campaign)
    event = CoreEvent(
        event_id=request.event_id,
        type=COMM_REQUESTED,
        occurred_at=now,
        org_id=org_id,
        provider_id=request.provider_id,
        patient_id=request.patient_id,
        data=data.model_dump(mode="json", exclude_none=True),
    )
    try:
        # The orchestrator's own planning: what it would refuse is refused here, with a 422.
        planned = plan_comm_request(event, data)
    except MalformedEvent as error:
        raise ApiError(422, "validation_error", [_error("body", str(error))]) from None
    if patient_org != org_id:  # another organisation's patient looks exactly like a missing one
        raise ApiError(404, "not_found", "unknown patient")

    keys = request_job_keys(request.event_id)
    found = await find_jobs(services.store, keys)
    if found:  # a retry: answer the first call's job, publish nothing
        return _answer_for(found, planned, response, status.HTTP_200_OK)

    value = event.model_dump_json().encode("utf-8")
    await run_in_threadpool(_audit_request, services.store, caller, planned, now)
    try:
        await hand_over(
            services.publisher, [(topics.CORE_EVENTS, request.patient_id.encode(), value)]
        )
    except PublishFailed:
        raise ApiError(
            503,
            "unavailable",
            "the request could not be queued; retry",
            headers={"Retry-After": "5"},
        ) from None

    found = await wait_for_jobs(
        services.store, keys, services.settings.schedule_answer_wait_seconds
    )
    if found:
        return _answer_for(found, planned, response, status.HTTP_201_CREATED)
    await run_in_threadpool(_pending_requests(services).mark, request.event_id, org_id)
    response.status_code = status.HTTP_202_ACCEPTED
    response.headers["Location"] = status_url(request.event_id)
    return pending_answer(request.event_id)


@router.get(
    "/requests/{request_id:path}",
    response_model=ScheduleAnswer,
    response_description="Planned: the job's plan and progress.",
    responses={
        202: {"model": ScheduleAnswer, "description": "Accepted, not planned yet (`pending`)."},
        404: {
            "model": ErrorBody,
            "description": "Unknown request id. A request accepted moments ago answers 404 "
            "too when the API has no Redis for its pending markers (or the marker expired).",
        },
    },
)
def request_status(
    request_id: Annotated[str, Path(min_length=1, max_length=64)],
    response: Response,
    services: ServicesDep,
    caller: PlatformCaller,
) -> ScheduleAnswer:
    """What became of a schedule request of the caller's organisation: the same shape as the
    schedule answer."""
    keys = request_job_keys(request_id)
    with services.store.reading() as repos:
        found = {
            key: job
            for key, job in repos.requests.jobs_by_keys(keys).items()
            if job.org_id == caller.org_id
        }
    if found:
        # One event is planned once, so at most one of its keys holds a job.
        job = min(found.values(), key=lambda j: j.id)
        return job_answer(request_id, job)
    if _pending_requests(services).is_pending(request_id, caller.org_id):
        response.status_code = status.HTTP_202_ACCEPTED
        return pending_answer(request_id)
    raise ApiError(404, "not_found", "unknown request")
