"""Segments (``patient_segments``): the catalogue, validate, create, update, list, preview.

Marketers and admins only, for their own organisation (the credential's): a body naming another
organisation is a 403, another organisation's segment a 404 like a missing one. Saves and
previews are audited with the credential as actor.

A rule is checked before anything is saved: a malformed, too large or too deep rule, an unknown
field, a wrong type or an unsupported operator is a 422 ``invalid_segment_rule`` listing each
problem with the JSON Pointer of its node; a valid rule SQL cannot reproduce exactly is a 422
``segment_not_compilable`` with its pointer. Previews show a count, patients' ids with masked
initials and addresses, and the generated SQL with its parameters named, never their values.
"""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Path, Query, Request, status
from pydantic import BaseModel, ConfigDict, Field

from outreach.api.access import Caller, allow
from outreach.api.dependencies import services
from outreach.api.errors import ApiError
from outreach.domain import Role
from outreach.segments import InvalidRule, SegmentNotCompilable
from outreach.services.segments import (
    CheckedRule,
    Preview,
    SegmentDraft,
    SegmentNotFound,
    SegmentService,
)
from outreach.sql.segment_repository import SegmentNameTaken, StoredSegment

router = APIRouter(prefix="/api/v1/segments", tags=["segments"])

SegmentId = Annotated[int, Path(ge=1, le=2**63 - 1)]
OrgId = Annotated[str | None, Field(default=None, min_length=1, max_length=64)]
SegmentEditor = Annotated[Caller, Depends(allow(Role.MARKETER, Role.ADMIN))]
_ORG = "The caller's organisation (may be left out: it comes from the credential)."
_DEFINITION = "The JSON Logic rule (docs/segments.md): operators, catalogue fields, constants."


def segment_service(request: Request) -> SegmentService:
    built = services(request)
    return SegmentService(
        built.store,
        built.settings.segment_catalogue(),
        built.settings.segment_rule_limits(),
        sample_size=built.settings.segment_preview_sample_size,
        clock=built.clock,
    )


SegmentServiceDep = Annotated[SegmentService, Depends(segment_service)]


class RuleBody(BaseModel):
    model_config = ConfigDict(extra="forbid")

    org_id: OrgId = Field(default=None, description=_ORG)
    definition: Any = Field(description=_DEFINITION)


class PreviewBody(RuleBody):
    sample_size: int | None = Field(default=None, ge=0, le=100)


class SegmentContent(BaseModel):
    """What a marketer edits."""

    model_config = ConfigDict(extra="forbid")

    name: str = Field(min_length=1, max_length=200)
    description: str | None = Field(default=None, max_length=5000)
    definition: Any = Field(description=_DEFINITION)
    is_active: bool = True


class SegmentCreate(SegmentContent):
    org_id: OrgId = Field(default=None, description=_ORG)


def _refusals(error: Exception) -> ApiError:
    if isinstance(error, InvalidRule):
        return ApiError(422, "invalid_segment_rule", [e.as_dict() for e in error.errors])
    assert isinstance(error, SegmentNotCompilable)
    return ApiError(422, "segment_not_compilable", [error.as_dict()])


def _name_taken() -> ApiError:
    return ApiError(409, "segment_exists", "the organisation has a segment of that name")


def _iso(moment: datetime | None) -> str | None:
    return moment.isoformat() if moment else None


def segment_view(segment: StoredSegment) -> dict[str, Any]:
    return {
        "id": segment.id,
        "org_id": segment.org_id,
        "name": segment.name,
        "description": segment.description,
        "definition": segment.definition,
        "created_by": segment.created_by,
        "is_active": segment.is_active,
        "patient_count": segment.patient_count,
        "last_evaluated": _iso(segment.last_evaluated),
        "created_at": _iso(segment.created_at),
        "updated_at": _iso(segment.updated_at),
    }


def preview_view(preview: Preview) -> dict[str, Any]:
    return {
        "patient_count": preview.patient_count,
        "sample": [
            {
                "patient_id": p.patient_id,
                "initials": p.initials,
                "email": p.email,
                "phone": p.phone,
            }
            for p in preview.sample
        ],
        "sql": preview.sql,
        "evaluated_at": preview.evaluated_at.isoformat(),
    }


