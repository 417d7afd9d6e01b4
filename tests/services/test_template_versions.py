"""Template versions as staff make them: held to the policy, numbered per family, activated one at
a time, each change audited with what it did; previews and the shipped set."""

from __future__ import annotations

import time
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime

import pytest
from sqlalchemy import Engine, func, select

from outreach.domain import Actor
from outreach.services.template_versions import (
    FamilyExists,
    activate_version,
    add_version,
    create_family,
    list_versions,
    preview_version,
    seed_shipped_templates,
    template_version,
)
from outreach.sql.models import CommTemplate
from outreach.sql.store import Store
from outreach.sql.template_repository import TemplateFilter, TemplateRepository
from outreach.templating import PhiPolicyViolation, TemplatePolicyError, load_seed_templates
from tests.factories import audit_entries, new_id, sms_template

pytestmark = pytest.mark.services

NOW = datetime(2026, 3, 2, 15, 0, tzinfo=UTC)


def editor_of(org_id: str) -> Actor:
    return Actor("key:marketer0001", org_id, "198.51.100.4", "console/1.0")


def stored_count(engine: Engine, org_id: str) -> int:
    with engine.connect() as connection:
        return connection.execute(
            select(func.count()).where(CommTemplate.org_id == org_id)
        ).scalar_one()


def test_a_family_starts_at_version_one_and_is_audited(mariadb_engine: Engine) -> None:
    store, org_id = Store(mariadb_engine), new_id("org")
    created = create_family(
        store, sms_template(org_id), activate=True, actor=editor_of(org_id), now=NOW
    )
    assert (created.record.version, created.record.is_active) == (1, True)
    assert (created.created_by, created.created_at) == ("key:marketer0001", NOW)
    assert template_version(store, created.id) == created
    [entry] = audit_entries(mariadb_engine, "template_created", org_id)
    assert (entry["actor"], entry["ip"], entry["user_agent"], entry["occurred_at"]) == (
        "key:marketer0001",
        "198.51.100.4",
        "console/1.0",
        NOW,
    )
    assert entry["detail"] == {
        "template_id": created.id,
        "family_key": f"{org_id}|-|appt_reminder|sms|en|A",
        "version": 1,
        "global": False,
        "activated": True,
    }

    with pytest.raises(FamilyExists) as exists:
        create_family(store, sms_template(org_id), activate=False, actor=editor_of(org_id), now=NOW)
    assert exists.value.latest_id == created.id
    assert stored_count(mariadb_engine, org_id) == 1


def test_a_template_the_policy_refuses_stores_nothing(mariadb_engine: Engine) -> None:
    store, org_id = Store(mariadb_engine), new_id("org")
    phi = sms_template(
        org_id, body="Your {{ diagnosis }} results", declared_variables=["diagnosis"]
    )
    with pytest.raises(PhiPolicyViolation) as refused:
        create_family(store, phi, activate=True, actor=editor_of(org_id), now=NOW)
    assert {v.subject for v in refused.value.violations} == {"diagnosis"}
    base = create_family(
        store, sms_template(org_id), activate=False, actor=editor_of(org_id), now=NOW
    )
    with pytest.raises(TemplatePolicyError):
        add_version(
            store,
            base.record,
            subject=None,
            body="{% set x = medication %}{{ x }}",
            declared_variables=["medication"],
            whatsapp_template_name=None,
            activate=False,
            actor=editor_of(org_id),
            now=NOW,
        )
    assert stored_count(mariadb_engine, org_id) == 1
    assert audit_entries(mariadb_engine, "template_version_created", org_id) == []


