"""Templates (``comm_templates``): create, new version, activate, list, preview.

Every save goes through the templating package's policy check first; a refused template is a 422
listing each violation with its variable, line, channel and surface, and nothing is stored.
Versions are immutable: a change is a new version of the family, activated when staff choose.

Marketers and admins edit the templates of their own organisation and read the global ones; only
admins change global templates (``org_id`` left out). Another organisation's templates answer
404, like missing ones, and so do ids out of the database's range. Every change is audited.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Annotated, Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from fastapi import APIRouter, Path, Query, status
from pydantic import BaseModel, ConfigDict, Field, field_validator

from outreach.api.access import Caller, TemplateEditor
from outreach.api.dependencies import ClockDep, StoreDep
from outreach.api.errors import ApiError
from outreach.domain import Channel, Purpose, Role
from outreach.services.template_versions import (
    FamilyBusy,
    FamilyExists,
    activate_version,
    add_version,
    create_family,
    list_versions,
    preview_version,
    template_version,
)
from outreach.sql.store import Store
from outreach.sql.template_repository import StoredTemplate, TemplateFilter
from outreach.templating import (
    TemplatePolicyError,
    TemplateRecord,
    TemplateRenderError,
    Violation,
)

router = APIRouter(prefix="/api/v1/templates", tags=["templates"])

TemplateId = Annotated[int, Path(description="A template version's id.")]
MAX_ID = 2**63 - 1  # ids are signed 64-bit integers: anything else names no template
_LANGUAGE = r"^[A-Za-z]{2,3}(-[A-Za-z0-9]{2,8})*$"
_VARIANT = r"^[A-Za-z0-9_-]{1,16}$"
_WHATSAPP_NAME = r"^[a-z0-9_]{1,128}$"  # Meta's rule for template names


class TemplateContent(BaseModel):
    """What changes between versions of one family."""

    model_config = ConfigDict(extra="forbid")

    subject: str | None = Field(default=None, max_length=500)
    body: str = Field(min_length=1, max_length=20_000)
    declared_variables: list[str] = Field(default_factory=list, max_length=100)
    whatsapp_template_name: str | None = Field(default=None, pattern=_WHATSAPP_NAME)
    activate: bool = False


class TemplateCreate(TemplateContent):
    """A new family: its scope (organisation, provider), purpose, channel, language, variant."""

    org_id: str | None = Field(
        default=None,
        min_length=1,
        max_length=64,
        description="The caller's organisation for its own template; left out for a global "
        "template (admins only). Another organisation is refused.",
    )
    provider_id: str | None = Field(default=None, min_length=1, max_length=64)
    purpose: Purpose
    channel: Channel
    language: str = Field(pattern=_LANGUAGE, max_length=16)
    variant: str = Field(default="A", pattern=_VARIANT)
    family: str | None = Field(
        default=None,
        pattern=r"^[a-z0-9_]{1,64}$",
        description="A named family campaign steps use (e.g. `dental_recall`); omit for the "
        "purpose's standard templates.",
    )

    def draft(self) -> TemplateRecord:
        """The family's first version, as the policy checks it."""
        return TemplateRecord(
            id="unsaved",
            org_id=self.org_id,
            provider_id=self.provider_id,
            purpose=self.purpose,
            channel=self.channel,
            language=self.language,
            variant=self.variant,
            subject=self.subject,
            body=self.body,
            declared_variables=tuple(self.declared_variables),
            whatsapp_template_name=self.whatsapp_template_name,
            is_active=False,
            family=self.family,
        )


class PreviewRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")

    sample_context: dict[str, str | int | float] = Field(default_factory=dict)
    timezone: str = Field(default="UTC", max_length=64)
    locale: str | None = Field(default=None, pattern=r"^[A-Za-z]{2,3}([-_][A-Za-z0-9]{2,8})*$")

    @field_validator("timezone")
    @classmethod
    def _known_zone(cls, value: str) -> str:
        try:
            ZoneInfo(value)
        except (ZoneInfoNotFoundError, ValueError):
            raise ValueError("unknown IANA time zone") from None
        return value


def violation_view(violation: Violation) -> dict[str, Any]:
    return {
        "code": violation.code.value,
        "variable": violation.subject,
        "line": violation.line,
        "channel": violation.channel.value,
        "surface": violation.surface.value,
        "message": violation.message,
    }


def _refuse(violations: tuple[Violation, ...]) -> ApiError:
    phi = any(v.is_phi for v in violations)
    return ApiError(
        422,
        "phi_policy_violation" if phi else "template_policy_violation",
        [violation_view(v) for v in violations],
    )


def template_view(template: StoredTemplate) -> dict[str, Any]:
    record = template.record
    return {
        "id": template.id,
        "family_key": template.family_key,
        "org_id": record.org_id,
        "provider_id": record.provider_id,
        "purpose": record.purpose.value,
        "channel": record.channel.value,
        "language": record.language,
        "variant": record.variant,
        "version": record.version,
        "subject": record.subject,
        "body": record.body,
        "declared_variables": list(record.declared_variables),
        "whatsapp_template_name": record.whatsapp_template_name,
        "family": record.family,
        "is_active": record.is_active,
        "created_by": template.created_by,
        "created_at": template.created_at.isoformat(),
    }


