"""The console's Segments pages: the organisation's segments, and an editor whose rule can be built
by clicking (``static/segment-builder.js``) or written as JSON Logic in the textarea beside it.

Everything goes through ``SegmentService``, built as the API builds it, so a rule the console
saves is checked, compiled, counted and audited exactly as ``/api/v1/segments`` would: a refused
rule lists each problem with the JSON Pointer of its node, which the builder marks at that node
(the page lists them too, for a browser without scripts). The members count and its sample are
``preview_rule``'s, masked as the API's preview masks them (``preview_view``).

Marketers and admins only; the organisation is always the session's, and another organisation's
segment is a 404 page like a missing one.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from datetime import datetime
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Form, Query, Request
from fastapi.responses import JSONResponse, Response
from pydantic import BaseModel, ConfigDict, Field

from outreach.api.console.auth import MARKETING, ConsoleUser, console_allow
from outreach.api.console.rendering import redirect, render, secure
from outreach.api.errors import ApiError
from outreach.api.segments import SegmentServiceDep, preview_view
from outreach.segments import Catalogue, InvalidRule, SegmentNotCompilable
from outreach.segments.validation import EVENT_STATUSES
from outreach.services.segments import Preview, SegmentDraft, SegmentNotFound, SegmentService
from outreach.sql.segment_repository import SegmentNameTaken, StoredSegment

router = APIRouter(prefix="/console/segments", include_in_schema=False)

SegmentEditor = Annotated[ConsoleUser, Depends(console_allow(*MARKETING))]

MAX_NAME_CHARS = 200  # as the API's SegmentContent
MAX_DESCRIPTION_CHARS = 5000
# The rule as typed (indented): the service's own limit (compact JSON) is checked after parsing.
MAX_RULE_TEXT_CHARS = 200_000
MAX_SEGMENT_ID = 2**63 - 1
LIST_PATH = "/console/segments"

# How the builder groups the catalogue's fields in its menu.
SOURCE_LABELS = {
    "patient": "Patient",
    "preferences": "Communication preferences",
    "appointments": "Appointments",
    "attribute": "Declared attributes",
}


@dataclass
class SegmentForm:
    """The editor's fields as the marketer typed them (kept when the page comes back)."""

    name: str = ""
    description: str = ""
    definition: str = ""
    is_active: bool = True

    @classmethod
    def of(cls, segment: StoredSegment) -> SegmentForm:
        return cls(
            name=segment.name,
            description=segment.description or "",
            definition=rule_text(segment.definition),
            is_active=segment.is_active,
        )


@dataclass
class FormCheck:
    """What is wrong with a submitted form: by field, and the rule's problems by node."""

    fields: dict[str, str] = field(default_factory=dict)
    problems: list[dict[str, str]] = field(default_factory=list)

    def __bool__(self) -> bool:
        return bool(self.fields or self.problems)


def rule_text(definition: Any) -> str:
    """A rule as the textarea shows it (the builder writes it the same way)."""
    return json.dumps(definition, indent=2, ensure_ascii=False)


def parse_rule(text: str) -> tuple[Any, str | None]:
    """The rule in ``text``, or why it cannot be read (never quoting the text)."""
    if not text.strip():
        return None, "Write a rule here, or build one with the rule builder."
    if len(text) > MAX_RULE_TEXT_CHARS:
        return None, f"The rule is longer than {MAX_RULE_TEXT_CHARS:,} characters."
    try:
        return json.loads(text), None
    except json.JSONDecodeError as error:
        return None, (
            f"The rule is not valid JSON: {error.msg} (line {error.lineno}, column {error.colno})."
        )
    except RecursionError:
        return None, "The rule is nested too deep to read."


def rule_problems(error: InvalidRule | SegmentNotCompilable) -> list[dict[str, str]]:
    """Each problem as the API lists it: ``pointer``, ``code``, ``message``."""
    if isinstance(error, InvalidRule):
        return [problem.as_dict() for problem in error.errors]
    return [error.as_dict()]


def when(moment: datetime | None) -> str:
    return moment.strftime("%Y-%m-%d %H:%M UTC") if moment else ""


