"""A batch of core events against the real databases: atomic, idempotent, in event order."""

from __future__ import annotations

import json
import uuid
from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import Engine, select

from outreach.preferences import FatiguePolicy
from outreach.services.plan_events import EventPlanner
from outreach.sql.models import CommAuditLog, CommJob, PatientCommPrefs
from outreach.sql.store import Store

NOW = datetime(2026, 3, 2, 15, 0, tzinfo=UTC)  # 10:00 in New York: no quiet hours
OFFSETS = (timedelta(hours=24), timedelta(hours=2))


@pytest.fixture(params=["mariadb", "sqlite"])
def engine(request: pytest.FixtureRequest) -> Engine:
    return request.getfixturevalue(f"{request.param}_engine")


@pytest.fixture
def handler(engine: Engine) -> EventPlanner:
    return EventPlanner(Store(engine), reminder_offsets=OFFSETS, clock=lambda: NOW)


def msg(kind: str, patient_id: str, *, at: datetime = NOW, **data: object) -> tuple[bytes, bytes]:
    value = {
        "event_id": str(uuid.uuid4()),
        "type": kind,
        "occurred_at": at.isoformat(),
        "org_id": "org",
        "patient_id": patient_id,
        "data": data,
    }
    return patient_id.encode(), json.dumps(value).encode()


def patient(patient_id: str, **data: object) -> tuple[bytes, bytes]:
    fields = {
        "first_name": "Ana",
        "phone": "+12125550147",
        "timezone": "America/New_York",
        "contact_consent": True,
        "preferred_channel": "sms",
        **data,
    }
    return msg("patient.upserted", patient_id, **fields)


def booked(patient_id: str, appointment_id: str, days: float = 2) -> tuple[bytes, bytes]:
    return msg(
        "appointment.booked",
        patient_id,
        appointment_id=appointment_id,
        starts_at=(NOW + timedelta(days=days)).isoformat(),
    )


def jobs_of(engine: Engine, patient_id: str) -> list[dict]:
    table = CommJob.__table__
    with engine.connect() as connection:
        return [
            dict(r)
            for r in connection.execute(
                select(table).where(table.c.patient_id == patient_id).order_by(table.c.id)
            ).mappings()
        ]


def test_patient_and_booking_become_decided_jobs(engine, handler) -> None:
    pid = f"b-{uuid.uuid4().hex[:8]}"
    result = handler.handle([patient(pid), booked(pid, f"a-{pid}")])
    assert result.jobs_created == 3 and result.patients_upserted == 1
    jobs = jobs_of(engine, pid)
    assert [(j["purpose"], j["status"], j["channel"]) for j in jobs] == [
        ("appt_confirm", "queued", "sms"),
        ("appt_reminder", "queued", "sms"),
        ("appt_reminder", "queued", "sms"),
    ]
    assert jobs[0]["scheduled_for"] == NOW


def test_a_replayed_batch_changes_nothing(engine, handler) -> None:
    pid = f"r-{uuid.uuid4().hex[:8]}"
    messages = [
        patient(pid),
        booked(pid, f"a-{pid}"),
        msg(
            "appointment.rescheduled",
            pid,
            appointment_id=f"a-{pid}",
            starts_at=(NOW + timedelta(days=4)).isoformat(),
        ),
    ]
    handler.handle(messages)
    before = jobs_of(engine, pid)
    again = handler.handle(messages)
    assert again.duplicates == 3 and again.jobs_created == 0 and again.jobs_cancelled == 0
    assert jobs_of(engine, pid) == before
    assert sum(j["status"] == "queued" for j in before) == 3  # only the rescheduled visit's


def test_cancel_in_the_same_batch_drops_the_booking(engine, handler) -> None:
    pid = f"c-{uuid.uuid4().hex[:8]}"
    handler.handle(
        [
            patient(pid),
            booked(pid, f"a-{pid}"),
            msg("appointment.cancelled", pid, appointment_id=f"a-{pid}"),
        ]
    )
    assert jobs_of(engine, pid) == []


