"""The console's Templates pages (marketers and admins): the organisation's template families,
an editor with the PHI policy's live verdict and an SMS cost counter, previews for a sample
patient with PHI masked, and each family's version history with activation.

Pages call the services the templates API calls (``services.template_versions``) and reuse its
validation (``TemplateCreate``, ``TemplateContent``, ``PreviewRequest``), so a version the console
saves is one the API would save, refused for the same reasons. The organisation comes from the
session: another organisation's template answers the same 404 page as a missing one. Global
templates are shown read-only to marketers; only admins change them, as in the API.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Form, Request
from fastapi.responses import JSONResponse, Response
from pydantic import BaseModel, ConfigDict, Field, ValidationError

from outreach.api.channel_names import RegisteredChannel
from outreach.api.console.auth import MARKETING, ConsoleForbidden, ConsoleUser, console_allow
from outreach.api.console.rendering import redirect, render, secure
from outreach.api.console.template_editor import (
    MAX_BODY_CHARS,
    MAX_SUBJECT_CHARS,
    PURPOSE_LABELS,
    EditorFields,
    Verdict,
    body_lines,
    draft_record,
    judge,
    new_family,
    next_version,
    policy_problems,
    purpose_label,
    sample_patient,
    variable_rows,
)
from outreach.api.dependencies import ClockDep, StoreDep
from outreach.api.templates import MAX_ID, PreviewRequest
from outreach.domain import Channel, Purpose, Role, known_channels
from outreach.services.organisation_settings import org_settings
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
from outreach.sql.template_repository import LIST_LIMIT, StoredTemplate, TemplateFilter
from outreach.templating import TemplatePolicyError, TemplateRenderError

router = APIRouter(prefix="/console/templates", include_in_schema=False)

Marketing = Annotated[ConsoleUser, Depends(console_allow(*MARKETING))]
PATH = "/console/templates"
FORM_TEXT = 2 * MAX_BODY_CHARS  # generous bound: the API's own rules give the precise message
MAX_LANGUAGE_CHARS = 16


def _template_id(raw: str) -> int | None:
    """A version id from the path; anything else names no template (the same 404 page)."""
    if not raw.isascii() or not raw.isdigit():
        return None
    number = int(raw)
    return number if 1 <= number <= MAX_ID else None


def _visible(store: Store, raw_id: str, user: ConsoleUser) -> StoredTemplate | None:
    """A version the user may see: their organisation's or a global one; else None (404)."""
    template_id = _template_id(raw_id)
    if template_id is None:
        return None
    template = template_version(store, template_id)
    if template is None or template.record.org_id not in (None, user.org_id):
        return None
    return template


def _may_change(user: ConsoleUser, template: StoredTemplate) -> bool:
    """Global templates reach every organisation's patients: only admins change them."""
    return template.record.org_id is not None or user.role is Role.ADMIN


def _refuse_change(user: ConsoleUser, template: StoredTemplate) -> None:
    if not _may_change(user, template):
        raise ConsoleForbidden("only admins change global templates; marketers may read them")


def _missing(request: Request, user: ConsoleUser) -> Response:
    return render(request, "template_missing.html", user, status_code=404)


def _family_title(record: Any) -> str:
    return f"{purpose_label(record.purpose)} · {record.channel} · {record.language}"


def _channels() -> list[Channel]:
    return list(known_channels())


# ---------------------------------------------------------------------------------------------
# The list of families


@dataclass(frozen=True, slots=True)
class FamilyRow:
    """One family of the list: its identity, its active version and how many versions."""

    latest: StoredTemplate
    active: StoredTemplate | None
    versions: int

    @property
    def record(self) -> Any:
        return self.latest.record

    @property
    def is_global(self) -> bool:
        return self.latest.record.org_id is None

    @property
    def link_id(self) -> int:
        return (self.active or self.latest).id


def _families(versions: list[StoredTemplate]) -> list[FamilyRow]:
    grouped: dict[str, list[StoredTemplate]] = {}
    for version in versions:
        grouped.setdefault(version.family_key, []).append(version)
    rows = [
        FamilyRow(
            latest=max(members, key=lambda t: t.record.version),
            active=next((t for t in members if t.record.is_active), None),
            versions=len(members),
        )
        for members in grouped.values()
    ]

    def order(row: FamilyRow) -> tuple[Any, ...]:
        r = row.record
        return (row.is_global, r.purpose.value, r.channel, r.language, r.variant, r.family or "")

    return sorted(rows, key=order)


