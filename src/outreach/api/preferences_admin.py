"""Organisation and provider defaults of the preference hierarchy, readable and editable.

``PUT`` replaces a level: a field left out or null inherits from the level above. Values are
checked by the preferences core's own ``PreferenceLayer`` (IANA zone, BCP 47 language, channels,
hours), and every change lands in ``comm_audit_log`` with the caller's credential as actor.
Admins only, and only for their own organisation: another organisation's settings, or a
provider of another organisation, answer 404 like missing ones.
"""

from __future__ import annotations

import enum
from datetime import datetime, time
from typing import Annotated, Any

from fastapi import APIRouter, Path
from pydantic import BaseModel, ConfigDict, Field, StringConstraints, model_validator

from outreach.api.access import AdminCaller
from outreach.api.dependencies import ClockDep, EngineDep
from outreach.api.errors import ApiError
from outreach.domain import Channel
from outreach.preferences import PreferenceLayer
from outreach.sql.preference_rows import LAYER_COLUMNS
from outreach.sql.prefs_admin_repository import (
    ORG_DESCRIPTIVE_COLUMNS,
    load_org_prefs,
    load_provider_prefs,
    save_org_prefs,
    save_provider_prefs,
)

router = APIRouter(prefix="/api/v1", tags=["preferences"])

IdPath = Annotated[str, Path(min_length=1, max_length=64)]
_EMAIL = r"^[^@\s<>,;]+@[^@\s<>,;]+\.[^@\s<>,;]+$"


class HierarchyFields(BaseModel):
    """The fields every level of the hierarchy may set; null means "inherit"."""

    model_config = ConfigDict(extra="forbid")

    timezone: str | None = Field(default=None, max_length=64, description="IANA zone")
    language: str | None = Field(default=None, max_length=16, description="BCP 47 tag")
    quiet_hours_start: time | None = None
    quiet_hours_end: time | None = None
    avoid_work_hours: bool | None = None
    work_hours_start: time | None = None
    work_hours_end: time | None = None
    work_days: list[int] | None = Field(default=None, description="0 = Monday ... 6 = Sunday")
    allowed_channels: list[Channel] | None = None
    preferred_channel: Channel | None = None
    channel_order: list[Channel] | None = None
    best_hour: int | None = None
    marketing_max_per_day: int | None = None
    marketing_max_per_week: int | None = None
    healthcare_reminder_profile: bool | None = None

    @model_validator(mode="after")
    def _valid_layer(self) -> HierarchyFields:
        for window in ("quiet_hours", "work_hours"):
            start, end = getattr(self, f"{window}_start"), getattr(self, f"{window}_end")
            if (start is None) != (end is None):
                raise ValueError(f"{window}_start and {window}_end are set together")
        # The core's own checks, so the API accepts exactly what the pipeline can use.
        PreferenceLayer(**self.layer_values())
        return self

    def layer_values(self) -> dict[str, Any]:
        return {name: getattr(self, name) for name in LAYER_COLUMNS}

    def row_values(self) -> dict[str, Any]:
        """Column values: channels as their names, lists as JSON lists."""
        values = self.layer_values()
        for name in ("allowed_channels", "channel_order"):
            if values[name] is not None:
                values[name] = [Channel(c).value for c in values[name]]
        if values["preferred_channel"] is not None:
            values["preferred_channel"] = Channel(values["preferred_channel"]).value
        return values


class OrgPrefsBody(HierarchyFields):
    name: str = Field(min_length=1, max_length=200)
    clinic_phone: str | None = Field(default=None, max_length=20)
    booking_url: str | None = Field(default=None, max_length=500)
    analyst_emails: (
        list[Annotated[str, StringConstraints(pattern=_EMAIL, max_length=254)]] | None
    ) = Field(
        default=None,
        max_length=20,
        description="Staff addresses the weekly funnel report (aggregates only) is e-mailed to.",
    )


