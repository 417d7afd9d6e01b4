"""Organisation and provider defaults of the preference hierarchy, readable and editable.

``PUT`` replaces a level: a field left out or null inherits from the level above. Values are
checked by the preferences core's own ``PreferenceLayer`` (IANA zone, BCP 47 language, channels,
hours), and every change lands in ``comm_audit_log`` with the caller's credential as actor.
Admins only, and only for their own organisation: another organisation's settings, or a
provider of another organisation, answer 404 like missing ones.
"""

from __future__ import annotations

from datetime import time
from typing import Annotated, Any

from fastapi import APIRouter, Path
from pydantic import BaseModel, ConfigDict, Field, StringConstraints, model_validator

from outreach.api.access import AdminCaller
from outreach.api.channel_names import RegisteredChannel
from outreach.api.dependencies import ClockDep, StoreDep
from outreach.api.errors import ApiError
from outreach.preferences import (
    LEVEL_FIELDS,
    OrgSettings,
    PreferenceLayer,
    ProviderSettings,
    json_ready,
)
from outreach.services.organisation_settings import (
    ProviderOfAnotherOrganisation,
    org_settings,
    provider_settings,
    replace_org_settings,
    replace_provider_settings,
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
    allowed_channels: list[RegisteredChannel] | None = None
    preferred_channel: RegisteredChannel | None = None
    channel_order: list[RegisteredChannel] | None = None
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
        self.layer()
        return self

    def layer(self) -> PreferenceLayer:
        return PreferenceLayer(**{name: getattr(self, name) for name in LEVEL_FIELDS})


class OrgPrefsBody(HierarchyFields):
    name: str = Field(min_length=1, max_length=200)
    clinic_phone: str | None = Field(default=None, max_length=20)
    booking_url: str | None = Field(default=None, max_length=500)
    analyst_emails: list[Annotated[str, StringConstraints(pattern=_EMAIL, max_length=254)]] = Field(
        default_factory=list,
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


def _view(settings: OrgSettings | ProviderSettings) -> dict[str, Any]:
    key, value = settings.identity
    return {
        key: value,
        **{name: json_ready(getattr(settings, name)) for name in settings.descriptive_fields},
        **{name: json_ready(getattr(settings.layer, name)) for name in LEVEL_FIELDS},
        "updated_at": settings.updated_at.isoformat() if settings.updated_at else None,
    }


def _own_org(caller: AdminCaller, org_id: str) -> None:
    if org_id != caller.org_id:  # another organisation's settings look like missing ones
        raise ApiError(404, "not_found", "no preferences stored for this organisation")


@router.get("/orgs/{org_id}/comm-prefs")
def get_org_prefs(store: StoreDep, caller: AdminCaller, org_id: IdPath) -> dict[str, Any]:
    _own_org(caller, org_id)
    settings = org_settings(store, org_id)
    if settings is None:
        raise ApiError(404, "not_found", "no preferences stored for this organisation")
    return _view(settings)


@router.put("/orgs/{org_id}/comm-prefs")
def put_org_prefs(
    body: OrgPrefsBody, store: StoreDep, clock: ClockDep, caller: AdminCaller, org_id: IdPath
) -> dict[str, Any]:
    _own_org(caller, org_id)
    new = OrgSettings(
        org_id=org_id,
        name=body.name,
        clinic_phone=body.clinic_phone,
        booking_url=body.booking_url,
        layer=body.layer(),
        analyst_emails=tuple(sorted(set(body.analyst_emails))) or None,
    )
    saved = replace_org_settings(store, new, actor=caller.actor, now=clock())
    return _view(saved.settings) | {"changed": sorted(saved.changes)}


def _unknown_provider() -> ApiError:
    return ApiError(404, "not_found", "no preferences stored for this provider")


@router.get("/providers/{provider_id}/comm-prefs")
def get_provider_prefs(store: StoreDep, caller: AdminCaller, provider_id: IdPath) -> dict[str, Any]:
    settings = provider_settings(store, provider_id)
    if settings is None or settings.org_id != caller.org_id:
        raise _unknown_provider()
    return _view(settings)


@router.put("/providers/{provider_id}/comm-prefs")
def put_provider_prefs(
    body: ProviderPrefsBody,
    store: StoreDep,
    clock: ClockDep,
    caller: AdminCaller,
    provider_id: IdPath,
) -> dict[str, Any]:
    new = ProviderSettings(
        provider_id=provider_id,
        org_id=caller.own_org(body.org_id, "body.org_id"),
        display_name=body.display_name,
        layer=body.layer(),
    )
    try:
        saved = replace_provider_settings(store, new, actor=caller.actor, now=clock())
    except ProviderOfAnotherOrganisation:
        raise _unknown_provider() from None  # another organisation's provider is not the caller's
    return _view(saved.settings) | {"changed": sorted(saved.changes)}
