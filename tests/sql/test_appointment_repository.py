"""Appointment facts: the newest event wins in one statement, whatever the arrival order."""

from __future__ import annotations

import itertools
import uuid
from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import Engine
from tests.factories import insert_rows, patient_row

from outreach.domain import AppointmentFact, AppointmentStatus
from outreach.sql.store import Store

NOW = datetime(2026, 3, 2, 15, 0, tzinfo=UTC)
STARTS = NOW + timedelta(days=3)


@pytest.fixture(params=["mariadb", "sqlite"])
def engine(request: pytest.FixtureRequest) -> Engine:
    return request.getfixturevalue(f"{request.param}_engine")


def new_patient(engine: Engine) -> str:
    patient_id = f"ap-{uuid.uuid4().hex[:10]}"
    insert_rows(engine, patients=[patient_row(patient_id)])
    return patient_id


def fact(
    patient_id: str,
    status: AppointmentStatus,
    minutes: float,
    *,
    event_id: str | None = None,
    appointment_id: str | None = None,
    starts_at: datetime | None = STARTS,
    provider_id: str | None = "dr",
) -> AppointmentFact:
    return AppointmentFact(
        appointment_id=appointment_id or f"a-{patient_id}",
        org_id="org",
        patient_id=patient_id,
        provider_id=provider_id,
        starts_at=starts_at,
        status=status,
        event_id=event_id or f"e-{uuid.uuid4().hex[:10]}",
        event_type=f"appointment.{status.value}",
        occurred_at=NOW + timedelta(minutes=minutes),
    )


def record(engine: Engine, *facts: AppointmentFact) -> None:
    with Store(engine).transaction() as repos:
        repos.appointments.record(list(facts), NOW)


def stored(engine: Engine, patient_id: str):
    with Store(engine).reading() as repos:
        return repos.appointments.of_patients([patient_id]).get(patient_id, [])


def test_a_booking_then_a_visit(engine: Engine) -> None:
    pid = new_patient(engine)
    booked = fact(pid, AppointmentStatus.BOOKED, 0)
    record(engine, booked)
    [row] = stored(engine, pid)
    assert (row.status, row.starts_at, row.provider_id, row.last_event_id) == (
        AppointmentStatus.BOOKED,
        STARTS,
        "dr",
        booked.event_id,
    )
    attended = fact(pid, AppointmentStatus.ATTENDED, 60, starts_at=None, provider_id=None)
    record(engine, attended)
    [row] = stored(engine, pid)
    # The visit's event came without a start time or provider: the stored ones stay.
    assert (row.status, row.starts_at, row.provider_id) == (
        AppointmentStatus.ATTENDED,
        STARTS,
        "dr",
    )
    assert (row.last_event_id, row.last_event_type, row.last_event_at) == (
        attended.event_id,
        "appointment.attended",
        attended.occurred_at,
    )


@pytest.mark.parametrize("one_batch", [True, False], ids=["one batch", "batch per event"])
def test_every_arrival_order_ends_with_the_newest_event(engine: Engine, one_batch: bool) -> None:
    """Booked, moved, then cancelled: whatever order the three arrive in (and a replay of the
    first), the appointment ends cancelled at the moved time."""
    moved_to = STARTS + timedelta(days=1)
    for order in itertools.permutations(range(3)):
        pid = new_patient(engine)
        facts = [
            fact(pid, AppointmentStatus.BOOKED, 0),
            fact(pid, AppointmentStatus.BOOKED, 10, starts_at=moved_to),
            fact(pid, AppointmentStatus.CANCELLED, 20, starts_at=moved_to),
        ]
        arrivals = [facts[i] for i in order] + [facts[order[0]]]  # the first one replayed
        if one_batch:
            record(engine, *arrivals)
        else:
            for arrival in arrivals:
                record(engine, arrival)
        [row] = stored(engine, pid)
        assert (row.status, row.starts_at, row.last_event_id) == (
            AppointmentStatus.CANCELLED,
            moved_to,
            facts[2].event_id,
        ), order


def test_an_older_event_fills_a_start_time_the_newest_did_not_carry(engine: Engine) -> None:
    pid = new_patient(engine)
    cancelled = fact(pid, AppointmentStatus.CANCELLED, 20, starts_at=None, provider_id=None)
    record(engine, cancelled)
    record(engine, fact(pid, AppointmentStatus.BOOKED, 0))
    [row] = stored(engine, pid)
    assert (row.status, row.starts_at, row.provider_id, row.last_event_id) == (
        AppointmentStatus.CANCELLED,
        STARTS,
        "dr",
        cancelled.event_id,
    )


def test_at_the_same_instant_the_higher_event_id_wins_in_any_order(engine: Engine) -> None:
    for first, second in (("e-1", "e-2"), ("e-2", "e-1")):
        pid = new_patient(engine)
        statuses = {"e-1": AppointmentStatus.NO_SHOW, "e-2": AppointmentStatus.ATTENDED}
        record(engine, fact(pid, statuses[first], 5, event_id=f"{pid}-{first}"))
        record(engine, fact(pid, statuses[second], 5, event_id=f"{pid}-{second}"))
        [row] = stored(engine, pid)
        assert row.status is AppointmentStatus.ATTENDED


def test_appointments_of_several_patients_in_one_statement(engine: Engine) -> None:
    pids = [new_patient(engine) for _ in range(3)]
    facts = [
        fact(pid, status, 0, appointment_id=f"a{n}-{pid}")
        for pid in pids
        for n, status in enumerate(AppointmentStatus)
    ]
    record(engine, *facts)
    with Store(engine).reading() as repos:
        found = repos.appointments.of_patients(pids)
    assert {pid: sorted(r.status.value for r in rows) for pid, rows in found.items()} == {
        pid: sorted(s.value for s in AppointmentStatus) for pid in pids
    }
