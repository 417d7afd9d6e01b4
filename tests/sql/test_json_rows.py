"""Rows read as one JSON array each come back as the column types give them, on both engines."""

from __future__ import annotations

from datetime import UTC, datetime, time

import pytest
from sqlalchemy import Engine, insert, select
from tests.factories import new_tag

from outreach.sql.json_rows import JsonRows
from outreach.sql.models import Patient, PatientCommPrefs

patients = Patient.__table__
prefs = PatientCommPrefs.__table__
COLUMNS = (
    patients.c.id,
    patients.c.first_name,
    prefs.c.quiet_hours_start,
    prefs.c.work_days,
    prefs.c.allowed_channels,
    prefs.c.preferred_channel,
    prefs.c.avoid_work_hours,
    prefs.c.contact_consent,
    prefs.c.consent_granted_at,
    prefs.c.consent_expires_at,
    prefs.c.best_hour,
    prefs.c.fatigue_score,
    prefs.c.failed_channels,
)


@pytest.fixture(params=["mariadb", "sqlite"])
def engine(request: pytest.FixtureRequest) -> Engine:
    fixture = "mariadb_engine" if request.param == "mariadb" else "sqlite_engine"
    return request.getfixturevalue(fixture)


def test_json_rows_read_what_ordinary_rows_read(engine: Engine) -> None:
    full, bare = new_tag("p"), new_tag("p")
    with engine.begin() as connection:
        connection.execute(
            insert(patients).values(id=full, org_id="o", first_name='Zoë "Zo" O\'Neil\\ 李')
        )
        connection.execute(insert(patients).values(id=bare, org_id="o"))
        connection.execute(insert(prefs).values(patient_id=bare))
        connection.execute(
            insert(prefs).values(
                {
                    "patient_id": full,
                    "quiet_hours_start": time(21, 30),
                    "work_days": [0, 2, 4],
                    "allowed_channels": ["sms", "email"],
                    "preferred_channel": "sms",
                    "avoid_work_hours": True,
                    "contact_consent": True,
                    "consent_granted_at": datetime(2026, 2, 28, 23, 59, 58, 123456, tzinfo=UTC),
                    "consent_expires_at": datetime(2028, 2, 28, 23, 59, 58, tzinfo=UTC),
                    "best_hour": 17,
                    "fatigue_score": 0.7,
                    "failed_channels": ["whatsapp"],
                }
            )
        )
    rows = JsonRows(COLUMNS)
    joined = patients.outerjoin(prefs, prefs.c.patient_id == patients.c.id)
    where = patients.c.id.in_([full, bare])
    with engine.connect() as connection:
        fast = rows.read(
            connection, rows.select().select_from(joined).where(where).order_by(patients.c.id)
        )
        usual = connection.execute(
            select(*COLUMNS).select_from(joined).where(where).order_by(patients.c.id)
        ).all()
    assert fast == [list(row) for row in usual]
    by_id = {row[0]: row for row in fast}
    assert by_id[full][8] == datetime(2026, 2, 28, 23, 59, 58, 123456, tzinfo=UTC)
    assert by_id[full][2] == time(21, 30)
    assert by_id[full][3] == [0, 2, 4]
    assert by_id[full][7] is True
    assert by_id[bare][2:] == [None, None, None, None, None, False, None, None, None, None, None]
