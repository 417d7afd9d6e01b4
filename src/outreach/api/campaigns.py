"""Campaigns (``comm_campaigns``): create, read, activate, pause, resume, complete, archive, and
their progress. Marketers and admins, for their own organisation: another organisation's
campaign answers 404 like a missing one, and a body naming another organisation is a 403.

A definition that does not hold together is a 422 listing each problem with its JSON pointer.
Activation is refused with 422 and the reasons when a template breaks the PHI policy (or lacks
an unsubscribe link, or a step has no template) or when the segment is empty; an action that
does not apply to the campaign's state is a 409 saying which actions do.
"""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Depends, Path, status
from pydantic import BaseModel, ConfigDict, Field

from outreach.api.access import Caller, allow
from outreach.api.dependencies import ClockDep, SettingsDep, StoreDep
from outreach.api.errors import ApiError
from outreach.campaigns import (
    BEST_CHANNEL,
    CampaignAction,
    CampaignDefinitionError,
    Condition,
    InvalidTransition,
)
from outreach.domain import Channel, Purpose, Role
from outreach.services.campaigns import (
    CampaignNotFound,
    CampaignRefused,
    CampaignStatus,
    StateChange,
    activate_campaign,
    campaign_status,
    change_campaign_state,
    create_campaign,
)
from outreach.sql.campaign_repository import CampaignRecord

router = APIRouter(prefix="/api/v1/campaigns", tags=["campaigns"])

CampaignId = Annotated[int, Path(ge=1)]
CampaignEditor = Annotated[Caller, Depends(allow(Role.MARKETER, Role.ADMIN))]


class StepBody(BaseModel):
    """One message of the sequence, timed from the patient's enrolment."""

    model_config = ConfigDict(extra="forbid")

    offset_hours: float = Field(default=0, ge=0, description="Hours after enrolment.")
    template_family: str = Field(description="The named template family to render.")
    channel: Channel | Literal["best"] = Field(
        default=BEST_CHANNEL,
        description="A channel, or `best`: the patient's best allowed channel the family covers.",
    )
    wait_until: Condition | None = Field(
        default=None, description="Send only once this holds (e.g. `clicked`)..."
    )
    wait_timeout_hours: float | None = Field(
        default=None, ge=0, description="...waiting at most this long after the offset, then skip."
    )


class CampaignBody(BaseModel):
    """A campaign definition (see docs/campaigns.md)."""

    model_config = ConfigDict(extra="forbid")

    org_id: str | None = Field(
        default=None,
        min_length=1,
        max_length=64,
        description="The caller's organisation (may be left out: it comes from the credential).",
    )
    name: str = Field(min_length=1, max_length=200)
    description: str | None = Field(default=None, max_length=5000)
    segment_id: int = Field(ge=1, description="The segment whose patients are enrolled.")
    purpose: Purpose = Purpose.CAMPAIGN_EDUCATION
    steps: list[StepBody] = Field(min_length=1)
    exit_on: list[Condition] | None = Field(
        default=None,
        description="Conditions that end an enrolment (default: booked, replied_stop).",
    )
    variants: dict[str, int] | None = Field(
        default=None, description='A/B weights by template variant, e.g. {"A": 50, "B": 50}.'
    )
    holdout_percent: float = Field(
        default=0, description="0, or 1 to 15: the share enrolled but never messaged."
    )
    recurring: bool = Field(default=False, description="Enrol newly matching patients every day.")
    starts_at: datetime | None = None
    ends_at: datetime | None = None


def _iso(value: datetime | None) -> str | None:
    return value.isoformat() if value else None


def campaign_view(record: CampaignRecord) -> dict[str, Any]:
    definition = record.definition
    return {
        "id": record.id,
        "org_id": definition.org_id,
        "name": definition.name,
        "description": definition.description,
        "segment_id": definition.segment_id,
        "purpose": definition.purpose.value,
        "state": record.state.value,
        "steps": definition.steps_json(),
        "exit_on": sorted(c.value for c in definition.exit_on),
        "variants": dict(definition.variants),
        "holdout_percent": definition.holdout_percent,
        "recurring": definition.recurring,
        "starts_at": _iso(definition.starts_at),
        "ends_at": _iso(definition.ends_at),
        "enrolled_through": _iso(record.enrolled_through),
        "created_by": record.created_by,
        "created_at": _iso(record.created_at),
    }


def _change_view(change: StateChange) -> dict[str, Any]:
    view: dict[str, Any] = {"id": change.campaign_id, "state": change.state.value}
    if change.segment_size is not None:
        view["segment_size"] = change.segment_size
    if change.jobs_cancelled:
        view["jobs_cancelled"] = change.jobs_cancelled
    view["warnings"] = list(change.warnings)
    return view