def test_cancel_in_a_later_batch_cancels_queued_jobs(engine, handler) -> None:
    pid = f"l-{uuid.uuid4().hex[:8]}"
    handler.handle([patient(pid), booked(pid, f"a-{pid}"), booked(pid, f"b-{pid}", days=5)])
    result = handler.handle([msg("appointment.cancelled", pid, appointment_id=f"a-{pid}")])
    assert result.jobs_cancelled == 3
    statuses = [(j["appointment_id"], j["status"]) for j in jobs_of(engine, pid)]
    assert statuses.count((f"a-{pid}", "cancelled")) == 3
    assert statuses.count((f"b-{pid}", "queued")) == 3


def test_jobs_for_an_unknown_patient_are_kept_as_suppressed(engine, handler) -> None:
    pid = f"u-{uuid.uuid4().hex[:8]}"
    handler.handle([booked(pid, f"a-{pid}")])
    jobs = jobs_of(engine, pid)
    # Nothing is known of the patient yet: no address, no consent. Kept, never sent.
    assert len(jobs) == 3 and {j["status"] for j in jobs} == {"suppressed"}
    assert {j["suppression_reason"] for j in jobs} <= {"no_reachable_channel", "no_consent"}


def test_no_consent_and_opted_out_patients_get_suppressed_jobs(engine, handler) -> None:
    pid = f"n-{uuid.uuid4().hex[:8]}"
    handler.handle([patient(pid, contact_consent=False), booked(pid, f"a-{pid}")])
    assert {j["suppression_reason"] for j in jobs_of(engine, pid)} == {"no_consent"}


def test_malformed_events_go_to_the_dlq_and_the_rest_goes_through(engine, handler) -> None:
    pid = f"m-{uuid.uuid4().hex[:8]}"
    result = handler.handle(
        [
            (b"k", b"{broken"),
            patient(pid),
            msg("appointment.booked", pid, appointment_id="x"),
            booked(pid, f"a-{pid}"),
        ]
    )
    assert len(result.dead_letters) == 2
    assert {d.stage for d in result.dead_letters} == {"orchestrator.parse"}
    assert "starts_at" in result.dead_letters[1].error
    assert len(jobs_of(engine, pid)) == 3


def test_an_impossible_quiet_hour_is_that_event_s_dead_letter_not_the_batch_s(engine, handler):
    """It used to fail inside the batch's transaction, failing every event with it."""
    pid, other = f"q-{uuid.uuid4().hex[:8]}", f"q-{uuid.uuid4().hex[:8]}"
    result = handler.handle(
        [patient(pid, quiet_hours_start="25:00"), patient(other), booked(other, f"a-{other}")]
    )
    [letter] = result.dead_letters
    assert letter.stage == "orchestrator.parse" and "quiet_hours_start" in letter.error
    assert "25:00" not in letter.error  # the value itself never reaches a dead letter's text
    assert result.patients_upserted == 1 and len(jobs_of(engine, other)) == 3


def test_partial_update_keeps_stored_values_and_consent_changes_are_audited(engine, handler):
    pid = f"p-{uuid.uuid4().hex[:8]}"
    handler.handle([patient(pid, email="ana@example.com", marketing_opt_in=["email"])])
    handler.handle([msg("patient.upserted", pid, first_name="Ana", contact_consent=False)])
    prefs_table, audit = PatientCommPrefs.__table__, CommAuditLog.__table__
    with engine.connect() as connection:
        prefs = (
            connection.execute(select(prefs_table).where(prefs_table.c.patient_id == pid))
            .mappings()
            .one()
        )
        actions = (
            connection.execute(
                select(audit.c.detail).where(audit.c.patient_id == pid).order_by(audit.c.id)
            )
            .scalars()
            .all()
        )
    assert prefs["email"] == "ana@example.com" and prefs["phone"] == "+12125550147"
    assert prefs["marketing_opt_in_email"] and not prefs["contact_consent"]
    assert actions[0]["contact_consent"] is True and actions[-1] == {"contact_consent": False}


