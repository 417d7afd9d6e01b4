"""Template versions as a use case: new families, new versions, activation, lists and previews.

Every save and every activation is held to the templating policy first (``TemplatePolicyError``
lists the violations, and nothing is stored); versions are immutable, so a change is a new
version of its family, live only once activated. Each change is audited in the transaction that
makes it. Shared by the templates API, ``outreach templates seed`` and the demo.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import replace
from datetime import datetime

from outreach.domain import Actor
from outreach.sql.store import Store
from outreach.sql.template_repository import (
    StoredTemplate,
    TemplateFilter,
    VersionNumberTaken,
)
from outreach.templating import (
    VARIABLE_REGISTRY,
    TemplatePreview,
    TemplateRecord,
    VariableKind,
    load_seed_templates,
    preview,
    validate_template,
)

SAVE_ATTEMPTS = 3  # concurrent saves of one family race for the next version number


class FamilyExists(Exception):
    """A new family was asked for, but it exists: add a version to it instead."""

    def __init__(self, latest_id: int) -> None:
        super().__init__(f"the family exists; its latest version is {latest_id}")
        self.latest_id = latest_id


class FamilyBusy(Exception):
    """Concurrent saves kept taking the family's next version number; try again later."""


def template_version(store: Store, template_id: int) -> StoredTemplate | None:
    with store.reading() as repos:
        return repos.templates.get(template_id)


def list_versions(store: Store, wanted: TemplateFilter) -> list[StoredTemplate]:
    with store.reading() as repos:
        return repos.templates.listed(wanted)


def _audit_detail(saved: StoredTemplate, *, activated: bool) -> dict[str, object]:
    return {
        "template_id": saved.id,
        "family_key": saved.family_key,
        "version": saved.record.version,
        "global": saved.record.org_id is None,
        "activated": activated,
    }


def _save(
    store: Store,
    draft: TemplateRecord,
    *,
    new_family: bool,
    activate: bool,
    actor: Actor,
    now: datetime,
) -> StoredTemplate:
    validate_template(draft)
    for _ in range(SAVE_ATTEMPTS):
        try:
            with store.transaction() as repos:
                if new_family:
                    latest = repos.templates.latest_in_family(draft)
                    if latest is not None:
                        raise FamilyExists(latest)
                new_id = repos.templates.add_version(draft, created_by=actor.name, created_at=now)
                if activate:
                    repos.templates.activate(new_id)
                saved = repos.templates.get(new_id)
                if saved is None:  # just inserted in this transaction
                    raise RuntimeError("inserted template not found")
                action = "template_created" if new_family else "template_version_created"
                detail = _audit_detail(saved, activated=activate)
                repos.audit.record([actor.audit(action, now, detail=detail)])
            return saved
        except VersionNumberTaken:
            continue
    raise FamilyBusy()


def create_family(
    store: Store, draft: TemplateRecord, *, activate: bool, actor: Actor, now: datetime
) -> StoredTemplate:
    """Version 1 of the family ``draft`` starts (``FamilyExists`` when there is one already);
    active at once when ``activate``."""
    return _save(store, draft, new_family=True, activate=activate, actor=actor, now=now)


def add_version(
    store: Store,
    family: TemplateRecord,
    *,
    subject: str | None,
    body: str,
    declared_variables: Iterable[str],
    whatsapp_template_name: str | None,
    activate: bool,
    actor: Actor,
    now: datetime,
) -> StoredTemplate:
    """The next version of ``family``'s family (same scope, purpose, channel, language and
    variant) with new text; active at once when ``activate``."""
    draft = replace(
        family,
        subject=subject,
        body=body,
        declared_variables=tuple(declared_variables),
        whatsapp_template_name=whatsapp_template_name,
    )
    return _save(store, draft, new_family=False, activate=activate, actor=actor, now=now)


def activate_version(
    store: Store, template: StoredTemplate, *, actor: Actor, now: datetime
) -> StoredTemplate | None:
    """Make ``template`` its family's active version; None when it no longer exists.

    A version saved before a stricter policy must not go live now: it is checked again.
    """
    validate_template(template.record)
    with store.transaction() as repos:
        if not repos.templates.activate(template.id):
            return None
        activated = repos.templates.get(template.id) or template
        detail = _audit_detail(activated, activated=True)
        repos.audit.record([actor.audit("template_activated", now, detail=detail)])
    return activated


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


def preview_version(
    template: TemplateRecord,
    sample_context: Mapping[str, str | int | float],
    *,
    now: datetime,
    timezone: str,
    locale: str | None,
) -> TemplatePreview:
    """``template`` rendered with sample values for staff; PHI variables show as ``[name]``.

    Raises ``TemplatePolicyError`` or ``TemplateRenderError`` (messages name variables, never
    values)."""
    samples = {name: _sample_value(name, value) for name, value in sample_context.items()}
    return preview(template, samples, now=now, timezone=timezone, locale=locale)


def seed_shipped_templates(store: Store) -> int:
    """Store the shipped templates as the active version 1 of each family, once; returns how
    many were added (0 when they are there already)."""
    with store.transaction() as repos:
        return repos.templates.seed(load_seed_templates())