class ProviderPrefsBody(HierarchyFields):
    org_id: str | None = Field(
        default=None,
        min_length=1,
        max_length=64,
        description="Always the credential's organisation: leave it out or give that one.",
    )
    display_name: str | None = Field(default=None, max_length=200)


def _view(row: dict[str, Any], key: str, descriptive: tuple[str, ...]) -> dict[str, Any]:
    layer: dict[str, Any] = {}
    for name in LAYER_COLUMNS:
        value = row.get(name)
        if isinstance(value, time):
            value = value.isoformat()
        elif isinstance(value, enum.Enum):
            value = value.value
        layer[name] = value
    updated_at: datetime | None = row.get("updated_at")
    return {
        key: row[key],
        **{name: row.get(name) for name in descriptive},
        **layer,
        "updated_at": updated_at.isoformat() if updated_at else None,
    }


def _stored(row: dict[str, Any] | None) -> dict[str, Any]:
    if row is None:  # just written in the same transaction: only a broken database gets here
        raise RuntimeError("saved preferences row not found")
    return row


def _own_org(caller: AdminCaller, org_id: str) -> None:
    if org_id != caller.org_id:  # another organisation's settings look like missing ones
        raise ApiError(404, "not_found", "no preferences stored for this organisation")


@router.get("/orgs/{org_id}/comm-prefs")
def get_org_prefs(engine: EngineDep, caller: AdminCaller, org_id: IdPath) -> dict[str, Any]:
    _own_org(caller, org_id)
    with engine.connect() as connection:
        row = load_org_prefs(connection, org_id)
    if row is None:
        raise ApiError(404, "not_found", "no preferences stored for this organisation")
    return _view(row, "org_id", ORG_DESCRIPTIVE_COLUMNS)


@router.put("/orgs/{org_id}/comm-prefs")
def put_org_prefs(
    body: OrgPrefsBody, engine: EngineDep, clock: ClockDep, caller: AdminCaller, org_id: IdPath
) -> dict[str, Any]:
    _own_org(caller, org_id)
    values = body.row_values() | {
        "name": body.name,
        "clinic_phone": body.clinic_phone,
        "booking_url": body.booking_url,
        "analyst_emails": body.analyst_emails,
    }
    with engine.begin() as connection:
        changes = save_org_prefs(connection, org_id, values, actor=caller.actor, now=clock())
        row = load_org_prefs(connection, org_id)
    return _view(_stored(row), "org_id", ORG_DESCRIPTIVE_COLUMNS) | {"changed": sorted(changes)}


def _unknown_provider() -> ApiError:
    return ApiError(404, "not_found", "no preferences stored for this provider")


@router.get("/providers/{provider_id}/comm-prefs")
def get_provider_prefs(
    engine: EngineDep, caller: AdminCaller, provider_id: IdPath
) -> dict[str, Any]:
    with engine.connect() as connection:
        row = load_provider_prefs(connection, provider_id)
    if row is None or row["org_id"] != caller.org_id:
        raise _unknown_provider()
    return _view(row, "provider_id", ("org_id", "display_name"))


@router.put("/providers/{provider_id}/comm-prefs")
def put_provider_prefs(
    body: ProviderPrefsBody,
    engine: EngineDep,
    clock: ClockDep,
    caller: AdminCaller,
    provider_id: IdPath,
) -> dict[str, Any]:
    org_id = caller.own_org(body.org_id, "body.org_id")
    values = body.row_values() | {"org_id": org_id, "display_name": body.display_name}
    with engine.begin() as connection:
        existing = load_provider_prefs(connection, provider_id)
        if existing is not None and existing["org_id"] != org_id:
            raise _unknown_provider()  # another organisation's provider is not the caller's
        changes = save_provider_prefs(
            connection, provider_id, values, actor=caller.actor, now=clock()
        )
        row = load_provider_prefs(connection, provider_id)
    return _view(_stored(row), "provider_id", ("org_id", "display_name")) | {
        "changed": sorted(changes)
    }