def catalogue_view(catalogue: Catalogue) -> list[dict[str, str]]:
    """The fields the builder offers, with their type and where they come from."""
    return [
        {
            "name": f.name,
            "type": f.type.value,
            "group": SOURCE_LABELS.get(f.source.value, f.source.value),
            "description": f.description,
        }
        for f in catalogue
    ]


def _not_found(request: Request, user: ConsoleUser) -> Response:
    return render(request, "segment_missing.html", user, status_code=404)


def _editor(
    request: Request,
    user: ConsoleUser,
    segments: SegmentService,
    *,
    segment: StoredSegment | None,
    form: SegmentForm,
    check: FormCheck | None = None,
    preview: dict[str, Any] | None = None,
    saved: str | None = None,
) -> Response:
    check = check or FormCheck()
    others = [
        {"id": s.id, "name": s.name}
        for s in segments.of_org(user.org_id)
        if segment is None or s.id != segment.id
    ]
    return render(
        request,
        "segment_edit.html",
        user,
        status_code=422 if check else 200,
        segment=segment,
        action=f"{LIST_PATH}/{segment.id}" if segment else f"{LIST_PATH}/new",
        form=form,
        errors=check.fields,
        problems=check.problems,
        problems_json=json.dumps(check.problems),
        catalogue_json=json.dumps(catalogue_view(segments.catalogue)),
        segments_json=json.dumps(others),
        statuses_json=json.dumps(EVENT_STATUSES),
        preview=preview,
        saved=saved,
        when=when,
    )


def _owned(segments: SegmentService, segment_id: int, org_id: str) -> StoredSegment | None:
    if segment_id > MAX_SEGMENT_ID:
        return None
    try:
        return segments.get(segment_id, org_id)
    except SegmentNotFound:
        return None


@router.get("")
def segments_list(request: Request, user: SegmentEditor, segments: SegmentServiceDep) -> Response:
    return render(
        request,
        "segments_list.html",
        user,
        segments=segments.of_org(user.org_id),
        when=when,
    )


@router.get("/new")
def new_segment(request: Request, user: SegmentEditor, segments: SegmentServiceDep) -> Response:
    return _editor(request, user, segments, segment=None, form=SegmentForm())


@router.get("/{segment_id:int}")
def segment_page(
    request: Request,
    segment_id: int,
    user: SegmentEditor,
    segments: SegmentServiceDep,
    saved: Annotated[str | None, Query()] = None,
) -> Response:
    segment = _owned(segments, segment_id, user.org_id)
    if segment is None:
        return _not_found(request, user)
    shown = saved if saved in ("created", "updated") else None
    return _editor(
        request, user, segments, segment=segment, form=SegmentForm.of(segment), saved=shown
    )


def _form(name: str, description: str, definition: str, is_active: str | None) -> SegmentForm:
    return SegmentForm(
        name=name.strip(),
        description=description.strip(),
        definition=definition,
        is_active=is_active is not None,
    )


def same_rule(one: Any, other: Any) -> bool:
    """The same JSON (``1`` and ``true`` differ here, unlike in Python's ``==``)."""
    return json.dumps(one, sort_keys=True) == json.dumps(other, sort_keys=True)


def _preview(
    segments: SegmentService, user: ConsoleUser, saved: StoredSegment | None, rule: Any
) -> Preview:
    """The members of ``rule``: a saved segment's own rule is counted as the segment (the
    count is kept with it, as the API's saved preview keeps it); an edited one as a draft,
    checked with the segment's id so that a rule naming itself is a cycle."""
    if saved is not None and same_rule(rule, saved.definition):
        return segments.preview_segment(saved.id, user.org_id, user.caller.actor)
    if saved is not None:
        segments.check(user.org_id, rule, saved.id)
    return segments.preview_rule(user.org_id, rule, user.caller.actor)


def _check_fields(form: SegmentForm) -> dict[str, str]:
    errors = {}
    if not form.name:
        errors["name"] = "Give the segment a name."
    elif len(form.name) > MAX_NAME_CHARS:
        errors["name"] = f"The name is longer than {MAX_NAME_CHARS} characters."
    if len(form.description) > MAX_DESCRIPTION_CHARS:
        errors["description"] = (
            f"The description is longer than {MAX_DESCRIPTION_CHARS:,} characters."
        )
    return errors