def status_view(found: CampaignStatus) -> dict[str, Any]:
    return {
        "id": found.campaign.id,
        "state": found.campaign.state.value,
        **found.progress.as_json(),
        "warnings": list(found.warnings),
    }


def _refused(error: CampaignRefused) -> ApiError:
    return ApiError(
        422,
        error.code,
        {
            "message": str(error),
            "problems": [
                {
                    "code": p.code,
                    "loc": p.pointer,
                    "template_id": p.template_id,
                    "msg": p.message,
                }
                for p in error.problems
            ],
        },
    )


def _translated(error: Exception) -> ApiError:
    if isinstance(error, CampaignNotFound):
        return ApiError(404, "not_found", "unknown campaign")
    if isinstance(error, InvalidTransition):
        return ApiError(409, "invalid_state", str(error))
    if isinstance(error, CampaignRefused):
        if error.code == "conflict":
            return ApiError(409, "conflict", str(error))
        return _refused(error)
    raise error


@router.post("", status_code=status.HTTP_201_CREATED)
def create(
    body: CampaignBody, store: StoreDep, clock: ClockDep, caller: CampaignEditor
) -> dict[str, Any]:
    """A new draft campaign; nothing is sent before it is activated."""
    org_id = caller.own_org(body.org_id, "body.org_id")
    document = body.model_dump(mode="json", exclude_none=True) | {"org_id": org_id}
    try:
        record = create_campaign(store, document, actor=caller.actor, now=clock())
    except CampaignDefinitionError as error:
        raise ApiError(
            422,
            "validation_error",
            [{"loc": p.pointer, "msg": p.message, "type": "value_error"} for p in error.problems],
        ) from None
    except CampaignRefused as error:
        raise _refused(error) from None
    return campaign_view(record)


@router.get("/{campaign_id}")
def get(campaign_id: CampaignId, store: StoreDep, caller: CampaignEditor) -> dict[str, Any]:
    try:
        return campaign_view(campaign_status(store, campaign_id, org_id=caller.org_id).campaign)
    except CampaignNotFound as error:
        raise _translated(error) from None


@router.get("/{campaign_id}/status")
def progress(campaign_id: CampaignId, store: StoreDep, caller: CampaignEditor) -> dict[str, Any]:
    """Enrolled, held out, exits, and per variant: sent, delivered, clicked, replied...; jobs
    suppressed by reason."""
    try:
        return status_view(campaign_status(store, campaign_id, org_id=caller.org_id))
    except CampaignNotFound as error:
        raise _translated(error) from None


@router.post("/{campaign_id}/activate")
def activate(
    campaign_id: CampaignId,
    store: StoreDep,
    settings: SettingsDep,
    clock: ClockDep,
    caller: CampaignEditor,
) -> dict[str, Any]:
    """draft -> active: the templates and the segment are checked first (422 with reasons)."""
    catalogue, limits = settings.segment_catalogue(), settings.segment_rule_limits()
    try:
        return _change_view(
            activate_campaign(
                store,
                campaign_id,
                catalogue,
                limits,
                actor=caller.actor,
                now=clock(),
                org_id=caller.org_id,
            )
        )
    except (CampaignNotFound, InvalidTransition, CampaignRefused) as error:
        raise _translated(error) from None


def _action_route(action: CampaignAction, doc: str) -> None:
    def change(
        campaign_id: CampaignId, store: StoreDep, clock: ClockDep, caller: CampaignEditor
    ) -> dict[str, Any]:
        try:
            return _change_view(
                change_campaign_state(
                    store,
                    campaign_id,
                    action,
                    actor=caller.actor,
                    now=clock(),
                    org_id=caller.org_id,
                )
            )
        except (CampaignNotFound, InvalidTransition, CampaignRefused) as error:
            raise _translated(error) from None

    change.__doc__ = doc
    router.add_api_route(
        f"/{{campaign_id}}/{action.value}",
        change,
        methods=["POST"],
        name=f"{action.value}_campaign",
        summary=f"{action.value.capitalize()} the campaign",
    )


_action_route(
    CampaignAction.PAUSE,
    "active -> paused: nothing more is dispatched; queued jobs stay queued.",
)
_action_route(CampaignAction.RESUME, "paused -> active: dispatch and planning continue.")
_action_route(CampaignAction.COMPLETE, "active or paused -> completed: queued jobs are cancelled.")
_action_route(CampaignAction.ARCHIVE, "draft or completed -> archived, kept for reports.")
