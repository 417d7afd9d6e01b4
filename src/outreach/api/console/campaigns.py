"""The console's campaign pages (marketers and admins): the organisation's campaigns, a new
campaign, and one campaign with its actions and live progress.

Everything goes through the services the API's ``/api/v1/campaigns`` routes call, and the new
campaign form through the API's own ``CampaignBody`` (``campaign_form``), so the console refuses
exactly what the API refuses. The organisation is always the session's: another organisation's
campaign is a 404 page like a missing one. The progress section re-fetches itself as an HTML
fragment every few seconds (``static/campaign-progress.js``); without JavaScript the page has a
Refresh link.
"""

from __future__ import annotations

import hashlib
import json
from datetime import datetime
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Query, Request
from fastapi.responses import HTMLResponse, Response
from starlette.datastructures import FormData

from outreach.api.campaigns import status_view
from outreach.api.console.auth import MARKETING, ConsoleUser, console_allow
from outreach.api.console.campaign_form import (
    FORM,
    VARIANT_NAMES,
    CampaignForm,
    FieldErrors,
    StepRow,
    checked_document,
    definition_errors,
)
from outreach.api.console.rendering import redirect, render, secure
from outreach.api.segments import segment_service
from outreach.campaigns import (
    BEST_CHANNEL,
    CampaignAction,
    CampaignDefinitionError,
    CampaignState,
    Condition,
    InvalidTransition,
    allowed_actions,
)
from outreach.campaigns.definition import MAX_STEPS
from outreach.campaigns.readiness import ReadinessProblem
from outreach.domain import Purpose, known_channels
from outreach.services.campaigns import (
    LIST_LIMIT,
    CampaignChoices,
    CampaignNotFound,
    CampaignRefused,
    CampaignStatus,
    activate_campaign,
    campaign_choices,
    campaign_status,
    change_campaign_state,
    create_campaign,
    list_campaigns,
)
from outreach.services.segments import SegmentNotFound

router = APIRouter(prefix="/console/campaigns", include_in_schema=False)

Marketer = Annotated[ConsoleUser, Depends(console_allow(*MARKETING))]
ACTIONS = {action.value: action for action in CampaignAction}
PROGRESS_EVERY_MS = 3000
FINAL_STATES = frozenset({CampaignState.ARCHIVED})  # nothing can change: no need to poll
ACTION_LABELS = {
    CampaignAction.ACTIVATE: "Activate",
    CampaignAction.PAUSE: "Pause",
    CampaignAction.RESUME: "Resume",
    CampaignAction.COMPLETE: "Complete",
    CampaignAction.ARCHIVE: "Archive",
}
DONE = {
    CampaignAction.ACTIVATE: "Activated: the scheduler's next round enrols the segment.",
    CampaignAction.PAUSE: "Paused: nothing more is sent; queued messages wait.",
    CampaignAction.RESUME: "Resumed: sending and planning continue.",
    CampaignAction.COMPLETE: "Completed: messages still queued were cancelled.",
    CampaignAction.ARCHIVE: "Archived: kept for reports.",
}
FIELD_LABELS = {
    "name": "Name",
    "description": "Description",
    "segment_id": "Segment",
    "purpose": "Purpose",
    "steps": "Steps",
    "variants": "A/B variants",
    "holdout_percent": "Hold-out",
    "recurring": "Recurring",
    "starts_at": "Starts",
    "ends_at": "Ends",
    "exit_on": "Exit conditions",
    FORM: "Campaign",
}
STEP_LABELS = {
    "offset_hours": "offset",
    "template_family": "template family",
    "channel": "channel",
    "wait_until": "wait until",
    "wait_timeout_hours": "wait timeout",
}


async def posted_form(request: Request) -> FormData:
    """The posted form, read once (the CSRF guard has read it already)."""
    return await request.form()


Posted = Annotated[FormData, Depends(posted_form)]


def _campaign_id(raw: str) -> int | None:
    """A campaign id from the path; anything else finds no campaign."""
    return int(raw) if raw.isascii() and raw.isdigit() and 0 < int(raw) < 2**63 else None


def _not_found(request: Request, user: ConsoleUser) -> HTMLResponse:
    return render(request, "campaign_not_found.html", user, status_code=404)


def _moment(value: datetime | None) -> str | None:
    return value.strftime("%Y-%m-%d %H:%M %Z").strip() if value else None