@router.get("")
def template_list(
    request: Request,
    user: Marketing,
    store: StoreDep,
    purpose: str = "",
    channel: str = "",
    language: str = "",
) -> Response:
    errors: dict[str, str] = {}
    if purpose and purpose not in set(Purpose):
        errors["purpose"] = "Choose a purpose from the list."
    if channel and channel not in known_channels():
        errors["channel"] = "Choose a channel from the list."
    if len(language) > MAX_LANGUAGE_CHARS:
        errors["language"] = "A language tag such as en, es or pt-BR."
    families: list[FamilyRow] = []
    truncated = False
    if not errors:
        versions = list_versions(
            store,
            TemplateFilter(
                purpose=Purpose(purpose) if purpose else None,
                channel=Channel(channel) if channel else None,
                language=language.strip() or None,
                visible_to_org=user.org_id,
            ),
        )
        truncated = len(versions) >= LIST_LIMIT
        families = _families(versions)
    return render(
        request,
        "template_list.html",
        user,
        status_code=422 if errors else 200,
        families=families,
        truncated=truncated,
        errors=errors,
        wanted={"purpose": purpose, "channel": channel, "language": language},
        purposes=PURPOSE_LABELS,
        channels=_channels(),
        purpose_label=purpose_label,
    )


# ---------------------------------------------------------------------------------------------
# The editor: a new family, or a family's next version


def _editor(
    request: Request,
    user: ConsoleUser,
    *,
    fields: EditorFields,
    base: StoredTemplate | None,
    verdict: Verdict | None = None,
    errors: Mapping[str, str] | None = None,
    notice: str | None = None,
    exists_id: int | None = None,
    status_code: int = 200,
) -> Response:
    flagged = verdict.flagged_lines() if verdict else frozenset()
    return render(
        request,
        "template_editor.html",
        user,
        status_code=status_code,
        fields=fields,
        base=base,
        family_title=_family_title(base.record) if base else None,
        action=f"{PATH}/{base.id}/new-version" if base else f"{PATH}/new",
        verdict=verdict,
        errors=errors or {},
        notice=notice,
        exists_id=exists_id,
        lines=body_lines(fields.body, flagged),
        rows=max(8, min(24, fields.body.count("\n") + 2)),
        purposes=PURPOSE_LABELS,
        channels=_channels(),
        variables=variable_rows(_channels()),
        max_body=MAX_BODY_CHARS,
        max_subject=MAX_SUBJECT_CHARS,
    )


def _verdict(
    store: Store, user: ConsoleUser, fields: EditorFields, now: Any, base: StoredTemplate | None
) -> Verdict | None:
    record = draft_record(fields, org_id=user.org_id, family=base.record if base else None)
    if record is None:
        return None
    return judge(record, sample_patient(org_settings(store, user.org_id), now), now=now)


def _refused_notice(verdict: Verdict | None) -> str:
    count = len(verdict.problems) if verdict else 0
    noun = "problem" if count == 1 else "problems"
    return f"The PHI policy refused this template ({count} {noun}, below). Nothing was saved."


# Form fields are not bounded here: the API's body size limit bounds the request, and the API's
# models (``TemplateCreate``, ``TemplateContent``) give each field its message on the page.
FormField = Annotated[str, Form()]


def _submitted(
    purpose: str,
    channel: str,
    language: str,
    variant: str,
    family: str,
    subject: str,
    body: str,
    whatsapp_template_name: str,
    activate: str,
    action: str,
) -> tuple[EditorFields, str]:
    """The form's fields, and whether the author asked to check or to save."""
    # Browsers send textarea line breaks as CRLF; the stored text uses LF, as typed.
    fields = EditorFields(
        purpose=purpose,
        channel=channel,
        language=language,
        variant=variant,
        family=family,
        subject=subject.replace("\r\n", "\n"),
        body=body.replace("\r\n", "\n"),
        whatsapp_template_name=whatsapp_template_name,
        activate=bool(activate),
    )
    return fields, "save" if action == "save" else "check"


@router.get("/new")
def new_template_page(
    request: Request,
    user: Marketing,
    store: StoreDep,
    clock: ClockDep,
    purpose: str = "",
    channel: str = "",
) -> Response:
    defaults = EditorFields()
    fields = EditorFields(
        purpose=purpose if purpose in set(Purpose) else defaults.purpose,
        channel=channel if channel in known_channels() else defaults.channel,
    )
    return _editor(request, user, fields=fields, base=None)


@router.post("/new")
def new_template(
    request: Request,
    user: Marketing,
    store: StoreDep,
    clock: ClockDep,
    purpose: FormField = "",
    channel: FormField = "",
    language: FormField = "",
    variant: FormField = "",
    family: FormField = "",
    subject: FormField = "",
    body: FormField = "",
    whatsapp_template_name: FormField = "",
    activate: FormField = "",
    action: FormField = "check",
) -> Response:
    now = clock()
    fields, asked = _submitted(
        purpose,
        channel,
        language,
        variant,
        family,
        subject,
        body,
        whatsapp_template_name,
        activate,
        action,
    )
    created, errors = new_family(fields, user.org_id)
    verdict = _verdict(store, user, fields, now, None)
    if asked == "check" or created is None:
        return _checked(request, user, fields, None, verdict, errors)
    try:
        saved = create_family(
            store, created.draft(), activate=created.activate, actor=user.caller.actor, now=now
        )
    except (TemplatePolicyError, FamilyExists, FamilyBusy) as refusal:
        return _not_saved(request, user, fields, None, verdict, refusal)
    return redirect(f"{PATH}/{saved.id}?saved={saved.id}")


