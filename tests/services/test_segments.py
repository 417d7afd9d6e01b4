"""The segments use cases on the real databases: what is saved, counted and previewed, and
membership of the patients an event just changed, judged in memory from their stored rows."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy import Engine

from outreach.domain import Actor, AppointmentStatus
from outreach.segments import (
    AppointmentSummary,
    InvalidRule,
    PatientFacts,
    RuleLimits,
    SegmentNotCompilable,
)
from outreach.services.segments import (
    SegmentDraft,
    SegmentNotFound,
    SegmentService,
    segment_members,
)
from outreach.sql.models import Patient
from outreach.sql.segment_repository import SegmentNameTaken
from outreach.sql.store import Store
from tests.factories import insert_patient_facts
from tests.segments.rule_strategies import CATALOGUE, clinics

NOW = datetime(2026, 3, 2, 15, 0, tzinfo=UTC)
RECALL = {
    "and": [
        {">=": [{"days_since": {"var": "last_attended_at"}}, 182]},
        {"!": {"var": "has_future_appointment"}},
    ]
}


@pytest.fixture(params=["mariadb", "sqlite"])
def engine(request: pytest.FixtureRequest) -> Engine:
    return request.getfixturevalue(f"{request.param}_engine")


@pytest.fixture
def service(engine: Engine) -> SegmentService:
    return SegmentService(Store(engine), CATALOGUE, RuleLimits(), clock=lambda: NOW)


def new_org() -> str:
    return f"o{uuid.uuid4().hex[:12]}"


def marketer(org_id: str) -> Actor:
    return Actor("key:ork_tests123", org_id)


def visit(days: float, status: AppointmentStatus = AppointmentStatus.ATTENDED):
    return AppointmentSummary(status, NOW + timedelta(days=days))


def test_save_count_and_membership(engine: Engine, service: SegmentService) -> None:
    org_id = new_org()
    insert_patient_facts(
        engine,
        [
            PatientFacts(f"{org_id}-due", org_id, appointments=(visit(-300),)),
            PatientFacts(
                f"{org_id}-booked",
                org_id,
                appointments=(visit(-300), visit(2, AppointmentStatus.BOOKED)),
            ),
            PatientFacts(f"{org_id}-recent", org_id, appointments=(visit(-3),)),
        ],
        NOW,
    )
    saved = service.create(org_id, SegmentDraft("Recall", RECALL), marketer(org_id))
    assert (saved.org_id, saved.definition, saved.created_by) == (
        org_id,
        RECALL,
        "key:ork_tests123",
    )
    preview = service.preview_segment(saved.id, org_id, marketer(org_id), 5)
    assert preview.patient_count == 1 and [p.patient_id for p in preview.sample] == [
        f"{org_id}-due"
    ]
    assert service.get(saved.id, org_id).patient_count == 1
    everyone = [f"{org_id}-due", f"{org_id}-booked", f"{org_id}-recent", "someone-else"]
    assert service.members(saved.id, org_id, everyone) == {f"{org_id}-due"}
    with pytest.raises(SegmentNameTaken):
        service.create(org_id, SegmentDraft("Recall", True), marketer(org_id))
    with pytest.raises(SegmentNotFound):
        service.members(10**9, org_id, everyone)
    with pytest.raises(SegmentNotFound):  # another organisation's is as good as missing
        service.get(saved.id, new_org())


def test_membership_follows_the_patients_rows_in_the_same_transaction(
    engine: Engine, service: SegmentService
) -> None:
    """As the orchestrator would use it: after a batch changed a patient, in its transaction."""
    org_id = new_org()
    insert_patient_facts(engine, [PatientFacts(f"{org_id}-p", org_id, region="GA")], NOW)
    segment = service.create(
        org_id, SegmentDraft("Florida", {"==": [{"var": "region"}, "FL"]}), marketer(org_id)
    )
    with Store(engine).transaction() as repos:
        assert segment_members(repos, segment, [f"{org_id}-p"], CATALOGUE, NOW) == set()
        repos.patients.connection.execute(  # what a patient.upserted would write
            Patient.__table__.update().where(Patient.id == f"{org_id}-p").values(region="FL")
        )
        assert segment_members(repos, segment, [f"{org_id}-p"], CATALOGUE, NOW) == {f"{org_id}-p"}


def test_nothing_is_saved_when_a_rule_is_refused(engine: Engine, service: SegmentService) -> None:
    org_id = new_org()
    with pytest.raises(InvalidRule):
        service.create(org_id, SegmentDraft("Bad", {"var": "first_name"}), marketer(org_id))
    with pytest.raises(SegmentNotCompilable):
        service.create(
            org_id,
            SegmentDraft("X", {"==": [{"var": "sex"}, {"var": "region"}]}),
            marketer(org_id),
        )
    assert service.of_org(org_id) == []


@settings(
    max_examples=25,
    deadline=None,
    database=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(data=st.data())
def test_patients_read_back_as_they_were_stored(engine: Engine, data: st.DataObject) -> None:
    """The facts membership reads from the database are the facts that were stored."""
    org_id = new_org()
    facts = data.draw(clinics(org_id))
    insert_patient_facts(engine, facts, NOW)
    with Store(engine).reading() as repos:
        read = repos.segments.patient_facts(org_id, [f.patient_id for f in facts])

    def comparable(patient: PatientFacts) -> tuple:
        return (
            patient.patient_id,
            patient.provider_id,
            patient.date_of_birth,
            patient.sex,
            patient.postal_code,
            patient.region,
            patient.attributes or None,
            patient.preferences,
            sorted((a.status.value, a.starts_at or NOW) for a in patient.appointments),
        )

    assert sorted(map(comparable, read)) == sorted(map(comparable, facts))
