"""An organisation's and a provider's settings as staff edit them, and what a save changes.

Each holds one level of the hierarchy (a ``PreferenceLayer``: a field left ``None`` inherits from
the level above) and the level's descriptive fields: the clinic's name, phone and booking link,
or the provider's organisation and display name. A save replaces them all, and the audit log
records each changed field with its old and new value as JSON shows them, so
``settings_changes`` is the one place that says what changed and how it reads.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, ClassVar, TypeVar

from outreach.preferences.hierarchy import LEVEL_FIELDS, PreferenceLayer, json_ready


@dataclass(frozen=True, slots=True)
class OrgSettings:
    """An organisation's level of the hierarchy, with the facts its messages quote."""

    org_id: str
    name: str
    clinic_phone: str | None = None
    booking_url: str | None = None
    layer: PreferenceLayer = field(default_factory=PreferenceLayer)
    updated_at: datetime | None = None  # when last saved; None for settings not saved yet
    # Staff addresses the weekly funnel report (aggregates only) goes to, sorted; None: none.
    analyst_emails: tuple[str, ...] | None = None

    descriptive_fields: ClassVar[tuple[str, ...]] = (
        "name",
        "clinic_phone",
        "booking_url",
        "analyst_emails",
    )
    # Staff addresses: the audit log records how many there were and are, not which.
    counted_in_audit: ClassVar[tuple[str, ...]] = ("analyst_emails",)

    @property
    def identity(self) -> tuple[str, str]:
        """(name, value) of the field that names these settings, as the audit entry shows it."""
        return "org_id", self.org_id


@dataclass(frozen=True, slots=True)
class ProviderSettings:
    """A provider's level of the hierarchy; a provider belongs to one organisation."""

    provider_id: str
    org_id: str
    display_name: str | None = None
    layer: PreferenceLayer = field(default_factory=PreferenceLayer)
    updated_at: datetime | None = None  # when last saved; None for settings not saved yet

    descriptive_fields: ClassVar[tuple[str, ...]] = ("org_id", "display_name")
    counted_in_audit: ClassVar[tuple[str, ...]] = ()

    @property
    def identity(self) -> tuple[str, str]:
        """(name, value) of the field that names these settings, as the audit entry shows it."""
        return "provider_id", self.provider_id


LevelSettings = TypeVar("LevelSettings", OrgSettings, ProviderSettings)


@dataclass(frozen=True, slots=True)
class FieldChange:
    """One field's value before and after a save, as JSON shows them (``None``: inherited)."""

    before: Any
    after: Any


def _shown_fields(settings: OrgSettings | ProviderSettings) -> dict[str, Any]:
    shown = {name: json_ready(getattr(settings, name)) for name in settings.descriptive_fields}
    shown.update({name: json_ready(getattr(settings.layer, name)) for name in LEVEL_FIELDS})
    return shown


def settings_changes(stored: LevelSettings | None, new: LevelSettings) -> dict[str, FieldChange]:
    """The fields ``new`` changes over ``stored``, in field order; against nothing stored yet,
    every field ``new`` sets. Sets compare unordered (allowed channels, work days), the channel
    order as a sequence; the save time is no field."""
    after = _shown_fields(new)
    if stored is None:  # a new level: what it sets (an empty list sets nothing, like None)
        return {
            name: FieldChange(None, value)
            for name, value in after.items()
            if value is not None and value != [] and value != ()
        }
    before = _shown_fields(stored)
    return {
        name: FieldChange(before[name], value)
        for name, value in after.items()
        if before[name] != value
    }


def settings_audit_detail(
    new: OrgSettings | ProviderSettings, changes: Mapping[str, FieldChange], *, created: bool
) -> dict[str, Any]:
    """The ``detail`` of a settings change's audit entry: whose, whether new, and each change."""
    name, value = new.identity

    def shown(field_name: str, value: Any) -> Any:
        if field_name in new.counted_in_audit and value is not None:
            return len(value)
        return value

    return {
        name: value,
        "created": created,
        "changes": {
            field_name: {
                "from": shown(field_name, change.before),
                "to": shown(field_name, change.after),
            }
            for field_name, change in changes.items()
        },
    }
