"""Templates (``comm_templates``): create, new version, activate, list, preview.

Every save goes through the templating package's policy check first; a refused template is a 422
listing each violation with its variable, line, channel and surface, and nothing is stored.
Versions are immutable: a change is a new version of the family, activated when staff choose.

Marketers and admins edit the templates of their own organisation and read the global ones; only
admins change global templates (``org_id`` left out). Another organisation's templates answer
404, like missing ones, and so do ids out of the database's range. Every change is audited.
"""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from fastapi import APIRouter, Path, Query, status
from pydantic import BaseModel, ConfigDict, Field, field_validator
from sqlalchemy.exc import IntegrityError

from outreach.api.access import Caller, TemplateEditor
from outreach.api.dependencies import ClockDep, EngineDep, StoreDep
from outreach.api.errors import ApiError
from outreach.domain import Channel, Purpose, Role
from outreach.sql.store import Store
from outreach.sql.template_repository import (
    activate_template,
    family_exists,
    family_key_of,
    get_template,
    insert_template_version,
    list_templates,
)
from outreach.templating import (
    VARIABLE_REGISTRY,
    TemplatePolicyError,
    TemplateRecord,
    TemplateRenderError,
    VariableKind,
    Violation,
    find_violations,
    preview,
)

router = APIRouter(prefix="/api/v1/templates", tags=["templates"])

TemplateId = Annotated[int, Path(description="A template version's id.")]
MAX_ID = 2**63 - 1  # ids are signed 64-bit integers: anything else names no template
_LANGUAGE = r"^[A-Za-z]{2,3}(-[A-Za-z0-9]{2,8})*$"
_VARIANT = r"^[A-Za-z0-9_-]{1,16}$"
_WHATSAPP_NAME = r"^[a-z0-9_]{1,128}$"  # Meta's rule for template names
_ATTEMPTS = 3  # concurrent saves of one family race for the version number


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


def _record(values: dict[str, Any]) -> TemplateRecord:
    return TemplateRecord(
        id=str(values.get("id") or "unsaved"),
        org_id=values.get("org_id"),
        provider_id=values.get("provider_id"),
        purpose=values["purpose"],
        channel=values["channel"],
        language=values["language"],
        variant=values.get("variant") or "A",
        subject=values.get("subject"),
        body=values["body"],
        declared_variables=tuple(values.get("declared_variables") or ()),
        whatsapp_template_name=values.get("whatsapp_template_name"),
        version=values.get("version") or 1,
        is_active=bool(values.get("is_active")),
        family=values.get("family"),
    )


def _check(values: dict[str, Any]) -> None:
    violations = find_violations(_record(values))
    if violations:
        raise _refuse(violations)


def template_view(row: dict[str, Any]) -> dict[str, Any]:
    created_at: datetime | None = row.get("created_at")
    return {
        "id": row["id"],
        "family_key": row["family_key"],
        "org_id": row["org_id"],
        "provider_id": row["provider_id"],
        "purpose": str(row["purpose"]),
        "channel": str(row["channel"]),
        "language": row["language"],
        "variant": row["variant"],
        "version": row["version"],
        "subject": row["subject"],
        "body": row["body"],
        "declared_variables": list(row["declared_variables"] or []),
        "whatsapp_template_name": row["whatsapp_template_name"],
        "family": row["family"],
        "is_active": bool(row["is_active"]),
        "created_by": row["created_by"],
        "created_at": created_at.isoformat() if created_at else None,
    }


def _save_version(
    engine: Any,
    store: Store,
    values: dict[str, Any],
    *,
    caller: Caller,
    now: datetime,
    new_family: bool,
) -> dict[str, Any]:
    for _ in range(_ATTEMPTS):
        try:
            with engine.begin() as connection:
                if new_family:
                    existing = family_exists(connection, family_key_of(values))
                    if existing is not None:
                        raise ApiError(
                            409,
                            "template_exists",
                            {
                                "message": "this family exists; add a version to it instead",
                                "latest_id": existing,
                                "versions_url": f"/api/v1/templates/{existing}/versions",
                            },
                        )
                new_id = insert_template_version(
                    connection, values, created_by=caller.actor.name, now=now
                )
                if values.get("activate"):
                    activate_template(connection, new_id)
                row = get_template(connection, new_id)
            if row is None:
                raise RuntimeError("inserted template not found")
            action = "template_created" if new_family else "template_version_created"
            _audit(store, caller, action, row, now, activated=bool(values.get("activate")))
            return template_view(row)
        except IntegrityError:
            continue  # another save took this version number: number again
    raise ApiError(409, "conflict", "the family is being changed concurrently; retry")


def _audit(
    store: Store,
    caller: Caller,
    action: str,
    row: dict[str, Any],
    now: datetime,
    *,
    activated: bool,
) -> None:
    with store.transaction() as repos:
        repos.audit.record(
            [
                caller.audit(
                    action,
                    now,
                    detail={
                        "template_id": row["id"],
                        "family_key": row["family_key"],
                        "version": row["version"],
                        "global": row["org_id"] is None,
                        "activated": activated,
                    },
                )
            ]
        )


