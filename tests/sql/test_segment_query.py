"""Compiled segments select exactly the patients the in-memory engine selects, on MariaDB and on
SQLite, patient for patient; and the statements carry every constant as a bind parameter."""

from __future__ import annotations

import uuid
from collections import Counter
from datetime import timedelta

import pytest
from hypothesis import HealthCheck, given, note, settings
from hypothesis import strategies as st
from sqlalchemy import Engine
from sqlalchemy.dialects import mysql, sqlite
from tests.factories import insert_patient_facts
from tests.segments.rule_strategies import CATALOGUE, NOW, clinics, rules

from outreach.domain import AppointmentStatus
from outreach.segments import (
    AppointmentSummary,
    PatientFacts,
    SegmentEvaluator,
    SegmentNotCompilable,
    patient_record,
    validate_rule,
)
from outreach.segments.records import PREFERENCE_FIELDS
from outreach.sql.engine import build_engine
from outreach.sql.migrate import upgrade
from outreach.sql.segment_query import compile_segment, count_statement, sql_text

pytestmark = pytest.mark.services

# The share of random rules that must compile: the refusals are the documented few.
MIN_COMPILED_SHARE = 0.8


@pytest.fixture
def isolated_sqlite(tmp_path) -> Engine:
    url = f"sqlite:///{tmp_path / 'segments.sqlite3'}"
    upgrade(url)
    engine = build_engine(url)
    yield engine
    engine.dispose()


def in_memory(rule, facts: list[PatientFacts], segments=None) -> set[str]:
    evaluator = SegmentEvaluator(rule, now=NOW, segments=segments)
    return {f.patient_id for f in facts if evaluator.matches(patient_record(f, CATALOGUE, NOW))}


def selected(engine: Engine, statement) -> set[str]:
    with engine.connect() as connection:
        return set(connection.execute(statement).scalars())


def test_sql_and_memory_agree_patient_for_patient(
    isolated_mariadb: Engine, isolated_sqlite: Engine
) -> None:
    outcomes: Counter[str] = Counter()

    @settings(
        max_examples=200,
        deadline=None,
        database=None,
        suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
    )
    @given(data=st.data())
    def agree(data: st.DataObject) -> None:
        org_id = f"o{uuid.uuid4().hex[:12]}"
        facts = data.draw(clinics(org_id), label="patients")
        rule = data.draw(rules, label="rule")
        validate_rule(rule, CATALOGUE)  # the strategies only make valid rules
        try:
            statement = compile_segment(rule, CATALOGUE, org_id, now=NOW)
        except SegmentNotCompilable:
            outcomes["refused"] += 1
            return
        outcomes["compiled"] += 1
        expected = in_memory(rule, facts)
        for engine in (isolated_mariadb, isolated_sqlite):
            insert_patient_facts(engine, facts, NOW)
            note(f"{engine.dialect.name}: {sql_text(statement, engine.dialect)}")
            assert selected(engine, statement) == expected, engine.dialect.name

    agree()
    total = outcomes["compiled"] + outcomes["refused"]
    assert outcomes["compiled"] >= MIN_COMPILED_SHARE * total, outcomes


def test_the_recall_rule_on_both_databases(
    isolated_mariadb: Engine, isolated_sqlite: Engine
) -> None:
    """Six months since the last visit and nothing booked: the dental recall."""
    org_id = f"o{uuid.uuid4().hex[:12]}"
    recall = {
        "and": [
            {">=": [{"days_since": {"var": "last_attended_at"}}, 182]},
            {"!": {"var": "has_future_appointment"}},
        ]
    }

    def patient(name: str, *visits: tuple[AppointmentStatus, float]) -> PatientFacts:
        return PatientFacts(
            patient_id=f"{org_id}-{name}",
            org_id=org_id,
            appointments=tuple(
                AppointmentSummary(status, NOW + timedelta(days=days)) for status, days in visits
            ),
        )

    facts = [
        patient("due", (AppointmentStatus.ATTENDED, -200)),
        patient("exactly-182-days", (AppointmentStatus.ATTENDED, -182)),
        patient("a-microsecond-short", (AppointmentStatus.ATTENDED, -182 + 1e-6 / 86400)),
        patient("recent", (AppointmentStatus.ATTENDED, -200), (AppointmentStatus.ATTENDED, -20)),
        patient("booked", (AppointmentStatus.ATTENDED, -300), (AppointmentStatus.BOOKED, 3)),
        patient("past-booking", (AppointmentStatus.ATTENDED, -300), (AppointmentStatus.BOOKED, -1)),
        patient("never-came", (AppointmentStatus.NO_SHOW, -300)),
        patient("no-appointments"),
    ]
    statement = compile_segment(recall, CATALOGUE, org_id, now=NOW)
    expected = {f"{org_id}-{name}" for name in ("due", "exactly-182-days", "past-booking")}
    assert in_memory(recall, facts) == expected
    for engine in (isolated_mariadb, isolated_sqlite):
        insert_patient_facts(engine, facts, NOW)
        assert selected(engine, statement) == expected
        with engine.connect() as connection:
            assert connection.execute(count_statement(statement)).scalar_one() == 3


