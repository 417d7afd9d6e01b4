"""Segments (``patient_segments``): the catalogue, validate, create, update, list, preview.

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

from outreach.api.dependencies import ActorDep, services
from outreach.api.errors import ApiError
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

SegmentId = Annotated[int, Path(ge=1)]
OrgId = Annotated[str, Field(min_length=1, max_length=64)]
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

    org_id: OrgId
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
    org_id: OrgId


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


@router.get("/catalogue")
def catalogue(segments: SegmentServiceDep) -> dict[str, Any]:
    """The fields rules may read, with their types."""
    return {
        "fields": [
            {"name": f.name, "type": f.type.value, "description": f.description}
            for f in segments.catalogue
        ]
    }


@router.post("/validate")
def validate(body: RuleBody, segments: SegmentServiceDep) -> dict[str, Any]:
    """200 with the fields read and the SQL when the rule can be saved; 422 otherwise."""
    try:
        return checked_view(segments.check(body.org_id, body.definition))
    except (InvalidRule, SegmentNotCompilable) as error:
        raise _refusals(error) from None


@router.post("/preview")
def preview_rule(body: PreviewBody, segments: SegmentServiceDep) -> dict[str, Any]:
    """Count, masked sample and SQL of a rule not saved yet."""
    try:
        return preview_view(segments.preview_rule(body.org_id, body.definition, body.sample_size))
    except (InvalidRule, SegmentNotCompilable) as error:
        raise _refusals(error) from None


@router.post("", status_code=status.HTTP_201_CREATED)
def create(body: SegmentCreate, segments: SegmentServiceDep, actor: ActorDep) -> dict[str, Any]:
    """Save a segment (``X-Actor`` is its creator); nothing is saved when the rule is refused."""
    draft = SegmentDraft(
        name=body.name,
        definition=body.definition,
        description=body.description,
        is_active=body.is_active,
    )
    try:
        return segment_view(segments.create(body.org_id, draft, actor))
    except (InvalidRule, SegmentNotCompilable) as error:
        raise _refusals(error) from None
    except SegmentNameTaken:
        raise ApiError(
            409, "segment_exists", "the organisation has a segment of that name"
        ) from None


@router.get("")
def list_of_org(
    segments: SegmentServiceDep, org_id: Annotated[str, Query(min_length=1, max_length=64)]
) -> dict[str, Any]:
    return {"segments": [segment_view(s) for s in segments.of_org(org_id)]}


@router.get("/{segment_id}")
def get_one(segment_id: SegmentId, segments: SegmentServiceDep) -> dict[str, Any]:
    try:
        return segment_view(segments.get(segment_id))
    except SegmentNotFound:
        raise ApiError(404, "not_found", "unknown segment") from None


@router.put("/{segment_id}")
def update(
    segment_id: SegmentId, body: SegmentContent, segments: SegmentServiceDep
) -> dict[str, Any]:
    """Replace name, description, rule and activity; the last count is cleared."""
    draft = SegmentDraft(
        name=body.name,
        definition=body.definition,
        description=body.description,
        is_active=body.is_active,
    )
    try:
        return segment_view(segments.update(segment_id, draft))
    except SegmentNotFound:
        raise ApiError(404, "not_found", "unknown segment") from None
    except (InvalidRule, SegmentNotCompilable) as error:
        raise _refusals(error) from None
    except SegmentNameTaken:
        raise ApiError(
            409, "segment_exists", "the organisation has a segment of that name"
        ) from None


@router.post("/{segment_id}/preview")
def preview_saved(
    segment_id: SegmentId,
    segments: SegmentServiceDep,
    sample_size: Annotated[int | None, Query(ge=0, le=100)] = None,
) -> dict[str, Any]:
    """Count, masked sample and SQL of a saved segment; the count is kept on the segment."""
    try:
        return preview_view(segments.preview_segment(segment_id, sample_size))
    except SegmentNotFound:
        raise ApiError(404, "not_found", "unknown segment") from None
    except (InvalidRule, SegmentNotCompilable) as error:
        raise _refusals(error) from None
