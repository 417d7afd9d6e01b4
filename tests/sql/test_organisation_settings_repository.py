"""Organisation and provider settings on MariaDB: every field read back as saved, a save replaces
the level, and the rows are the ones the decisions read."""

from __future__ import annotations

from datetime import UTC, datetime, time

import pytest
from sqlalchemy import Engine, select
from tests.factories import new_id

from outreach.domain import Channel
from outreach.preferences import LEVEL_FIELDS, OrgSettings, PreferenceLayer, ProviderSettings
from outreach.sql.models import OrgCommPrefs
from outreach.sql.organisation_settings_repository import (
    OrgSettingsRepository,
    ProviderSettingsRepository,
)
from outreach.sql.store import Store

pytestmark = pytest.mark.services

SAVED_AT = datetime(2026, 3, 2, 15, 0, 0, 123456, tzinfo=UTC)
EVERY_FIELD = PreferenceLayer(
    timezone="America/Phoenix",
    language="es-MX",
    quiet_hours_start=time(20, 30),
    quiet_hours_end=time(8, 0),
    avoid_work_hours=True,
    work_hours_start=time(22, 0),
    work_hours_end=time(6, 0),
    work_days=frozenset({4, 0, 2}),
    allowed_channels=frozenset({Channel.WHATSAPP, Channel.EMAIL}),
    preferred_channel=Channel.WHATSAPP,
    channel_order=(Channel.WHATSAPP, Channel.SMS, Channel.EMAIL),
    best_hour=17,
    marketing_max_per_day=0,
    marketing_max_per_week=2,
    healthcare_reminder_profile=False,
)


def test_every_level_field_is_set_in_the_example() -> None:
    assert all(getattr(EVERY_FIELD, name) is not None for name in LEVEL_FIELDS)


def test_org_settings_read_back_as_saved(mariadb_engine: Engine) -> None:
    settings = OrgSettings(
        org_id=new_id("org"),
        name="Sunrise Clinic",
        clinic_phone="+12025550100",
        booking_url="https://book.sunrise.example",
        layer=EVERY_FIELD,
    )
    with mariadb_engine.begin() as connection:
        saved = OrgSettingsRepository(connection).save(settings, updated_at=SAVED_AT)
    with mariadb_engine.connect() as connection:
        read = OrgSettingsRepository(connection).get(settings.org_id)
    expected = OrgSettings(
        org_id=settings.org_id,
        name=settings.name,
        clinic_phone=settings.clinic_phone,
        booking_url=settings.booking_url,
        layer=EVERY_FIELD,
        updated_at=SAVED_AT,
    )
    assert saved == read == expected


def test_a_save_replaces_the_level_and_sets_are_stored_sorted(mariadb_engine: Engine) -> None:
    org_id = new_id("org")
    first = OrgSettings(org_id=org_id, name="Sunrise", clinic_phone="+1202", layer=EVERY_FIELD)
    second = OrgSettings(
        org_id=org_id,
        name="Sunset",
        layer=PreferenceLayer(allowed_channels=frozenset({Channel.SMS, Channel.EMAIL})),
    )
    later = datetime(2026, 3, 3, tzinfo=UTC)
    with mariadb_engine.begin() as connection:
        repository = OrgSettingsRepository(connection)
        repository.save(first, updated_at=SAVED_AT)
        replaced = repository.save(second, updated_at=later)
    # Left out is NULL again: the level inherits it from the one above.
    assert replaced.layer == second.layer and replaced.clinic_phone is None
    assert (replaced.name, replaced.updated_at) == ("Sunset", later)
    table = OrgCommPrefs.__table__
    with mariadb_engine.connect() as connection:
        row = connection.execute(select(table).where(table.c.org_id == org_id)).mappings().one()
    assert (row["allowed_channels"], row["channel_order"], row["timezone"]) == (
        ["email", "sms"],
        None,
        None,
    )


def test_the_decisions_read_the_saved_levels(mariadb_engine: Engine) -> None:
    org_id, provider_id = new_id("org"), new_id("prov")
    provider_layer = PreferenceLayer(timezone="Asia/Kolkata", channel_order=(Channel.EMAIL,))
    with mariadb_engine.begin() as connection:
        OrgSettingsRepository(connection).save(
            OrgSettings(org_id=org_id, name="Clinic", layer=EVERY_FIELD), updated_at=SAVED_AT
        )
        ProviderSettingsRepository(connection).save(
            ProviderSettings(provider_id=provider_id, org_id=org_id, layer=provider_layer),
            updated_at=SAVED_AT,
        )
    with Store(mariadb_engine).reading() as repos:
        assert repos.patients.org_layers([org_id]) == {org_id: EVERY_FIELD}
        assert repos.patients.provider_layers([provider_id]) == {provider_id: provider_layer}


def test_provider_settings_read_back_whatever_their_organisation(mariadb_engine: Engine) -> None:
    settings = ProviderSettings(
        provider_id=new_id("prov"),
        org_id=new_id("org"),
        display_name="Dr. Kim",
        layer=PreferenceLayer(work_days=frozenset({5, 6}), avoid_work_hours=False),
    )
    with mariadb_engine.begin() as connection:
        ProviderSettingsRepository(connection).save(settings, updated_at=SAVED_AT)
    with Store(mariadb_engine).reading() as repos:
        read = repos.provider_settings.get(settings.provider_id)
        missing = repos.provider_settings.get(new_id("prov"))
        no_org = repos.org_settings.get(settings.org_id)
    assert read == ProviderSettings(
        provider_id=settings.provider_id,
        org_id=settings.org_id,
        display_name="Dr. Kim",
        layer=settings.layer,
        updated_at=SAVED_AT,
    )
    assert missing is None and no_org is None
