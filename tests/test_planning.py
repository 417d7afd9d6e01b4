"""Core event -> planned communications (pure)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from outreach.domain import AppointmentStatus, Purpose
from outreach.events import CoreEvent, MalformedEvent
from outreach.planning import plan_event

NOW = datetime(2026, 3, 2, 15, 0, tzinfo=UTC)
OFFSETS = (timedelta(hours=24), timedelta(hours=2))


def event(kind: str, **data: object) -> CoreEvent:
    return CoreEvent(
        event_id="evt-1",
        type=kind,
        occurred_at=NOW,
        org_id="org",
        provider_id="dr",
        patient_id="p1",
        data=data,
    )


def test_booking_plans_a_confirmation_now_and_reminders_before_the_visit() -> None:
    starts = NOW + timedelta(days=2)
    plan = plan_event(
        event("appointment.booked", appointment_id="a1", starts_at=starts.isoformat()),
        reminder_offsets=OFFSETS,
    )
    assert [(j.purpose, j.requested_at) for j in plan.jobs] == [
        (Purpose.APPT_CONFIRM, NOW),
        (Purpose.APPT_REMINDER, starts - timedelta(hours=24)),
        (Purpose.APPT_REMINDER, starts - timedelta(hours=2)),
    ]
    assert all(j.deadline == starts and j.appointment_id == "a1" for j in plan.jobs)
    assert [j.idempotency_key for j in plan.jobs] == [
        "evt-1:appt_confirm:confirm",
        "evt-1:appt_reminder:before-1440m",
        "evt-1:appt_reminder:before-120m",
    ]


def test_same_event_plans_the_same_keys() -> None:
    booked = event(
        "appointment.booked", appointment_id="a1", starts_at=(NOW + timedelta(days=2)).isoformat()
    )
    first = plan_event(booked, reminder_offsets=OFFSETS)
    again = plan_event(booked, reminder_offsets=OFFSETS)
    assert [j.idempotency_key for j in first.jobs] == [j.idempotency_key for j in again.jobs]


def test_reminders_whose_time_passed_at_booking_are_not_planned() -> None:
    plan = plan_event(
        event(
            "appointment.booked",
            appointment_id="a1",
            starts_at=(NOW + timedelta(hours=3)).isoformat(),
        ),
        reminder_offsets=OFFSETS,
    )
    assert [j.purpose for j in plan.jobs] == [Purpose.APPT_CONFIRM, Purpose.APPT_REMINDER]


def test_an_appointment_in_the_past_plans_nothing() -> None:
    plan = plan_event(
        event(
            "appointment.booked",
            appointment_id="a1",
            starts_at=(NOW - timedelta(hours=1)).isoformat(),
        ),
        reminder_offsets=OFFSETS,
    )
    assert plan.jobs == ()


def test_reschedule_cancels_and_replans() -> None:
    plan = plan_event(
        event(
            "appointment.rescheduled",
            appointment_id="a1",
            starts_at=(NOW + timedelta(days=3)).isoformat(),
        ),
        reminder_offsets=OFFSETS,
    )
    assert plan.cancel_appointment_ids == ("a1",)
    assert len(plan.jobs) == 3


def test_cancellation_only_cancels() -> None:
    plan = plan_event(event("appointment.cancelled", appointment_id="a1"), reminder_offsets=OFFSETS)
    assert plan.cancel_appointment_ids == ("a1",) and plan.jobs == ()


@pytest.mark.parametrize(
    ("kind", "data", "purpose"),
    [
        ("appointment.no_show", {"appointment_id": "a1"}, Purpose.NO_SHOW),
        ("lab.result_ready", {"result_id": "r1", "test_name": "HbA1c"}, Purpose.LAB_READY),
        ("rx.refill_due", {"prescription_id": "rx1", "medication": "metformin"}, Purpose.RX_REFILL),
        ("comm.requested", {"purpose": "urgent"}, Purpose.URGENT),
    ],
)
def test_other_events_plan_their_purpose(kind: str, data: dict, purpose: Purpose) -> None:
    plan = plan_event(event(kind, **data), reminder_offsets=OFFSETS)
    assert [j.purpose for j in plan.jobs] == [purpose]
    assert plan.jobs[0].deadline > plan.jobs[0].requested_at


def test_phi_facts_stay_in_the_job_context_for_the_renderer_to_police() -> None:
    plan = plan_event(
        event("lab.result_ready", result_id="r1", test_name="HIV viral load"),
        reminder_offsets=OFFSETS,
    )
    assert plan.jobs[0].context == {"result_id": "r1", "lab_test_name": "HIV viral load"}


@pytest.mark.parametrize(
    ("kind", "data", "message"),
    [
        ("appointment.booked", {"appointment_id": "a1"}, "starts_at"),
        ("appointment.booked", {"starts_at": NOW.isoformat()}, "appointment_id"),
        ("lab.result_ready", {}, "result_id"),
        ("comm.requested", {"purpose": "gossip"}, "purpose"),
        (
            "comm.requested",
            {
                "purpose": "urgent",
                "send_at": NOW.isoformat(),
                "deadline": (NOW - timedelta(hours=1)).isoformat(),
            },
            "deadline",
        ),
    ],
)
def test_bad_data_is_a_clear_malformed_event(kind: str, data: dict, message: str) -> None:
    with pytest.raises(MalformedEvent, match=message):
        plan_event(event(kind, **data), reminder_offsets=OFFSETS)


def test_unknown_event_types_are_ignored_not_dead_lettered() -> None:
    assert plan_event(event("invoice.paid"), reminder_offsets=OFFSETS).ignored


def test_a_request_counts_towards_the_campaign_its_context_names() -> None:
    data = {"purpose": "campaign_education", "context": {"campaign_id": 12}}
    [job] = plan_event(event("comm.requested", **data), reminder_offsets=OFFSETS).jobs
    assert job.campaign_id == 12
    [plain] = plan_event(event("comm.requested", purpose="urgent"), reminder_offsets=OFFSETS).jobs
    assert plain.campaign_id is None
    with pytest.raises(MalformedEvent, match="campaign_id"):
        plan_event(
            event("comm.requested", purpose="urgent", context={"campaign_id": "spring"}),
            reminder_offsets=OFFSETS,
        )


@pytest.mark.parametrize(
    ("kind", "status", "plans_jobs"),
    [
        ("appointment.booked", AppointmentStatus.BOOKED, True),
        ("appointment.rescheduled", AppointmentStatus.BOOKED, True),
        ("appointment.cancelled", AppointmentStatus.CANCELLED, False),
        ("appointment.no_show", AppointmentStatus.NO_SHOW, True),
        ("appointment.attended", AppointmentStatus.ATTENDED, False),
    ],
)
def test_appointment_events_carry_the_fact_of_their_appointment(
    kind: str, status: AppointmentStatus, plans_jobs: bool
) -> None:
    starts = NOW + timedelta(days=2)
    plan = plan_event(
        event(kind, appointment_id="a1", starts_at=starts.isoformat()), reminder_offsets=OFFSETS
    )
    fact = plan.appointment
    assert fact is not None and not plan.ignored
    assert (fact.appointment_id, fact.org_id, fact.patient_id, fact.provider_id) == (
        "a1",
        "org",
        "p1",
        "dr",
    )
    assert (fact.status, fact.starts_at, fact.event_id, fact.event_type, fact.occurred_at) == (
        status,
        starts,
        "evt-1",
        kind,
        NOW,
    )
    assert bool(plan.jobs) is plans_jobs


def test_an_attended_visit_is_a_fact_and_sends_nothing() -> None:
    plan = plan_event(event("appointment.attended", appointment_id="a1"), reminder_offsets=OFFSETS)
    assert plan.jobs == () and plan.cancel_appointment_ids == ()
    assert plan.appointment is not None and plan.appointment.starts_at is None
    with pytest.raises(MalformedEvent, match="appointment_id"):
        plan_event(event("appointment.attended"), reminder_offsets=OFFSETS)