def checked_view(checked: CheckedRule) -> dict[str, Any]:
    return {"valid": True, "fields": list(checked.fields), "sql": checked.sql}


def _unknown_segment() -> ApiError:
    return ApiError(404, "not_found", "unknown segment")


@router.get("/catalogue")
def catalogue(segments: SegmentServiceDep, caller: SegmentEditor) -> dict[str, Any]:
    """The fields rules may read, with their types."""
    return {
        "fields": [
            {"name": f.name, "type": f.type.value, "description": f.description}
            for f in segments.catalogue
        ]
    }


@router.post("/validate")
def validate(body: RuleBody, segments: SegmentServiceDep, caller: SegmentEditor) -> dict[str, Any]:
    """200 with the fields read and the SQL when the rule can be saved; 422 otherwise."""
    org_id = caller.own_org(body.org_id, "body.org_id")
    try:
        return checked_view(segments.check(org_id, body.definition))
    except (InvalidRule, SegmentNotCompilable) as error:
        raise _refusals(error) from None


@router.post("/preview")
def preview_rule(
    body: PreviewBody, segments: SegmentServiceDep, caller: SegmentEditor
) -> dict[str, Any]:
    """Count, masked sample and SQL of a rule not saved yet."""
    org_id = caller.own_org(body.org_id, "body.org_id")
    try:
        return preview_view(
            segments.preview_rule(org_id, body.definition, caller.actor, body.sample_size)
        )
    except (InvalidRule, SegmentNotCompilable) as error:
        raise _refusals(error) from None


@router.post("", status_code=status.HTTP_201_CREATED)
def create(
    body: SegmentCreate, segments: SegmentServiceDep, caller: SegmentEditor
) -> dict[str, Any]:
    """Save a segment (the credential is its creator); nothing is saved when the rule is
    refused."""
    org_id = caller.own_org(body.org_id, "body.org_id")
    draft = SegmentDraft(
        name=body.name,
        definition=body.definition,
        description=body.description,
        is_active=body.is_active,
    )
    try:
        return segment_view(segments.create(org_id, draft, caller.actor))
    except (InvalidRule, SegmentNotCompilable) as error:
        raise _refusals(error) from None
    except SegmentNameTaken:
        raise _name_taken() from None


@router.get("")
def list_of_org(
    segments: SegmentServiceDep,
    caller: SegmentEditor,
    org_id: Annotated[str | None, Query(min_length=1, max_length=64)] = None,
) -> dict[str, Any]:
    """The segments of the caller's organisation."""
    own = caller.own_org(org_id, "query.org_id")
    return {"segments": [segment_view(s) for s in segments.of_org(own)]}


@router.get("/{segment_id}")
def get_one(
    segment_id: SegmentId, segments: SegmentServiceDep, caller: SegmentEditor
) -> dict[str, Any]:
    try:
        return segment_view(segments.get(segment_id, caller.org_id))
    except SegmentNotFound:
        raise _unknown_segment() from None


@router.put("/{segment_id}")
def update(
    segment_id: SegmentId, body: SegmentContent, segments: SegmentServiceDep, caller: SegmentEditor
) -> dict[str, Any]:
    """Replace name, description, rule and activity; the last count is cleared."""
    draft = SegmentDraft(
        name=body.name,
        definition=body.definition,
        description=body.description,
        is_active=body.is_active,
    )
    try:
        return segment_view(segments.update(segment_id, caller.org_id, draft, caller.actor))
    except SegmentNotFound:
        raise _unknown_segment() from None
    except (InvalidRule, SegmentNotCompilable) as error:
        raise _refusals(error) from None
    except SegmentNameTaken:
        raise _name_taken() from None


@router.post("/{segment_id}/preview")
def preview_saved(
    segment_id: SegmentId,
    segments: SegmentServiceDep,
    caller: SegmentEditor,
    sample_size: Annotated[int | None, Query(ge=0, le=100)] = None,
) -> dict[str, Any]:
    """Count, masked sample and SQL of a saved segment; the count is kept on the segment."""
    try:
        return preview_view(
            segments.preview_segment(segment_id, caller.org_id, caller.actor, sample_size)
        )
    except SegmentNotFound:
        raise _unknown_segment() from None
    except (InvalidRule, SegmentNotCompilable) as error:
        raise _refusals(error) from None