def _checked(
    request: Request,
    user: ConsoleUser,
    fields: EditorFields,
    base: StoredTemplate | None,
    verdict: Verdict | None,
    errors: Mapping[str, str] | None,
) -> Response:
    """The editor again after "Check", or after a save whose fields need a change."""
    return _editor(
        request,
        user,
        fields=fields,
        base=base,
        verdict=verdict,
        errors=errors,
        notice="Some fields need a change: see the messages next to them." if errors else None,
        status_code=422 if errors else 200,
    )


def _not_saved(
    request: Request,
    user: ConsoleUser,
    fields: EditorFields,
    base: StoredTemplate | None,
    verdict: Verdict | None,
    refusal: TemplatePolicyError | FamilyExists | FamilyBusy,
) -> Response:
    """The editor again, with what kept a save from happening (the text kept)."""
    if isinstance(refusal, TemplatePolicyError):
        verdict = Verdict(policy_problems(refusal.violations), verdict.sms if verdict else None)
        return _editor(
            request,
            user,
            fields=fields,
            base=base,
            verdict=verdict,
            notice=_refused_notice(verdict),
            status_code=422,
        )
    if isinstance(refusal, FamilyExists):
        return _editor(
            request,
            user,
            fields=fields,
            base=base,
            verdict=verdict,
            notice="This template exists already (same purpose, channel, language and variant): "
            "add a version to it instead.",
            exists_id=refusal.latest_id,
            status_code=409,
        )
    return _editor(
        request,
        user,
        fields=fields,
        base=base,
        verdict=verdict,
        notice="Someone else is changing this template right now: save again.",
        status_code=409,
    )


class CheckRequest(BaseModel):
    """The editor's draft as its script sends it, for the live verdict while the author types."""

    model_config = ConfigDict(extra="forbid")

    family_of: int | None = Field(default=None, ge=1, le=MAX_ID)  # a version editor's family
    purpose: Purpose = Purpose.APPT_REMINDER
    channel: RegisteredChannel = Channel.SMS
    language: str = Field(default="en", max_length=16)
    subject: str = Field(default="", max_length=FORM_TEXT)
    body: str = Field(default="", max_length=FORM_TEXT)
    whatsapp_template_name: str = Field(default="", max_length=256)


@router.post("/check")
def check_draft(
    request: Request, user: Marketing, store: StoreDep, clock: ClockDep, draft: CheckRequest
) -> Response:
    """The policy's verdict on a draft (the check a save runs) and its SMS cost, as JSON."""
    base = _visible(store, str(draft.family_of), user) if draft.family_of else None
    if draft.family_of and base is None:
        return secure(
            JSONResponse({"error": "not_found", "detail": "unknown template"}, status_code=404)
        )
    fields = EditorFields(
        purpose=draft.purpose.value,
        channel=str(draft.channel),
        language=draft.language,
        subject=draft.subject.replace("\r\n", "\n"),
        body=draft.body.replace("\r\n", "\n"),
        whatsapp_template_name=draft.whatsapp_template_name,
    )
    verdict = _verdict(store, user, fields, clock(), base)
    return secure(JSONResponse(verdict.view() if verdict else {"accepted": False, "problems": []}))


# ---------------------------------------------------------------------------------------------
# One family: history, next version, activation, preview


def _history(
    request: Request,
    user: ConsoleUser,
    store: Store,
    base: StoredTemplate,
    *,
    notice: str | None = None,
    refused: Verdict | None = None,
    refused_version: int | None = None,
    status_code: int = 200,
) -> Response:
    versions = list_versions(
        store, TemplateFilter(family_key=base.family_key, visible_to_org=user.org_id)
    )
    versions.sort(key=lambda t: t.record.version, reverse=True)
    active = next((t for t in versions if t.record.is_active), None)
    return render(
        request,
        "template_history.html",
        user,
        status_code=status_code,
        base=base,
        family_title=_family_title(base.record),
        purpose_label=purpose_label,
        versions=versions,
        active=active,
        latest=versions[0] if versions else base,
        may_change=_may_change(user, base),
        notice=notice,
        refused=refused,
        refused_version=refused_version,
    )


