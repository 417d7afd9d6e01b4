"""Patients' numbers are stored with their check, and a decision trusts a check only while it
belongs to the number stored."""

from __future__ import annotations

from datetime import UTC, datetime

from sqlalchemy import Engine, select, update
from tests.factories import new_tag

from outreach.events import PatientData
from outreach.preferences import ConsentUpdate, resolve_patients
from outreach.sql.models import PatientCommPrefs
from outreach.sql.patient_repository import PatientRepository, PatientUpsert

NOW = datetime(2027, 3, 2, 15, 0, tzinfo=UTC)
prefs = PatientCommPrefs.__table__


def _upsert(engine: Engine, patient_id: str, **data: str | None) -> None:
    with engine.begin() as connection:
        PatientRepository(connection).upsert(
            [
                PatientUpsert(
                    patient_id=patient_id,
                    org_id="org",
                    provider_id=None,
                    record=PatientData(**data),
                    consent=ConsentUpdate(contact_granted=True, granted_at=NOW),
                )
            ],
            {},
            NOW,
        )


def _stored_checks(engine: Engine, patient_id: str) -> tuple[str | None, ...]:
    with engine.connect() as connection:
        row = connection.execute(
            select(
                prefs.c.phone_checked,
                prefs.c.phone_e164,
                prefs.c.whatsapp_checked,
                prefs.c.whatsapp_e164,
            ).where(prefs.c.patient_id == patient_id)
        ).one()
    return tuple(row)


def _phone_as_decided(engine: Engine, patient_id: str) -> tuple[str | None, frozenset[str]]:
    with engine.connect() as connection:
        layers = PatientRepository(connection).decision_layers([patient_id])
    decided = resolve_patients(layers)[patient_id].prefs
    return decided.phone, decided.invalid_addresses


def test_the_upsert_stores_each_number_with_its_check(mariadb_engine: Engine) -> None:
    patient = new_tag("p")
    _upsert(mariadb_engine, patient, phone="+1 212 555 0147", whatsapp="+1555012")
    assert _stored_checks(mariadb_engine, patient) == (
        "+1 212 555 0147",
        "+12125550147",
        "+1555012",
        "",  # checked: not a valid number
    )
    # A record silent about the numbers keeps them and their checks.
    _upsert(mariadb_engine, patient, first_name="Ana")
    assert _stored_checks(mariadb_engine, patient)[:2] == ("+1 212 555 0147", "+12125550147")
    # A new number gets its own check, valid or not.
    _upsert(mariadb_engine, patient, phone="+1555013")
    assert _stored_checks(mariadb_engine, patient)[:2] == ("+1555013", "")
    assert _phone_as_decided(mariadb_engine, patient) == (None, frozenset({"phone", "whatsapp"}))


def test_a_check_counts_only_for_the_number_it_was_made_on(mariadb_engine: Engine) -> None:
    patient = new_tag("p")
    _upsert(mariadb_engine, patient, phone="+12125550147")
    with mariadb_engine.begin() as connection:
        # The stored check is what the decision reads: one saying "not valid" is believed...
        connection.execute(update(prefs).where(prefs.c.patient_id == patient).values(phone_e164=""))
    assert _phone_as_decided(mariadb_engine, patient) == (None, frozenset({"phone"}))
    with mariadb_engine.begin() as connection:
        # ...until another writer changes the number without checking it: checked again.
        connection.execute(
            update(prefs).where(prefs.c.patient_id == patient).values(phone="+14155552671")
        )
    assert _phone_as_decided(mariadb_engine, patient) == ("+14155552671", frozenset())
    with mariadb_engine.begin() as connection:
        # A stale check of a valid number never lends its number to an invalid one.
        connection.execute(
            update(prefs)
            .where(prefs.c.patient_id == patient)
            .values(phone="+1555012", phone_checked="+14155552671", phone_e164="+14155552671")
        )
    assert _phone_as_decided(mariadb_engine, patient) == (None, frozenset({"phone"}))


def test_the_upsert_stores_the_email_address_with_its_check(mariadb_engine: Engine) -> None:
    patient = new_tag("p")

    def stored() -> tuple[object, ...]:
        with mariadb_engine.connect() as connection:
            return tuple(
                connection.execute(
                    select(prefs.c.email, prefs.c.email_checked, prefs.c.email_valid).where(
                        prefs.c.patient_id == patient
                    )
                ).one()
            )

    _upsert(mariadb_engine, patient, email="Ana@Example.com")
    assert stored() == ("Ana@Example.com", "Ana@Example.com", True)
    _upsert(mariadb_engine, patient, first_name="Ana")  # silent about it: kept, check and all
    assert stored() == ("Ana@Example.com", "Ana@Example.com", True)
    _upsert(mariadb_engine, patient, email="ana@@example")
    assert stored() == ("ana@@example", "ana@@example", False)
