"""Organisation and provider settings as a use case: read them, and replace them audited.

A replacement writes the level and one ``comm_audit_log`` entry naming each changed field with
its old and new value, in one transaction, so no change goes unrecorded; saving what is already
stored writes and audits nothing. Shared by the admin routes of the API and the demo, which
sets its clinics up the way an administrator would.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Generic, Protocol, TypeVar

from outreach.domain import Actor
from outreach.preferences import (
    FieldChange,
    OrgSettings,
    ProviderSettings,
    settings_audit_detail,
    settings_changes,
)
from outreach.sql.store import Repositories, Store

ORG_SETTINGS_CHANGED = "org_prefs_changed"
PROVIDER_SETTINGS_CHANGED = "provider_prefs_changed"

LevelSettings = TypeVar("LevelSettings", OrgSettings, ProviderSettings)


@dataclass(frozen=True, slots=True)
class SavedSettings(Generic[LevelSettings]):
    """The settings as stored after a replacement, and what it changed (empty: nothing)."""

    settings: LevelSettings
    changes: Mapping[str, FieldChange]


class ProviderOfAnotherOrganisation(Exception):
    """The provider id names a provider of another organisation: not the caller's to change."""


class _SettingsRepository(Protocol[LevelSettings]):
    def get(self, key: str, /, *, lock: bool = False) -> LevelSettings | None: ...

    def save(self, settings: LevelSettings, *, updated_at: datetime) -> LevelSettings: ...


def org_settings(store: Store, org_id: str) -> OrgSettings | None:
    with store.reading() as repos:
        return repos.org_settings.get(org_id)


def provider_settings(store: Store, provider_id: str) -> ProviderSettings | None:
    """The provider's settings, whichever organisation it belongs to."""
    with store.reading() as repos:
        return repos.provider_settings.get(provider_id)


def _replace(
    repos: Repositories,
    repository: _SettingsRepository[LevelSettings],
    stored: LevelSettings | None,
    new: LevelSettings,
    *,
    action: str,
    actor: Actor,
    now: datetime,
) -> SavedSettings[LevelSettings]:
    changes = settings_changes(stored, new)
    if stored is not None and not changes:
        return SavedSettings(stored, {})
    saved = repository.save(new, updated_at=now)
    detail = settings_audit_detail(new, changes, created=stored is None)
    repos.audit.record([actor.audit(action, now, org_id=new.org_id, detail=detail)])
    return SavedSettings(saved, changes)


def replace_org_settings(
    store: Store, new: OrgSettings, *, actor: Actor, now: datetime
) -> SavedSettings[OrgSettings]:
    """Replace an organisation's settings (creating them the first time); audited."""
    with store.transaction() as repos:
        stored = repos.org_settings.get(new.org_id, lock=True)
        return _replace(
            repos,
            repos.org_settings,
            stored,
            new,
            action=ORG_SETTINGS_CHANGED,
            actor=actor,
            now=now,
        )


def replace_provider_settings(
    store: Store, new: ProviderSettings, *, actor: Actor, now: datetime
) -> SavedSettings[ProviderSettings]:
    """Replace a provider's settings (creating them the first time); audited. A provider stays
    with its organisation: one of another organisation raises ``ProviderOfAnotherOrganisation``."""
    with store.transaction() as repos:
        stored = repos.provider_settings.get(new.provider_id, lock=True)
        if stored is not None and stored.org_id != new.org_id:
            raise ProviderOfAnotherOrganisation(new.provider_id)
        return _replace(
            repos,
            repos.provider_settings,
            stored,
            new,
            action=PROVIDER_SETTINGS_CHANGED,
            actor=actor,
            now=now,
        )
