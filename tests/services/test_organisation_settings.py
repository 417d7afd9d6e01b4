"""Replacing organisation and provider settings: saved and audited together, a save that changes
nothing writes nothing, and a provider stays with its organisation."""

from __future__ import annotations

from datetime import UTC, datetime, time

import pytest
from sqlalchemy import Engine

from outreach.domain import Actor, Channel
from outreach.preferences import OrgSettings, PreferenceLayer, ProviderSettings
from outreach.services.organisation_settings import (
    ProviderOfAnotherOrganisation,
    org_settings,
    provider_settings,
    replace_org_settings,
    replace_provider_settings,
)
from outreach.sql.store import Store
from tests.factories import audit_entries, new_id

pytestmark = pytest.mark.services

MONDAY = datetime(2026, 3, 2, 15, 0, tzinfo=UTC)
TUESDAY = datetime(2026, 3, 3, 15, 0, tzinfo=UTC)


def admin_of(org_id: str) -> Actor:
    return Actor("key:admin0000001", org_id, "203.0.113.9", "console/1.0")


def test_org_settings_are_created_replaced_and_audited(mariadb_engine: Engine) -> None:
    store, org_id = Store(mariadb_engine), new_id("org")
    actor = admin_of(org_id)
    first = OrgSettings(
        org_id=org_id,
        name="Sunrise Clinic",
        layer=PreferenceLayer(
            timezone="America/Phoenix", quiet_hours_start=time(20, 30), quiet_hours_end=time(8, 0)
        ),
    )
    created = replace_org_settings(store, first, actor=actor, now=MONDAY)
    assert sorted(created.changes) == ["name", "quiet_hours_end", "quiet_hours_start", "timezone"]
    assert created.settings.updated_at == MONDAY

    second = OrgSettings(
        org_id=org_id,
        name="Sunrise Clinic",
        layer=PreferenceLayer(
            timezone="Europe/Bucharest", quiet_hours_start=time(20, 30), quiet_hours_end=time(8, 0)
        ),
    )
    replaced = replace_org_settings(store, second, actor=actor, now=TUESDAY)
    assert list(replaced.changes) == ["timezone"]
    assert org_settings(store, org_id) == replaced.settings
    assert replaced.settings.layer.timezone == "Europe/Bucharest"

    entries = audit_entries(mariadb_engine, "org_prefs_changed", org_id)
    assert [(e["actor"], e["ip"], e["user_agent"]) for e in entries] == [
        ("key:admin0000001", "203.0.113.9", "console/1.0")
    ] * 2
    assert [e["occurred_at"] for e in entries] == [MONDAY, TUESDAY]
    assert entries[0]["detail"]["created"] is True
    assert entries[0]["detail"]["changes"]["timezone"] == {"from": None, "to": "America/Phoenix"}
    assert entries[1]["detail"] == {
        "org_id": org_id,
        "created": False,
        "changes": {"timezone": {"from": "America/Phoenix", "to": "Europe/Bucharest"}},
    }


def test_saving_what_is_stored_writes_and_audits_nothing(mariadb_engine: Engine) -> None:
    store, org_id = Store(mariadb_engine), new_id("org")
    settings = OrgSettings(
        org_id=org_id,
        name="Clinic",
        layer=PreferenceLayer(allowed_channels=frozenset({Channel.SMS, Channel.EMAIL})),
    )
    replace_org_settings(store, settings, actor=admin_of(org_id), now=MONDAY)
    again = replace_org_settings(store, settings, actor=admin_of(org_id), now=TUESDAY)
    assert again.changes == {}
    assert again.settings.updated_at == MONDAY  # not written again
    assert len(audit_entries(mariadb_engine, "org_prefs_changed", org_id)) == 1


def test_a_provider_is_audited_under_its_organisation(mariadb_engine: Engine) -> None:
    """The demo's actor belongs to no organisation: the entry still names the provider's."""
    store, org_id, provider_id = Store(mariadb_engine), new_id("org"), new_id("prov")
    settings = ProviderSettings(provider_id=provider_id, org_id=org_id, display_name="Dr. Kim")
    saved = replace_provider_settings(store, settings, actor=Actor("system:demo"), now=MONDAY)
    assert saved.settings == ProviderSettings(
        provider_id=provider_id, org_id=org_id, display_name="Dr. Kim", updated_at=MONDAY
    )
    assert provider_settings(store, provider_id) == saved.settings
    [entry] = audit_entries(mariadb_engine, "provider_prefs_changed", org_id)
    assert entry["actor"] == "system:demo"
    assert entry["detail"] == {
        "provider_id": provider_id,
        "created": True,
        "changes": {
            "org_id": {"from": None, "to": org_id},
            "display_name": {"from": None, "to": "Dr. Kim"},
        },
    }


def test_another_organisations_provider_is_left_alone(mariadb_engine: Engine) -> None:
    store, provider_id = Store(mariadb_engine), new_id("prov")
    owner, intruder = new_id("org"), new_id("org")
    mine = ProviderSettings(provider_id=provider_id, org_id=owner, display_name="Dr. Kim")
    replace_provider_settings(store, mine, actor=admin_of(owner), now=MONDAY)
    taken = ProviderSettings(provider_id=provider_id, org_id=intruder, display_name="Dr. Who")
    with pytest.raises(ProviderOfAnotherOrganisation):
        replace_provider_settings(store, taken, actor=admin_of(intruder), now=TUESDAY)
    stored = provider_settings(store, provider_id)
    assert stored is not None and (stored.org_id, stored.display_name) == (owner, "Dr. Kim")
    assert audit_entries(mariadb_engine, "provider_prefs_changed", intruder) == []


def test_analyst_addresses_are_kept_and_the_audit_counts_them(mariadb_engine: Engine) -> None:
    store, org_id = Store(mariadb_engine), new_id("org")
    analysts = ("ana@clinic.example", "lee@clinic.example")
    saved = replace_org_settings(
        store,
        OrgSettings(org_id=org_id, name="Sunrise Clinic", analyst_emails=analysts),
        actor=admin_of(org_id),
        now=MONDAY,
    )
    assert saved.settings.analyst_emails == analysts
    assert org_settings(store, org_id) == saved.settings
    with store.reading() as repos:
        [recipients] = [r for r in repos.orgs.report_recipients() if r.org_id == org_id]
    assert recipients.analyst_emails == analysts
    [entry] = audit_entries(mariadb_engine, "org_prefs_changed", org_id)
    # Staff addresses are personal data: the audit log says how many, not which.
    assert entry["detail"]["changes"]["analyst_emails"] == {"from": None, "to": 2}
    assert "ana@clinic.example" not in str(entry["detail"])