def test_constants_travel_as_bind_parameters() -> None:
    rule = {
        "and": [
            {"==": [{"var": "region"}, "x'); DROP TABLE patients; --"]},
            {"in": [{"var": "attributes.plan"}, ["gold", "silver"]]},
            {">": [{"days_since": {"var": "last_attended_at"}}, 180]},
        ]
    }
    statement = compile_segment(rule, CATALOGUE, "org-'quoted'", now=NOW)
    for dialect in (mysql.dialect(), sqlite.dialect()):
        text = sql_text(statement, dialect)
        assert "DROP TABLE" not in text and "gold" not in text and "quoted" not in text
        assert "$.plan" not in text  # the attribute's JSON path is a parameter too
        assert "attended" not in text  # appointment statuses as well


def test_texts_compare_by_code_point_on_mariadb_too(isolated_mariadb: Engine) -> None:
    """MariaDB's default collations ignore case and trailing spaces; JSON Logic does not."""
    org_id = f"o{uuid.uuid4().hex[:12]}"
    facts = [
        PatientFacts(f"{org_id}-{n}", org_id, region=region)
        for n, region in enumerate(["FL", "fl", "FL ", "Fl"])
    ]
    insert_patient_facts(isolated_mariadb, facts, NOW)
    statement = compile_segment({"==": [{"var": "region"}, "FL"]}, CATALOGUE, org_id, now=NOW)
    assert selected(isolated_mariadb, statement) == {f"{org_id}-0"}


def test_segments_within_segments_agree(isolated_mariadb: Engine) -> None:
    org_id = f"o{uuid.uuid4().hex[:12]}"
    seniors = {">=": [{"var": "age"}, 65]}
    floridians = {"and": [{"in_segment": 1}, {"==": [{"var": "region"}, "FL"]}]}
    saved = {1: seniors, 2: floridians}
    rule = {"or": [{"in_segment": 2}, {"==": [{"var": "sex"}, "F"]}]}
    born = NOW.date().replace(year=NOW.year - 70)
    facts = [
        PatientFacts(f"{org_id}-old-fl", org_id, region="FL", date_of_birth=born),
        PatientFacts(f"{org_id}-young-fl", org_id, region="FL"),
        PatientFacts(f"{org_id}-old-ga", org_id, region="GA", date_of_birth=born),
        PatientFacts(f"{org_id}-f", org_id, sex="F"),
    ]
    insert_patient_facts(isolated_mariadb, facts, NOW)
    statement = compile_segment(rule, CATALOGUE, org_id, now=NOW, segments=saved)
    expected = {f"{org_id}-old-fl", f"{org_id}-f"}
    assert in_memory(rule, facts, saved) == expected
    assert selected(isolated_mariadb, statement) == expected


def test_texts_outside_an_enum_column_are_compared_not_refused(
    isolated_mariadb: Engine, isolated_sqlite: Engine
) -> None:
    """preferred_channel is stored through an enum type; a rule may still name any text."""
    org_id = f"o{uuid.uuid4().hex[:12]}"
    own = dict.fromkeys(PREFERENCE_FIELDS) | {"preferred_channel": "sms", "contact_consent": True}
    facts = [PatientFacts(f"{org_id}-sms", org_id, preferences=own)]
    rule = {"in": [{"var": "preferred_channel"}, ["", "SMS", "fax"]]}
    statement = compile_segment(rule, CATALOGUE, org_id, now=NOW)
    for engine in (isolated_mariadb, isolated_sqlite):
        insert_patient_facts(engine, facts, NOW)
        assert selected(engine, statement) == set() == in_memory(rule, facts)