def _done_notice(
    versions_of: StoredTemplate, store: Store, saved: str, activated: str
) -> str | None:
    for raw, says in ((saved, "saved"), (activated, "activated")):
        template_id = _template_id(raw) if raw else None
        if template_id is None:
            continue
        done = template_version(store, template_id)
        if done is None or done.family_key != versions_of.family_key:
            continue
        if says == "activated":
            return f"Version {done.record.version} is now the active version."
        state = "active" if done.record.is_active else "not active yet: activate it below"
        return f"Version {done.record.version} saved ({state})."
    return None


@router.get("/{template_id}")
def template_history(
    request: Request,
    user: Marketing,
    store: StoreDep,
    template_id: str,
    saved: str = "",
    activated: str = "",
) -> Response:
    base = _visible(store, template_id, user)
    if base is None:
        return _missing(request, user)
    return _history(request, user, store, base, notice=_done_notice(base, store, saved, activated))


@router.get("/{template_id}/new-version")
def new_version_page(
    request: Request, user: Marketing, store: StoreDep, clock: ClockDep, template_id: str
) -> Response:
    base = _visible(store, template_id, user)
    if base is None:
        return _missing(request, user)
    _refuse_change(user, base)
    fields = EditorFields.of_version(base.record)
    return _editor(request, user, fields=fields, base=base)


@router.post("/{template_id}/new-version")
def new_version(
    request: Request,
    user: Marketing,
    store: StoreDep,
    clock: ClockDep,
    template_id: str,
    subject: FormField = "",
    body: FormField = "",
    whatsapp_template_name: FormField = "",
    activate: FormField = "",
    action: FormField = "check",
) -> Response:
    base = _visible(store, template_id, user)
    if base is None:
        return _missing(request, user)
    _refuse_change(user, base)
    now = clock()
    scope = EditorFields.of_version(base.record)
    fields, asked = _submitted(
        scope.purpose,
        scope.channel,
        scope.language,
        scope.variant,
        scope.family,
        subject,
        body,
        whatsapp_template_name,
        activate,
        action,
    )
    content, errors = next_version(fields, base.record)
    verdict = _verdict(store, user, fields, now, base)
    if asked == "check" or content is None:
        return _checked(request, user, fields, base, verdict, errors)
    try:
        saved = add_version(
            store,
            base.record,
            subject=content.subject,
            body=content.body,
            declared_variables=content.declared_variables,
            whatsapp_template_name=content.whatsapp_template_name,
            activate=content.activate,
            actor=user.caller.actor,
            now=now,
        )
    except (TemplatePolicyError, FamilyBusy) as refusal:
        return _not_saved(request, user, fields, base, verdict, refusal)
    return redirect(f"{PATH}/{saved.id}?saved={saved.id}")


@router.post("/{template_id}/activate")
def activate(
    request: Request, user: Marketing, store: StoreDep, clock: ClockDep, template_id: str
) -> Response:
    base = _visible(store, template_id, user)
    if base is None:
        return _missing(request, user)
    _refuse_change(user, base)
    try:
        activated = activate_version(store, base, actor=user.caller.actor, now=clock())
    except TemplatePolicyError as refused:
        return _history(
            request,
            user,
            store,
            base,
            refused=Verdict(policy_problems(refused.violations), None),
            refused_version=base.record.version,
            status_code=422,
        )
    if activated is None:
        return _missing(request, user)
    return redirect(f"{PATH}/{activated.id}?activated={activated.id}")


@router.get("/{template_id}/preview")
def template_preview(
    request: Request,
    user: Marketing,
    store: StoreDep,
    clock: ClockDep,
    template_id: str,
    timezone: str = "UTC",
) -> Response:
    base = _visible(store, template_id, user)
    if base is None:
        return _missing(request, user)
    now = clock()
    sample = sample_patient(org_settings(store, user.org_id), now)
    context: dict[str, Any] = {
        "base": base,
        "family_title": _family_title(base.record),
        "timezone": timezone,
        "sample": sample,
        "shown": None,
        "problems": (),
        "render_error": None,
        "timezone_error": None,
    }
    try:
        asked = PreviewRequest(sample_context=dict(sample), timezone=timezone.strip() or "UTC")
    except ValidationError:
        context["timezone_error"] = "An IANA time zone such as Europe/Paris or America/New_York."
        return render(request, "template_preview.html", user, status_code=422, **context)
    try:
        context["shown"] = preview_version(
            base.record,
            asked.sample_context,
            now=now,
            timezone=asked.timezone,
            locale=asked.locale,
        )
    except TemplatePolicyError as refused:
        context["problems"] = policy_problems(refused.violations)
        return render(request, "template_preview.html", user, status_code=422, **context)
    except TemplateRenderError as error:
        context["render_error"] = str(error)  # names variables, never values
        return render(request, "template_preview.html", user, status_code=422, **context)
    return render(request, "template_preview.html", user, **context)
