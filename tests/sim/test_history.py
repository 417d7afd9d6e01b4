"""The synthetic clinic's past visits: one attended appointment per patient, at their
``last_visit_days``, on a weekday in clinic hours, valid core events, the same every time."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

from outreach.events import parse_core_event
from outreach.planning import plan_event
from outreach.sim.clinic import generate_clinic, visit_history

DAY_START = datetime(2027, 1, 4, 6, 0, tzinfo=UTC)
CLINIC = generate_clinic(patients=300, seed=3, day_start=DAY_START)


def test_each_patient_has_their_last_visit_as_an_attended_appointment() -> None:
    history = visit_history(CLINIC)
    assert [e["patient_id"] for e in history].count(CLINIC.patients[0].patient_id) == 1
    assert {e["patient_id"] for e in history} == {p.patient_id for p in CLINIC.patients}
    zones = {org.org_id: ZoneInfo(org.timezone) for org in CLINIC.orgs}
    by_patient = {p.patient_id: p for p in CLINIC.patients}
    for event in history:
        patient = by_patient[event["patient_id"]]
        starts_at = datetime.fromisoformat(event["data"]["starts_at"])
        local = starts_at.astimezone(zones[patient.org_id])
        assert local.weekday() < 5 and 8 <= local.hour < 18
        days = max(patient.attributes["last_visit_days"], 1)
        # On that day, or the Friday before when it fell on a weekend.
        assert timedelta(days=days - 1) < DAY_START - starts_at < timedelta(days=days + 3)
        assert datetime.fromisoformat(event["occurred_at"]) < DAY_START


def test_history_events_are_valid_core_events_that_plan_no_message() -> None:
    for event in visit_history(CLINIC):
        parsed = parse_core_event(json.dumps(event).encode())
        assert parsed.type == "appointment.attended"
        plan = plan_event(parsed, reminder_offsets=())
        assert plan.jobs == ()


def test_the_same_clinic_has_the_same_past() -> None:
    again = generate_clinic(patients=300, seed=3, day_start=DAY_START)
    assert visit_history(again) == visit_history(CLINIC)
    other = generate_clinic(patients=300, seed=4, day_start=DAY_START)
    assert not {e["event_id"] for e in visit_history(other)} & {
        e["event_id"] for e in visit_history(CLINIC)
    }
