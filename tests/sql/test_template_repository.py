"""Template versions on MariaDB: numbered per family, one active per family, listed by filter,
the shipped set seeded once, and a version number two saves race for taken only once."""

from __future__ import annotations

import time
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime

import pytest
from sqlalchemy import Engine
from tests.factories import new_id, sms_template

from outreach.domain import Channel, Purpose
from outreach.sql.store import Store
from outreach.sql.template_repository import (
    TemplateFilter,
    TemplateRepository,
    VersionNumberTaken,
)
from outreach.templating import load_seed_templates

pytestmark = pytest.mark.services

SAVED_AT = datetime(2026, 3, 2, 15, 0, tzinfo=UTC)


def add(engine: Engine, *drafts, activate: int | None = None) -> list[int]:
    """Each draft stored as a version, in order (the ``activate``-th one made active)."""
    with engine.begin() as connection:
        repository = TemplateRepository(connection)
        ids = [repository.add_version(d, created_by="key:abc", created_at=SAVED_AT) for d in drafts]
        if activate is not None:
            repository.activate(ids[activate])
    return ids


def test_versions_are_numbered_per_family_and_read_back_whole(mariadb_engine: Engine) -> None:
    org_id = new_id("org")
    english = sms_template(org_id, body="Hi {{ first_name }}.", declared_variables=["first_name"])
    spanish = sms_template(org_id, language="es")
    ids = add(mariadb_engine, english, english, spanish, english)
    with Store(mariadb_engine).reading() as repos:
        stored = [repos.templates.get(i) for i in ids]
    assert [(s.record.language, s.record.version) for s in stored] == [
        ("en", 1),
        ("en", 2),
        ("es", 1),
        ("en", 3),
    ]
    first = stored[0]
    assert (first.id, first.created_by, first.created_at) == (ids[0], "key:abc", SAVED_AT)
    assert first.family_key == f"{org_id}|-|appt_reminder|sms|en|A"
    assert first.record.id == str(ids[0]) and first.record.is_active is False
    assert (first.record.body, first.record.declared_variables) == (
        "Hi {{ first_name }}.",
        ("first_name",),
    )
    assert first.record.purpose is Purpose.APPT_REMINDER and first.record.channel is Channel.SMS
    with Store(mariadb_engine).reading() as repos:
        assert repos.templates.latest_in_family(english) == ids[3]
        assert repos.templates.latest_in_family(sms_template(new_id("org"))) is None
        assert repos.templates.get(ids[-1] + 1_000_000) is None


def test_one_version_of_a_family_is_active(mariadb_engine: Engine) -> None:
    org_id = new_id("org")
    english, spanish = sms_template(org_id), sms_template(org_id, language="es")
    v1, v2, es1 = add(mariadb_engine, english, english, spanish)
    with mariadb_engine.begin() as connection:
        repository = TemplateRepository(connection)
        assert repository.activate(es1) and repository.activate(v1)
        assert repository.activate(v2)
        assert repository.activate(v2 + 1_000_000) is False
    with Store(mariadb_engine).reading() as repos:
        active = {int(r.id) for r in repos.templates.active() if r.org_id == org_id}
    assert active == {v2, es1}


def test_lists_filter_and_keep_other_organisations_out(mariadb_engine: Engine) -> None:
    org_id, other = new_id("org"), new_id("org")
    reminder = sms_template(org_id)
    email = sms_template(
        org_id,
        channel=Channel.EMAIL,
        subject="Reminder",
        body="<p>Hi {{ first_name }}</p>",
        declared_variables=["first_name"],
    )
    mine = add(mariadb_engine, reminder, reminder, email, activate=1)
    add(mariadb_engine, sms_template(other))

    def listed(**wanted) -> list[int]:
        with Store(mariadb_engine).reading() as repos:
            return [t.id for t in repos.templates.listed(TemplateFilter(**wanted))]

    assert listed(org_id=org_id) == [mine[2], mine[0], mine[1]]  # by family, then version
    assert listed(org_id=org_id, channel=Channel.SMS) == mine[:2]
    assert listed(org_id=org_id, active=True) == [mine[1]]
    assert listed(org_id=org_id, active=False, purpose=Purpose.APPT_REMINDER) == [
        mine[2],
        mine[0],
    ]
    assert listed(org_id=org_id, language="fr") == []
    assert listed(org_id=other, visible_to_org=org_id) == []
    assert listed(org_id=org_id, limit=1) == [mine[2]]
    assert listed(family_key=f"{org_id}|-|appt_reminder|sms|en|A") == mine[:2]  # one history
    assert listed(family_key=f"{org_id}|-|appt_reminder|sms|en|A", visible_to_org=other) == []


def test_two_saves_racing_for_a_version_number_one_is_told_to_number_again(
    mariadb_engine: Engine,
) -> None:
    draft = sms_template(new_id("org"))
    add(mariadb_engine, draft)
    with (
        mariadb_engine.connect() as first,
        mariadb_engine.connect() as second,
        ThreadPoolExecutor(1) as pool,
    ):
        first.begin()
        TemplateRepository(first).add_version(draft, created_by="a", created_at=SAVED_AT)
        second.begin()
        # Version 1 is the highest committed, so the second save also takes 2 and waits.
        racing = pool.submit(
            TemplateRepository(second).add_version, draft, created_by="b", created_at=SAVED_AT
        )
        time.sleep(0.5)
        assert not racing.done()
        first.commit()
        with pytest.raises(VersionNumberTaken):
            racing.result(timeout=30)
        second.rollback()
    with Store(mariadb_engine).reading() as repos:
        latest = repos.templates.get(repos.templates.latest_in_family(draft) or 0)
    assert latest is not None and (latest.record.version, latest.created_by) == (2, "a")


def test_the_shipped_templates_are_seeded_active_once(isolated_mariadb: Engine) -> None:
    shipped = load_seed_templates()
    with Store(isolated_mariadb).transaction() as repos:
        assert repos.templates.seed(shipped) == len(shipped)
        assert repos.templates.seed(shipped) == 0
    with Store(isolated_mariadb).reading() as repos:
        active = repos.templates.active()
        listed = repos.templates.listed(TemplateFilter(limit=1000))
    assert len(active) == len(shipped)
    assert {(r.purpose, r.channel, r.language, r.version) for r in active} == {
        (r.purpose, r.channel, r.language, r.version) for r in shipped
    }
    assert {t.created_by for t in listed} == {"seed"}
    assert all(t.record.org_id is None and t.created_at is not None for t in listed)
