"""``isolated_mariadb`` gives a test a database of its own with the migrated schema intact.

It is cloned from the migrated template rather than migrated afresh, so these tests check the
clone keeps what the migrations built: keys, indexes, foreign keys (and that they are enforced)
and the recorded revision.
"""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
from alembic.runtime.migration import MigrationContext
from sqlalchemy import Engine, create_engine, func, insert, select
from sqlalchemy.exc import IntegrityError
from tests.mariadb_template import MariaDbTemplate
from tests.sql.schema_shape import shape_of_database

from outreach.sql.models import Base, CommJob, Patient

NOW = datetime(2026, 3, 2, 15, 0, tzinfo=UTC)


def test_a_clone_has_the_templates_schema(isolated_mariadb: Engine, mariadb_template_engine):
    tables = sorted(Base.metadata.tables)
    assert shape_of_database(isolated_mariadb, tables) == shape_of_database(
        mariadb_template_engine, tables
    )


def test_a_clone_records_the_migrated_revision(isolated_mariadb: Engine, mariadb_template_engine):
    with isolated_mariadb.connect() as clone, mariadb_template_engine.connect() as template:
        revision = MigrationContext.configure(clone).get_current_revision()
        assert revision is not None
        assert revision == MigrationContext.configure(template).get_current_revision()


def test_a_clone_enforces_its_foreign_keys(isolated_mariadb: Engine) -> None:
    with pytest.raises(IntegrityError), isolated_mariadb.begin() as connection:
        connection.execute(
            insert(CommJob.__table__).values(
                idempotency_key="k",
                org_id="org",
                patient_id="nobody",
                purpose="appt_confirm",
                status="queued",
                requested_at=NOW,
                scheduled_for=NOW,
                context={},
            )
        )


def test_a_clone_starts_empty_and_keeps_its_rows_to_itself(
    isolated_mariadb: Engine, mariadb_engine: Engine
) -> None:
    patients = Patient.__table__
    with isolated_mariadb.connect() as connection:
        assert connection.execute(select(func.count()).select_from(patients)).scalar_one() == 0
    with isolated_mariadb.begin() as connection:
        connection.execute(insert(patients).values(id="only-in-the-clone", org_id="org"))
    with mariadb_engine.connect() as connection:
        shared = connection.execute(
            select(func.count()).where(patients.c.id == "only-in-the-clone")
        ).scalar_one()
    assert shared == 0


def test_a_clone_keeps_a_percent_sign_in_its_ddl(mariadb_template: MariaDbTemplate) -> None:
    """The driver formats statements with %: a default or comment holding one must survive."""

    def migrate(url: str) -> None:
        engine = create_engine(url)
        with engine.begin() as connection:
            connection.exec_driver_sql(
                "CREATE TABLE shares (share VARCHAR(8) DEFAULT '100%%' COMMENT 'a 50%% cut')"
            )
        engine.dispose()

    template = MariaDbTemplate.create(mariadb_template.admin, mariadb_template.url_for, migrate)
    clone = template.clone()
    try:
        with template.admin.connect() as connection:
            ddl = connection.exec_driver_sql(f"SHOW CREATE TABLE `{clone}`.`shares`").one()[1]
        assert "'100%'" in ddl and "'a 50% cut'" in ddl
    finally:
        template.drop(clone)
        template.drop(template.name)