def _unknown_template() -> ApiError:
    return ApiError(404, "not_found", "unknown template")


def _load(engine: Any, template_id: int, caller: Caller) -> dict[str, Any]:
    """A template the caller may see: its organisation's or a global one; else 404."""
    if not 1 <= template_id <= MAX_ID:
        raise _unknown_template()
    with engine.connect() as connection:
        row = get_template(connection, template_id)
    if row is None or row["org_id"] not in (None, caller.org_id):
        raise _unknown_template()
    return row


def _may_change(caller: Caller, org_id: str | None) -> None:
    """Global templates reach every organisation's patients: only admins change them."""
    if org_id is None and caller.role is not Role.ADMIN:
        raise ApiError(403, "forbidden", "only admins change global templates")


@router.post("", status_code=status.HTTP_201_CREATED)
def create_template(
    body: TemplateCreate,
    engine: EngineDep,
    store: StoreDep,
    clock: ClockDep,
    caller: TemplateEditor,
) -> dict[str, Any]:
    """Version 1 of a new family (409 if the family exists: add a version instead): the
    caller's organisation's, or global when ``org_id`` is left out (admins only)."""
    if body.org_id is not None:
        caller.own_org(body.org_id, "body.org_id")
    _may_change(caller, body.org_id)
    values = body.model_dump()
    _check(values)
    return _save_version(engine, store, values, caller=caller, now=clock(), new_family=True)


@router.post("/{template_id}/versions", status_code=status.HTTP_201_CREATED)
def create_version(
    template_id: TemplateId,
    body: TemplateContent,
    engine: EngineDep,
    store: StoreDep,
    clock: ClockDep,
    caller: TemplateEditor,
) -> dict[str, Any]:
    """The next version of ``template_id``'s family, with new content; same scope and language."""
    base = _load(engine, template_id, caller)
    _may_change(caller, base["org_id"])
    values = {
        key: base[key]
        for key in ("org_id", "provider_id", "purpose", "channel", "language", "variant", "family")
    } | body.model_dump()
    _check(values)
    return _save_version(engine, store, values, caller=caller, now=clock(), new_family=False)


@router.post("/{template_id}/activate")
def activate(
    template_id: TemplateId,
    engine: EngineDep,
    store: StoreDep,
    clock: ClockDep,
    caller: TemplateEditor,
) -> dict[str, Any]:
    """Make this version the family's active one; the others are deactivated."""
    base = _load(engine, template_id, caller)
    _may_change(caller, base["org_id"])
    # A version saved before a stricter policy must not go live now.
    violations = find_violations(_record(base))
    if violations:
        raise _refuse(violations)
    with engine.begin() as connection:
        if not activate_template(connection, template_id):
            raise _unknown_template()
        row = get_template(connection, template_id)
    _audit(store, caller, "template_activated", row or base, clock(), activated=True)
    return template_view(row or base)


@router.get("")
def list_all(
    engine: EngineDep,
    caller: TemplateEditor,
    purpose: Annotated[Purpose | None, Query()] = None,
    channel: Annotated[Channel | None, Query()] = None,
    language: Annotated[str | None, Query(max_length=16)] = None,
    org_id: Annotated[str | None, Query(max_length=64)] = None,
    provider_id: Annotated[str | None, Query(max_length=64)] = None,
    active: Annotated[bool | None, Query()] = None,
) -> dict[str, Any]:
    with engine.connect() as connection:
        rows = list_templates(
            connection,
            purpose=purpose.value if purpose else None,
            channel=channel.value if channel else None,
            language=language,
            org_id=org_id,
            provider_id=provider_id,
            active=active,
            visible_to_org=caller.org_id,
        )
    return {"templates": [template_view(row) for row in rows]}


@router.get("/{template_id}")
def get_one(template_id: TemplateId, engine: EngineDep, caller: TemplateEditor) -> dict[str, Any]:
    return template_view(_load(engine, template_id, caller))


def _sample_value(name: str, value: str | int | float) -> object:
    """ISO timestamps for date/time variables become aware datetimes, formatted as at send."""
    spec = VARIABLE_REGISTRY.get(name)
    if (
        isinstance(value, str)
        and spec is not None
        and spec.kind in (VariableKind.DATE, VariableKind.TIME)
    ):
        try:
            moment = datetime.fromisoformat(value)
        except ValueError:
            return value
        if moment.tzinfo is not None:
            return moment
    return value


@router.post("/{template_id}/preview")
def preview_template(
    template_id: TemplateId,
    body: PreviewRequest,
    engine: EngineDep,
    clock: ClockDep,
    caller: TemplateEditor,
) -> dict[str, Any]:
    """Render with sample values for staff; PHI variables always show as ``[name]``."""
    record = _record(_load(engine, template_id, caller))
    samples = {name: _sample_value(name, value) for name, value in body.sample_context.items()}
    try:
        shown = preview(record, samples, now=clock(), timezone=body.timezone, locale=body.locale)
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