def _hours(hours: float) -> str:
    if hours and hours % 24 == 0:
        return f"{hours:g} h (day {int(hours // 24)})"
    return f"{hours:g} h"


# ---- the list ----


@router.get("")
def campaign_list(request: Request, user: Marketer) -> Response:
    summaries = list_campaigns(request.app.state.services.store, user.org_id)
    return render(
        request,
        "campaign_list.html",
        user,
        summaries=summaries,
        truncated=len(summaries) >= LIST_LIMIT,
    )


# ---- a new campaign ----


def _field_label(name: str) -> str:
    if name.startswith("steps-"):
        parts = name.split("-")
        step = f"Step {int(parts[1]) + 1}"
        return f"{step}, {STEP_LABELS[parts[2]]}" if len(parts) > 2 else step
    if name.startswith("variant-"):
        return f"Variant {name.removeprefix('variant-')} weight"
    return FIELD_LABELS.get(name, name)


def _form_page(
    request: Request,
    user: ConsoleUser,
    entered: CampaignForm,
    *,
    errors: FieldErrors | None = None,
    status_code: int = 200,
) -> HTMLResponse:
    choices: CampaignChoices = campaign_choices(request.app.state.services.store, user.org_id)
    errors = errors or {}
    variants = list(dict.fromkeys([*VARIANT_NAMES, *entered.variants]))
    return render(
        request,
        "campaign_form.html",
        user,
        status_code=status_code,
        entered=entered,
        errors=errors,
        summary=[(name, _field_label(name), messages) for name, messages in errors.items()],
        choices=choices,
        purposes=[p.value for p in Purpose if p is not Purpose.URGENT],
        channels=[BEST_CHANNEL, *(c.value for c in known_channels())],
        conditions=[c.value for c in Condition],
        variant_names=variants,
        max_steps=MAX_STEPS,
    )


@router.get("/new")
def new_campaign(
    request: Request,
    user: Marketer,
    segment: Annotated[str, Query(max_length=20)] = "",
) -> Response:
    """The form; ``?segment=<id>`` chooses the segment (a segment's page may link here)."""
    entered = CampaignForm(segment_id=segment if segment.isascii() and segment.isdigit() else "")
    return _form_page(request, user, entered)


@router.post("")
def create(request: Request, user: Marketer, form: Posted) -> Response:
    """A new draft campaign; or, for the "more step rows" button, the form with one more row."""
    entered = CampaignForm.posted(form, [v for v in form.getlist("exit_on") if isinstance(v, str)])
    if form.get("form_action") == "add_step":
        if len(entered.steps) < MAX_STEPS:
            entered.steps.append(StepRow())
        return _form_page(request, user, entered)
    document, errors = checked_document(entered, user.org_id)
    if document is None:
        return _form_page(request, user, entered, errors=errors, status_code=422)
    services = request.app.state.services
    try:
        record = create_campaign(
            services.store, document, actor=user.caller.actor, now=services.clock()
        )
    except CampaignDefinitionError as error:
        errors = definition_errors(error, entered.document()[1])
        return _form_page(request, user, entered, errors=errors, status_code=422)
    except CampaignRefused as error:
        where = "segment_id" if error.code == "unknown_segment" else FORM
        message = "choose one of your organisation's segments" if where != FORM else str(error)
        return _form_page(request, user, entered, errors={where: [message]}, status_code=422)
    return redirect(f"/console/campaigns/{record.id}")


# ---- one campaign ----


def _digest(found: CampaignStatus) -> str:
    """Changes whenever anything the progress section shows does."""
    view = json.dumps(status_view(found), sort_keys=True, default=str)
    return hashlib.sha256(view.encode()).hexdigest()[:16]


def _progress_context(campaign_id: int, found: CampaignStatus) -> dict[str, Any]:
    figures = found.progress
    return {
        "campaign_id": campaign_id,
        "state": found.campaign.state.value,
        "figures": figures,
        "variants": sorted(figures.variants.items()),
        "suppressed": sorted(figures.suppressed.items()),
        "exited": sorted(figures.exited.items()),
        "warnings": found.warnings,
        "digest": _digest(found),
        "final": found.campaign.state in FINAL_STATES,
    }


def _problem_text(problem: ReadinessProblem) -> str:
    parts = [part for part in problem.pointer.split("/") if part]
    where = ""
    if len(parts) >= 2 and parts[0] == "steps" and parts[1].isdigit():
        where = f"Step {int(parts[1]) + 1}: "
    template = f" (template {problem.template_id})" if problem.template_id else ""
    return f"{where}{problem.message}{template}"