def _save(
    segments: SegmentService,
    user: ConsoleUser,
    segment: StoredSegment | None,
    form: SegmentForm,
    rule: Any,
) -> Response:
    """Create or update through the service (audited with the session's credential), then
    show the segment's page with a confirmation."""
    draft = SegmentDraft(
        name=form.name,
        definition=rule,
        description=form.description or None,
        is_active=form.is_active,
    )
    if segment is None:
        created = segments.create(user.org_id, draft, user.caller.actor)
        return redirect(f"{LIST_PATH}/{created.id}?saved=created")
    segments.update(segment.id, user.org_id, draft, user.caller.actor)
    return redirect(f"{LIST_PATH}/{segment.id}?saved=updated")


def _submitted(
    request: Request,
    user: ConsoleUser,
    segments: SegmentService,
    segment: StoredSegment | None,
    form: SegmentForm,
    intent: str,
) -> Response:
    """Count the rule (``intent`` "count": the page again, with the members) or save it (a 303
    to the segment's page); anything wrong comes back as the page, 422, with what was typed."""
    check = FormCheck()
    rule, unreadable = parse_rule(form.definition)
    if unreadable:
        check.fields["definition"] = unreadable
    counting = intent == "count"
    if not counting:
        check.fields.update(_check_fields(form))
    preview = None
    try:
        if unreadable:
            pass  # nothing to check or count: the textarea's message says why
        elif counting:
            preview = preview_view(_preview(segments, user, segment, rule))
        elif check:
            # Name or description refused: report the rule's problems too, in one round.
            segments.check(user.org_id, rule, segment.id if segment else None)
        else:
            return _save(segments, user, segment, form, rule)
    except (InvalidRule, SegmentNotCompilable) as error:
        check.problems = rule_problems(error)
    except SegmentNameTaken:
        check.fields["name"] = "Your organisation already has a segment of that name."
    except SegmentNotFound:
        return _not_found(request, user)
    return _editor(
        request, user, segments, segment=segment, form=form, check=check, preview=preview
    )


TextField = Annotated[str, Form()]


@router.post("/new")
def create_segment(
    request: Request,
    user: SegmentEditor,
    segments: SegmentServiceDep,
    name: TextField = "",
    description: TextField = "",
    definition: TextField = "",
    is_active: Annotated[str | None, Form()] = None,
    intent: TextField = "save",
) -> Response:
    form = _form(name, description, definition, is_active)
    return _submitted(request, user, segments, None, form, intent)


@router.post("/{segment_id:int}")
def update_segment(
    request: Request,
    segment_id: int,
    user: SegmentEditor,
    segments: SegmentServiceDep,
    name: TextField = "",
    description: TextField = "",
    definition: TextField = "",
    is_active: Annotated[str | None, Form()] = None,
    intent: TextField = "save",
) -> Response:
    segment = _owned(segments, segment_id, user.org_id)
    if segment is None:
        return _not_found(request, user)
    form = _form(name, description, definition, is_active)
    return _submitted(request, user, segments, segment, form, intent)


class PreviewRequest(BaseModel):
    """What the builder sends as the rule changes."""

    model_config = ConfigDict(extra="forbid")

    definition: Any = Field(description="The JSON Logic rule as the editor holds it.")
    segment_id: int | None = Field(default=None, ge=1, le=MAX_SEGMENT_ID)


@router.post("/preview")
def preview_members(
    body: PreviewRequest, user: SegmentEditor, segments: SegmentServiceDep
) -> Response:
    """The live count and masked sample of the rule being edited (the API's preview), or its
    problems (422, each with its node's pointer)."""
    try:
        saved = None
        if body.segment_id is not None:
            saved = segments.get(body.segment_id, user.org_id)
        shown = preview_view(_preview(segments, user, saved, body.definition))
    except SegmentNotFound:
        raise ApiError(404, "not_found", "unknown segment") from None
    except (InvalidRule, SegmentNotCompilable) as error:
        code = (
            "invalid_segment_rule" if isinstance(error, InvalidRule) else "segment_not_compilable"
        )
        return secure(
            JSONResponse({"error": code, "detail": rule_problems(error)}, status_code=422)
        )
    return secure(JSONResponse(shown))