def test_integer_ids_from_the_core_platform_plan_the_same_jobs(engine, handler) -> None:
    number = uuid.uuid4().int % 10**12  # a fresh patient and appointment in the shared database
    events = [
        {
            "event_id": number,
            "type": "patient.upserted",
            "occurred_at": NOW.isoformat(),
            "org_id": 1,
            "patient_id": number,
            "data": json.loads(patient(str(number))[1])["data"] | {"record_number": 4711},
        },
        {
            "event_id": number + 1,
            "type": "appointment.booked",
            "occurred_at": NOW.isoformat(),
            "org_id": 1,
            "provider_id": 9,
            "patient_id": number,
            "data": {"appointment_id": number, "starts_at": (NOW + timedelta(days=2)).isoformat()},
        },
    ]
    messages = [(str(number).encode(), json.dumps(event).encode()) for event in events]

    result = handler.handle(messages)

    assert not result.dead_letters and result.patients_upserted == 1
    jobs = jobs_of(engine, str(number))
    assert [(j["purpose"], j["status"]) for j in jobs] == [
        ("appt_confirm", "queued"),
        ("appt_reminder", "queued"),
        ("appt_reminder", "queued"),
    ]
    assert {(j["org_id"], j["provider_id"], j["appointment_id"]) for j in jobs} == {
        ("1", "9", str(number))
    }
    # The same events with string ids are the same events: nothing new.
    as_text = [
        (key, json.dumps({**event, "event_id": str(event["event_id"])}).encode())
        for (key, _), event in zip(messages, events, strict=True)
    ]
    assert handler.handle(as_text).duplicates == 2


FATIGUE = FatiguePolicy(threshold=0.6, marketing_max_per_day=1, marketing_max_per_week=1)


def campaign(patient_id: str, at: datetime) -> tuple[bytes, bytes]:
    key, value = msg(
        "comm.requested", patient_id, purpose="campaign_education", context={}, channel="sms"
    )
    event = json.loads(value)
    event["occurred_at"] = at.isoformat()
    return key, json.dumps(event).encode()


def _set_fatigue(engine: Engine, patient_id: str, score: float) -> None:
    table = PatientCommPrefs.__table__
    with engine.begin() as connection:
        connection.execute(
            table.update().where(table.c.patient_id == patient_id).values(fatigue_score=score)
        )


def test_a_fatigued_patient_gets_fewer_marketing_messages_and_every_reminder(engine) -> None:
    """Two campaign messages two days apart and a booking: a rested patient gets all of them,
    a fatigued one (score at the threshold) the first campaign message and every reminder."""
    outcomes = {}
    for score in (0.59, 0.6):
        pid = f"f-{uuid.uuid4().hex[:8]}"
        store = Store(engine)
        planner = EventPlanner(store, reminder_offsets=OFFSETS, clock=lambda: NOW, fatigue=FATIGUE)
        planner.handle([patient(pid, marketing_opt_in=["sms"])])
        _set_fatigue(engine, pid, score)
        planner.handle([campaign(pid, NOW)])
        later = NOW + timedelta(days=2)
        EventPlanner(
            store, reminder_offsets=OFFSETS, clock=lambda at=later: at, fatigue=FATIGUE
        ).handle([campaign(pid, later), booked(pid, f"a-{pid}", days=2)])
        outcomes[score] = sorted(
            (j["purpose"], j["status"], j["suppression_reason"]) for j in jobs_of(engine, pid)
        )

    assert outcomes[0.59] == [
        ("appt_confirm", "queued", None),
        ("appt_reminder", "queued", None),
        ("appt_reminder", "queued", None),
        ("campaign_education", "queued", None),
        ("campaign_education", "queued", None),
    ]
    assert outcomes[0.6] == [
        ("appt_confirm", "queued", None),
        ("appt_reminder", "queued", None),
        ("appt_reminder", "queued", None),
        ("campaign_education", "queued", None),
        ("campaign_education", "suppressed", "frequency_cap"),
    ]