def _campaign_page(
    request: Request,
    user: ConsoleUser,
    campaign_id: int,
    *,
    done: str | None = None,
    refusal: str | None = None,
    reasons: tuple[str, ...] = (),
    status_code: int = 200,
) -> HTMLResponse:
    services = request.app.state.services
    try:
        found = campaign_status(services.store, campaign_id, org_id=user.org_id)
    except CampaignNotFound:
        return _not_found(request, user)
    definition = found.campaign.definition
    try:
        segment_name: str | None = (
            segment_service(request).get(definition.segment_id, user.org_id).name
        )
    except SegmentNotFound:
        segment_name = None
    steps = [
        step | {"offset_text": _hours(step["offset_hours"]), "number": index + 1}
        for index, step in enumerate(definition.steps_json())
    ]
    for step in steps:
        if step["wait_timeout_hours"] is not None:
            step["timeout_text"] = _hours(step["wait_timeout_hours"])
    return render(
        request,
        "campaign_page.html",
        user,
        status_code=status_code,
        campaign=found.campaign,
        definition=definition,
        segment_name=segment_name,
        steps=steps,
        exit_on=sorted(c.value for c in definition.exit_on),
        starts_at=_moment(definition.starts_at),
        ends_at=_moment(definition.ends_at),
        created_at=_moment(found.campaign.created_at),
        actions=[(a.value, ACTION_LABELS[a]) for a in allowed_actions(found.campaign.state)],
        done=done,
        refusal=refusal,
        reasons=reasons,
        every_ms=PROGRESS_EVERY_MS,
        **_progress_context(campaign_id, found),
    )


@router.get("/{campaign_id}")
def campaign_page(
    request: Request,
    user: Marketer,
    campaign_id: str,
    done: Annotated[str | None, Query(max_length=16)] = None,
) -> Response:
    found = _campaign_id(campaign_id)
    if found is None:
        return _not_found(request, user)
    action = ACTIONS.get(done or "")
    return _campaign_page(request, user, found, done=DONE[action] if action else None)


@router.get("/{campaign_id}/progress")
def campaign_progress(request: Request, user: Marketer, campaign_id: str) -> Response:
    """The progress section alone, for the page's script to put in place."""
    found_id = _campaign_id(campaign_id)
    try:
        if found_id is None:
            raise CampaignNotFound("no such campaign")
        found = campaign_status(request.app.state.services.store, found_id, org_id=user.org_id)
    except CampaignNotFound:
        return secure(HTMLResponse("<p>No such campaign.</p>", status_code=404))
    return render(request, "campaign_progress.html", user, **_progress_context(found_id, found))


@router.post("/{campaign_id}/{action}")
def change_state(request: Request, user: Marketer, campaign_id: str, action: str) -> Response:
    """Activate, pause, resume, complete or archive, through the API's use cases; a refusal is
    shown on the campaign's page with its reasons."""
    found = _campaign_id(campaign_id)
    wanted = ACTIONS.get(action)
    if found is None or wanted is None:
        return _not_found(request, user)
    services = request.app.state.services
    try:
        if wanted is CampaignAction.ACTIVATE:
            activate_campaign(
                services.store,
                found,
                services.settings.segment_catalogue(),
                services.settings.segment_rule_limits(),
                actor=user.caller.actor,
                now=services.clock(),
                org_id=user.org_id,
            )
        else:
            change_campaign_state(
                services.store,
                found,
                wanted,
                actor=user.caller.actor,
                now=services.clock(),
                org_id=user.org_id,
            )
    except CampaignNotFound:
        return _not_found(request, user)
    except InvalidTransition as error:
        return _campaign_page(request, user, found, refusal=str(error), status_code=409)
    except CampaignRefused as error:
        if error.code == "conflict":
            return _campaign_page(request, user, found, refusal=str(error), status_code=409)
        reasons = tuple(_problem_text(p) for p in error.problems) or (str(error),)
        return _campaign_page(
            request,
            user,
            found,
            refusal=f"{ACTION_LABELS[wanted]} was refused ({error.code.replace('_', ' ')}):",
            reasons=reasons,
            status_code=422,
        )
    return redirect(f"/console/campaigns/{found}?done={wanted.value}")