@contextmanager
def _refusals() -> Iterator[None]:
    """Why a save or an activation stored nothing, as the answer says it."""
    try:
        yield
    except TemplatePolicyError as error:
        raise _refuse(error.violations) from None
    except FamilyExists as error:
        raise ApiError(
            409,
            "template_exists",
            {
                "message": "this family exists; add a version to it instead",
                "latest_id": error.latest_id,
                "versions_url": f"/api/v1/templates/{error.latest_id}/versions",
            },
        ) from None
    except FamilyBusy:
        raise ApiError(409, "conflict", "the family is being changed concurrently; retry") from None


def _unknown_template() -> ApiError:
    return ApiError(404, "not_found", "unknown template")


def _visible(store: Store, template_id: int, caller: Caller) -> StoredTemplate:
    """A template the caller may see: its organisation's or a global one; else 404."""
    if not 1 <= template_id <= MAX_ID:
        raise _unknown_template()
    template = template_version(store, template_id)
    if template is None or template.record.org_id not in (None, caller.org_id):
        raise _unknown_template()
    return template


def _may_change(caller: Caller, org_id: str | None) -> None:
    """Global templates reach every organisation's patients: only admins change them."""
    if org_id is None and caller.role is not Role.ADMIN:
        raise ApiError(403, "forbidden", "only admins change global templates")


@router.post("", status_code=status.HTTP_201_CREATED)
def create_template(
    body: TemplateCreate, store: StoreDep, clock: ClockDep, caller: TemplateEditor
) -> dict[str, Any]:
    """Version 1 of a new family (409 if the family exists: add a version instead): the
    caller's organisation's, or global when ``org_id`` is left out (admins only)."""
    if body.org_id is not None:
        caller.own_org(body.org_id, "body.org_id")
    _may_change(caller, body.org_id)
    with _refusals():
        created = create_family(
            store, body.draft(), activate=body.activate, actor=caller.actor, now=clock()
        )
    return template_view(created)


@router.post("/{template_id}/versions", status_code=status.HTTP_201_CREATED)
def create_version(
    template_id: TemplateId,
    body: TemplateContent,
    store: StoreDep,
    clock: ClockDep,
    caller: TemplateEditor,
) -> dict[str, Any]:
    """The next version of ``template_id``'s family, with new content; same scope and language."""
    base = _visible(store, template_id, caller)
    _may_change(caller, base.record.org_id)
    with _refusals():
        created = add_version(
            store,
            base.record,
            subject=body.subject,
            body=body.body,
            declared_variables=body.declared_variables,
            whatsapp_template_name=body.whatsapp_template_name,
            activate=body.activate,
            actor=caller.actor,
            now=clock(),
        )
    return template_view(created)


@router.post("/{template_id}/activate")
def activate(
    template_id: TemplateId, store: StoreDep, clock: ClockDep, caller: TemplateEditor
) -> dict[str, Any]:
    """Make this version the family's active one; the others are deactivated."""
    base = _visible(store, template_id, caller)
    _may_change(caller, base.record.org_id)
    with _refusals():
        activated = activate_version(store, base, actor=caller.actor, now=clock())
    if activated is None:
        raise _unknown_template()
    return template_view(activated)


@router.get("")
def list_all(
    store: StoreDep,
    caller: TemplateEditor,
    purpose: Annotated[Purpose | None, Query()] = None,
    channel: Annotated[Channel | None, Query()] = None,
    language: Annotated[str | None, Query(max_length=16)] = None,
    org_id: Annotated[str | None, Query(max_length=64)] = None,
    provider_id: Annotated[str | None, Query(max_length=64)] = None,
    active: Annotated[bool | None, Query()] = None,
) -> dict[str, Any]:
    wanted = TemplateFilter(
        purpose=purpose,
        channel=channel,
        language=language,
        org_id=org_id,
        provider_id=provider_id,
        active=active,
        visible_to_org=caller.org_id,
    )
    return {"templates": [template_view(t) for t in list_versions(store, wanted)]}


@router.get("/{template_id}")
def get_one(template_id: TemplateId, store: StoreDep, caller: TemplateEditor) -> dict[str, Any]:
    return template_view(_visible(store, template_id, caller))


@router.post("/{template_id}/preview")
def preview_template(
    template_id: TemplateId,
    body: PreviewRequest,
    store: StoreDep,
    clock: ClockDep,
    caller: TemplateEditor,
) -> dict[str, Any]:
    """Render with sample values for staff; PHI variables always show as ``[name]``."""
    template = _visible(store, template_id, caller)
    try:
        shown = preview_version(
            template.record,
            body.sample_context,
            now=clock(),
            timezone=body.timezone,
            locale=body.locale,
        )
    except TemplatePolicyError as error:
        raise _refuse(error.violations) from None
    except TemplateRenderError as error:
        # Messages name variables, never values (templating's errors promise it).
        raise ApiError(422, "render_error", str(error)) from None
    return {
        "template_id": template_id,
        "version": shown.version,
        "channel": shown.channel.value,
        "language": shown.language,
        "subject": shown.subject,
        "body": shown.body,
        "sms_segments": shown.sms_segments,
        "encoding": shown.encoding.value if shown.encoding else None,
        "segment_limit": shown.segment_limit,
        "within_segment_limit": shown.within_segment_limit,
        "masked_variables": list(shown.masked_variables),
        "placeholder_variables": list(shown.placeholder_variables),
    }