def test_how_each_send_time_was_chosen_is_recorded(engine) -> None:
    """Every flexible job explores (share 1): it records that and its propensity; a reminder
    keeps its default time; a patient with a best hour is nudged to it."""
    exploring = EventPlanner(
        Store(engine), reminder_offsets=OFFSETS, clock=lambda: NOW, exploration_share=1.0
    )
    pid = f"x-{uuid.uuid4().hex[:8]}"
    exploring.handle([patient(pid, marketing_opt_in=["sms"])])
    exploring.handle([campaign(pid, NOW), booked(pid, f"a-{pid}")])
    by_purpose = {j["purpose"]: j for j in jobs_of(engine, pid)}
    explored = by_purpose["campaign_education"]
    assert explored["send_time_source"] == "exploration"
    # 13 allowed hours in New York's next day; every flexible job explores.
    assert explored["send_time_propensity"] == pytest.approx(1 / 13)
    assert NOW <= explored["scheduled_for"] < NOW + timedelta(hours=24)
    assert by_purpose["appt_confirm"]["send_time_source"] == "default"
    assert by_purpose["appt_confirm"]["send_time_propensity"] == 1.0

    modelled = f"y-{uuid.uuid4().hex[:8]}"
    plain = EventPlanner(Store(engine), reminder_offsets=OFFSETS, clock=lambda: NOW)
    plain.handle([patient(modelled, marketing_opt_in=["sms"])])
    table = PatientCommPrefs.__table__
    with engine.begin() as connection:
        connection.execute(
            table.update().where(table.c.patient_id == modelled).values(best_hour=17)
        )
    plain.handle([campaign(modelled, NOW)])
    (job,) = jobs_of(engine, modelled)
    assert job["send_time_source"] == "model"
    assert job["scheduled_for"] == NOW + timedelta(hours=7)  # 17:00 in New York


def appointments_of(engine: Engine, patient_id: str) -> list[tuple[str, str, datetime | None]]:
    with Store(engine).reading() as repos:
        rows = repos.appointments.of_patients([patient_id]).get(patient_id, [])
    return sorted((r.appointment_id, r.status.value, r.starts_at) for r in rows)


def test_appointment_events_keep_the_appointments_facts(engine, handler) -> None:
    pid = f"f-{uuid.uuid4().hex[:8]}"
    visit = NOW - timedelta(days=1)
    result = handler.handle(
        [
            patient(pid),
            booked(pid, f"a-{pid}"),
            booked(pid, f"b-{pid}", days=5),
            msg(
                "appointment.attended", pid, appointment_id=f"v-{pid}", starts_at=visit.isoformat()
            ),
            msg("appointment.no_show", pid, appointment_id=f"n-{pid}"),
        ]
    )
    assert result.appointments_recorded == 4
    later = handler.handle(
        [msg("appointment.cancelled", pid, at=NOW + timedelta(hours=1), appointment_id=f"b-{pid}")]
    )
    assert later.appointments_recorded == 1 and later.jobs_created == 0
    assert appointments_of(engine, pid) == [
        (f"a-{pid}", "booked", NOW + timedelta(days=2)),
        (f"b-{pid}", "cancelled", NOW + timedelta(days=5)),
        (f"n-{pid}", "no_show", None),
        (f"v-{pid}", "attended", visit),
    ]


def test_a_visit_of_a_patient_not_yet_known_is_kept(engine, handler) -> None:
    pid = f"k-{uuid.uuid4().hex[:8]}"
    result = handler.handle([msg("appointment.attended", pid, appointment_id=f"v-{pid}")])
    assert (result.appointments_recorded, result.jobs_created, result.ignored) == (1, 0, 0)
    assert appointments_of(engine, pid) == [(f"v-{pid}", "attended", None)]


def test_a_replayed_older_event_does_not_undo_a_newer_status(engine, handler) -> None:
    pid = f"o-{uuid.uuid4().hex[:8]}"
    booking = booked(pid, f"a-{pid}")
    an_hour_later = NOW + timedelta(hours=1)
    cancel = msg("appointment.cancelled", pid, at=an_hour_later, appointment_id=f"a-{pid}")
    handler.handle([patient(pid), booking, cancel])
    again = handler.handle([booking])  # the inbox stops it; the fact would not move back anyway
    assert again.duplicates == 1
    late = json.loads(booking[1])
    late["event_id"] = f"late-{pid}"
    late["occurred_at"] = (NOW - timedelta(minutes=5)).isoformat()
    handler.handle([(booking[0], json.dumps(late).encode())])
    assert appointments_of(engine, pid) == [(f"a-{pid}", "cancelled", NOW + timedelta(days=2))]


def test_a_failing_batch_leaves_no_appointment_behind(engine, handler, monkeypatch) -> None:
    pid = f"x-{uuid.uuid4().hex[:8]}"

    def broken(*_args: object, **_kwargs: object) -> int:
        raise RuntimeError("the database went away")

    monkeypatch.setattr("outreach.sql.job_repository.JobRepository.insert", broken)
    with pytest.raises(RuntimeError):
        handler.handle([patient(pid), booked(pid, f"a-{pid}")])
    assert appointments_of(engine, pid) == []
