"""Bulk writes store exactly what they are given, whatever the characters, on both databases."""

from __future__ import annotations

import uuid
from datetime import UTC, date, datetime, time, timedelta, timezone

import pytest
from sqlalchemy import Engine, select, text

from outreach.sql.bulk import insert_ignore, insert_rows, upsert
from outreach.sql.models import CommAuditLog, Patient, PatientCommPrefs

# Everything MySQL escapes, SQL-looking text, a format marker, and characters outside ASCII.
NASTY = [
    "O'Brien",
    'say "hi"',
    "back\\slash",
    "new\nline\rreturn",
    "nul\x00byte",
    "ctrl-z\x1a",
    "'); DROP TABLE patients; --",
    "100% %s %(name)s",
    "\\'",
    "María José 漢字 🙂",
    "",
]


@pytest.fixture(params=["mariadb", "sqlite"])
def engine(request: pytest.FixtureRequest) -> Engine:
    return request.getfixturevalue(f"{request.param}_engine")


def test_strings_json_dates_and_times_round_trip(engine: Engine) -> None:
    tag = uuid.uuid4().hex[:8]
    new_york = timezone(timedelta(hours=-5))
    patient_rows = [
        {
            "id": f"{tag}-{n}",
            "org_id": "org",
            "first_name": value,
            "date_of_birth": date(1990, 1, n + 1),
            "attributes": {"note": value, "n": n, "flag": n % 2 == 0, "none": None},
            "updated_at": datetime(2026, 3, 2, 15, 0, n, 1000 * n, tzinfo=new_york),
        }
        for n, value in enumerate(NASTY)
    ]
    pref_rows = [
        {
            "patient_id": f"{tag}-{n}",
            "email": value[:254],
            "quiet_hours_start": time(21, n),
            "allowed_channels": ["sms", "email"],
            "contact_consent": n % 2 == 0,
            "updated_at": datetime(2026, 3, 2, 15, 0, tzinfo=UTC),
        }
        for n, value in enumerate(NASTY)
    ]
    with engine.begin() as connection:
        assert insert_ignore(connection, Patient.__table__, patient_rows) == len(NASTY)
        upsert(connection, PatientCommPrefs.__table__, pref_rows, ["patient_id"])
        insert_rows(
            connection,
            CommAuditLog.__table__,
            [
                {
                    "occurred_at": datetime(2026, 3, 2, tzinfo=UTC),
                    "actor": value[:100],
                    "patient_id": f"{tag}-{n}",
                    "action": "test",
                    "detail": {"value": value},
                }
                for n, value in enumerate(NASTY)
            ],
        )
    with engine.connect() as connection:
        stored = {
            row.id: row
            for row in connection.execute(
                select(Patient.__table__).where(Patient.__table__.c.id.like(f"{tag}-%"))
            )
        }
        prefs = {
            row.patient_id: row
            for row in connection.execute(
                select(PatientCommPrefs.__table__).where(
                    PatientCommPrefs.__table__.c.patient_id.like(f"{tag}-%")
                )
            )
        }
        audits = {
            row.patient_id: row
            for row in connection.execute(
                select(CommAuditLog.__table__).where(
                    CommAuditLog.__table__.c.patient_id.like(f"{tag}-%")
                )
            )
        }
    for n, value in enumerate(NASTY):
        patient = stored[f"{tag}-{n}"]
        assert patient.first_name == value
        assert patient.date_of_birth == date(1990, 1, n + 1)
        assert patient.attributes == {"note": value, "n": n, "flag": n % 2 == 0, "none": None}
        assert patient.updated_at == datetime(2026, 3, 2, 20, 0, n, 1000 * n, tzinfo=UTC)
        assert prefs[f"{tag}-{n}"].email == value
        assert prefs[f"{tag}-{n}"].quiet_hours_start == time(21, n)
        assert prefs[f"{tag}-{n}"].allowed_channels == ["sms", "email"]
        assert audits[f"{tag}-{n}"].actor == value
        assert audits[f"{tag}-{n}"].detail == {"value": value}


def test_insert_ignore_counts_only_new_rows_and_upsert_keeps_what_is_not_sent(
    engine: Engine,
) -> None:
    tag = uuid.uuid4().hex[:8]
    rows = [{"id": f"{tag}-{n}", "org_id": "org", "first_name": f"n{n}"} for n in range(3)]
    with engine.begin() as connection:
        assert insert_ignore(connection, Patient.__table__, rows[:2]) == 2
        assert insert_ignore(connection, Patient.__table__, rows) == 1
        upsert(
            connection,
            Patient.__table__,
            [{"id": f"{tag}-0", "org_id": "org", "first_name": None, "last_name": "it's"}],
            ["id"],
        )
    with engine.connect() as connection:
        first = connection.execute(
            select(Patient.__table__).where(Patient.__table__.c.id == f"{tag}-0")
        ).one()
    assert (first.first_name, first.last_name) == ("n0", "it's")


def test_naive_datetimes_are_refused(engine: Engine) -> None:
    with pytest.raises(ValueError, match="naive"), engine.begin() as connection:
        insert_ignore(
            connection,
            Patient.__table__,
            [{"id": uuid.uuid4().hex, "org_id": "org", "updated_at": datetime(2026, 3, 2)}],
        )


def test_quotes_are_doubled_when_the_server_takes_backslashes_literally(
    mariadb_engine: Engine,
) -> None:
    tag = uuid.uuid4().hex[:8]
    with mariadb_engine.connect() as connection:
        connection.execute(
            text("SET SESSION sql_mode = CONCAT(@@sql_mode, ',NO_BACKSLASH_ESCAPES')")
        )
        try:
            rows = [
                {"id": f"{tag}-{n}", "org_id": "org", "first_name": value}
                for n, value in enumerate(NASTY)
            ]
            assert insert_ignore(connection, Patient.__table__, rows) == len(NASTY)
            stored = dict(
                connection.execute(
                    select(Patient.__table__.c.id, Patient.__table__.c.first_name).where(
                        Patient.__table__.c.id.like(f"{tag}-%")
                    )
                ).all()
            )
            connection.rollback()
        finally:
            connection.execute(text("SET SESSION sql_mode = DEFAULT"))
    assert stored == {f"{tag}-{n}": value for n, value in enumerate(NASTY)}