def test_a_new_version_keeps_the_family_and_the_old_text(mariadb_engine: Engine) -> None:
    store, org_id = Store(mariadb_engine), new_id("org")
    first = create_family(
        store, sms_template(org_id), activate=True, actor=editor_of(org_id), now=NOW
    )
    second = add_version(
        store,
        first.record,
        subject=None,
        body="Reminder for {{ first_name }}.",
        declared_variables=["first_name"],
        whatsapp_template_name=None,
        activate=False,
        actor=editor_of(org_id),
        now=NOW,
    )
    assert (second.record.version, second.family_key) == (2, first.family_key)
    assert second.record.declared_variables == ("first_name",)
    listed = list_versions(store, TemplateFilter(org_id=org_id))
    assert [(t.record.version, t.record.is_active, t.record.body) for t in listed] == [
        (1, True, first.record.body),
        (2, False, "Reminder for {{ first_name }}."),
    ]
    [entry] = audit_entries(mariadb_engine, "template_version_created", org_id)
    assert (entry["detail"]["version"], entry["detail"]["activated"]) == (2, False)

    activated = activate_version(store, second, actor=editor_of(org_id), now=NOW)
    assert activated is not None and activated.record.is_active
    listed = list_versions(store, TemplateFilter(org_id=org_id, active=True))
    assert [t.id for t in listed] == [second.id]
    [entry] = audit_entries(mariadb_engine, "template_activated", org_id)
    assert entry["detail"]["template_id"] == second.id


def test_a_version_saved_past_the_policy_is_not_activated(mariadb_engine: Engine) -> None:
    store, org_id = Store(mariadb_engine), new_id("org")
    with mariadb_engine.begin() as connection:
        repository = TemplateRepository(connection)
        template_id = repository.add_version(
            sms_template(org_id, body="Your {{ lab_result }}", declared_variables=["lab_result"]),
            created_by="someone",
            created_at=NOW,
        )
    written = template_version(store, template_id)
    assert written is not None
    with pytest.raises(PhiPolicyViolation):
        activate_version(store, written, actor=editor_of(org_id), now=NOW)
    assert template_version(store, template_id) == written
    assert audit_entries(mariadb_engine, "template_activated", org_id) == []


def test_a_save_that_loses_the_race_for_a_version_number_numbers_again(
    mariadb_engine: Engine,
) -> None:
    store, org_id = Store(mariadb_engine), new_id("org")
    first = create_family(
        store, sms_template(org_id), activate=False, actor=editor_of(org_id), now=NOW
    )
    with mariadb_engine.connect() as other, ThreadPoolExecutor(1) as pool:
        other.begin()
        TemplateRepository(other).add_version(first.record, created_by="other", created_at=NOW)
        racing = pool.submit(
            add_version,
            store,
            first.record,
            subject=None,
            body="Hi {{ first_name }}.",
            declared_variables=["first_name"],
            whatsapp_template_name=None,
            activate=False,
            actor=editor_of(org_id),
            now=NOW,
        )
        time.sleep(0.5)  # it takes version 2 as well, and waits for the other save
        other.commit()
        saved = racing.result(timeout=30)
    assert saved.record.version == 3
    [entry] = audit_entries(mariadb_engine, "template_version_created", org_id)
    assert entry["detail"]["version"] == 3


@pytest.mark.parametrize(
    ("appointment_date", "shown"),
    [
        ("2026-03-07T16:30:00+00:00", "samedi 7 mars"),  # an instant: formatted as at send
        ("2026-03-07T16:30:00", "2026-03-07T16:30:00"),  # no zone, no instant: shown as typed
        ("next week", "next week"),
    ],
)
def test_a_preview_formats_sample_instants_and_leaves_phi_out(
    appointment_date: str, shown: str
) -> None:
    record = sms_template(
        "org-preview",
        language="fr",
        body="Hi {{ first_name }}, see you {{ appointment_date }} at {{ appointment_time }}.",
        declared_variables=["first_name", "appointment_date", "appointment_time"],
    )
    samples = {"first_name": "Ana", "appointment_date": appointment_date, "diagnosis": "SECRET"}
    preview = preview_version(record, samples, now=NOW, timezone="Europe/Paris", locale=None)
    assert preview.body == f"Hi Ana, see you {shown} at [appointment_time]."
    assert preview.placeholder_variables == ("appointment_time",)


def test_the_shipped_templates_are_seeded_once(isolated_mariadb: Engine) -> None:
    store = Store(isolated_mariadb)
    assert seed_shipped_templates(store) == len(load_seed_templates())
    assert seed_shipped_templates(store) == 0
