"""The synthetic clinic: deterministic, realistic, and every event something the worker accepts."""

from __future__ import annotations

import json
import random
from collections import Counter, defaultdict
from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

import phonenumbers
import pytest

from outreach.domain import BUILTIN_CHANNELS, Channel
from outreach.events import MalformedEvent, parse_core_event
from outreach.planning import plan_event
from outreach.preferences.addresses import normalise_email, normalise_phone
from outreach.sim.clinic import (
    EVENT_TYPES,
    MALFORMED_KINDS,
    SyntheticClinic,
    event_key,
    event_value,
    expected_counts,
    generate_clinic,
    malformed_events,
)

# A Friday; Europe moves to summer time on Sunday the 30th, between booking and appointment.
DAY_START = datetime(2025, 3, 28, 6, 0, tzinfo=UTC)
DAY_END = DAY_START + timedelta(hours=24)
REMINDERS = (timedelta(hours=24), timedelta(hours=2))
ZONE_COUNTRY = {
    "America/New_York": "US",
    "America/Chicago": "US",
    "America/Denver": "US",
    "America/Phoenix": "US",
    "America/Los_Angeles": "US",
    "Europe/Bucharest": "RO",
    "Europe/Madrid": "ES",
    "Asia/Kolkata": "IN",
    "Australia/Lord_Howe": "AU",
}
APPOINTMENT_TYPES = {
    "appointment.booked",
    "appointment.rescheduled",
    "appointment.cancelled",
    "appointment.no_show",
}


@pytest.fixture(scope="module")
def clinic() -> SyntheticClinic:
    return generate_clinic(day_start=DAY_START)


def _at(value: str) -> datetime:
    return datetime.fromisoformat(value)


def _of_type(clinic: SyntheticClinic, kind: str) -> list[dict]:
    return [event for event in clinic.events if event["type"] == kind]


def test_the_same_seed_gives_the_same_clinic(clinic: SyntheticClinic) -> None:
    again = generate_clinic(day_start=DAY_START)
    assert again.events == clinic.events
    assert again.patients == clinic.patients
    assert again.orgs == clinic.orgs and again.providers == clinic.providers


def test_the_day_start_is_the_same_instant_in_any_zone(clinic: SyntheticClinic) -> None:
    local_start = DAY_START.astimezone(ZoneInfo("Europe/Bucharest"))
    assert generate_clinic(day_start=local_start).events == clinic.events


def test_different_clinics_share_no_ids(clinic: SyntheticClinic) -> None:
    other_seed = generate_clinic(day_start=DAY_START, seed=8)
    assert other_seed.events != clinic.events
    smaller = generate_clinic(day_start=DAY_START, patients=1999)
    ours = {event["event_id"] for event in clinic.events}
    for other in (other_seed, smaller):
        assert ours.isdisjoint(event["event_id"] for event in other.events)


def test_a_naive_day_start_is_refused() -> None:
    with pytest.raises(ValueError, match="timezone-aware"):
        generate_clinic(day_start=datetime(2025, 3, 28, 6, 0))


def test_every_event_crosses_the_wire_parses_and_plans(clinic: SyntheticClinic) -> None:
    for event in clinic.events:
        value = event_value(event)
        assert json.loads(value) == event
        assert event_key(event) == event["patient_id"].encode()
        parsed = parse_core_event(value)
        plan = plan_event(parsed, reminder_offsets=REMINDERS)
        assert not plan.ignored
        if event["type"] == "patient.upserted":
            assert plan.patient is not None
            assert plan.patient.timezone in ZONE_COUNTRY
        elif event["type"] == "appointment.booked":
            # Booked for later: at least the confirmation is planned.
            assert plan.jobs and plan.jobs[0].purpose.value == "appt_confirm"
        elif event["type"] in {"appointment.cancelled", "appointment.rescheduled"}:
            assert plan.cancel_appointment_ids == (event["data"]["appointment_id"],)
        else:
            assert len(plan.jobs) == 1


def test_events_are_sorted_unique_and_inside_the_day(clinic: SyntheticClinic) -> None:
    times = [_at(event["occurred_at"]) for event in clinic.events]
    assert times == sorted(times)
    assert times[0] >= DAY_START and times[-1] < DAY_END
    assert all(t.utcoffset() == timedelta(0) for t in times)
    assert len({event["event_id"] for event in clinic.events}) == len(clinic.events)


def test_every_patient_is_upserted_once_before_anything_else(clinic: SyntheticClinic) -> None:
    count = len(clinic.patients)
    upserts = clinic.events[:count]
    assert [event["type"] for event in upserts] == ["patient.upserted"] * count
    assert [event["patient_id"] for event in upserts] == [p.patient_id for p in clinic.patients]
    assert _at(upserts[-1]["occurred_at"]) < DAY_START + timedelta(minutes=5)
    assert "patient.upserted" not in {event["type"] for event in clinic.events[count:]}
    known = {p.patient_id: p.org_id for p in clinic.patients}
    assert all(known[event["patient_id"]] == event["org_id"] for event in clinic.events)


def test_counts_per_type_match_the_events_and_the_intended_shares(clinic: SyntheticClinic) -> None:
    counts = expected_counts(clinic)
    assert list(counts) == list(EVENT_TYPES)
    assert sum(counts.values()) == len(clinic.events)
    patients = len(clinic.patients)
    assert counts["patient.upserted"] == patients
    booked = counts["appointment.booked"]
    assert 0.55 < booked / patients < 0.65
    assert 0.05 < counts["appointment.rescheduled"] / booked < 0.11
    assert 0.03 < counts["appointment.cancelled"] / booked < 0.07
    assert 0.02 < counts["appointment.no_show"] / patients < 0.04
    assert 0.08 < counts["lab.result_ready"] / patients < 0.12
    assert 0.05 < counts["rx.refill_due"] / patients < 0.09
    assert 0.02 < counts["comm.requested"] / patients < 0.04


def test_phones_are_valid_for_the_patients_country(clinic: SyntheticClinic) -> None:
    unreachable = 0
    phones = []
    for patient in clinic.patients:
        if not patient.reachable:
            unreachable += 1
            # Nothing else to reach them by: the pipeline must say no_reachable_channel.
            assert patient.phone is not None and normalise_phone(patient.phone) is None
            assert patient.email is None and patient.whatsapp is None
            continue
        for number in (patient.phone, patient.whatsapp):
            if number is None:
                continue
            parsed = phonenumbers.parse(number, None)
            assert phonenumbers.is_valid_number(parsed), number
            assert phonenumbers.region_code_for_number(parsed) == ZONE_COUNTRY[patient.timezone]
            assert normalise_phone(number) == number  # already E.164
        if patient.phone is not None:
            phones.append(patient.phone)
    assert 0 < unreachable < len(clinic.patients) * 0.02
    assert len(phones) == len(set(phones)), "a number given twice would misroute replies"
    area_codes = {phone[2:5] for phone in phones if phone.startswith("+1")}
    assert {"305", "407", "813"} <= area_codes
    for org in clinic.orgs:
        assert phonenumbers.is_valid_number(phonenumbers.parse(org.clinic_phone, None))


def test_emails_are_valid_unique_and_fictional(clinic: SyntheticClinic) -> None:
    emails = [p.email for p in clinic.patients if p.email is not None]
    assert all(normalise_email(email) == email for email in emails)
    assert {email.rpartition("@")[2] for email in emails} == {"example.com", "example.org"}
    assert len(emails) == len(set(emails))
    email_only = [p for p in clinic.patients if p.reachable and p.phone is None]
    assert email_only and all(p.preferred_channel is Channel.EMAIL for p in email_only)


def test_patients_spread_across_zones_languages_channels_and_consent(
    clinic: SyntheticClinic,
) -> None:
    patients = clinic.patients
    assert {p.timezone for p in patients} == set(ZONE_COUNTRY)
    assert {p.language for p in patients} == {"en", "es", "es-MX", "fr", "pt", "ro"}
    channels = Counter(p.preferred_channel for p in patients)
    assert channels[Channel.SMS] > channels[Channel.EMAIL] > channels[Channel.WHATSAPP] > 0
    assert 0.03 < sum(not p.contact_consent for p in patients) / len(patients) < 0.08
    assert all(p.marketing_opt_in == () for p in patients if not p.contact_consent)
    assert {c for p in patients for c in p.marketing_opt_in} == set(BUILTIN_CHANNELS)
    whatsapp_opt_ins = [p for p in patients if p.whatsapp_opt_in]
    preferring = sum(p.preferred_channel is Channel.WHATSAPP for p in whatsapp_opt_ins)
    assert preferring > 0.8 * len(whatsapp_opt_ins)
    assert any(p.quiet_hours for p in patients) and any(p.allowed_channels for p in patients)
    assert {p.org_id for p in patients} == {org.org_id for org in clinic.orgs}


def test_consent_was_granted_one_to_23_months_before(clinic: SyntheticClinic) -> None:
    for patient in clinic.patients:
        if patient.contact_consent:
            assert patient.consent_granted_at is not None
            age = DAY_START - patient.consent_granted_at
            assert timedelta(days=30) <= age <= timedelta(days=700)
        else:
            assert patient.consent_granted_at is None


def test_attributes_serve_segments(clinic: SyntheticClinic) -> None:
    conditions = Counter()
    for patient in clinic.patients:
        attributes = patient.attributes
        assert set(attributes) == {"age", "sex", "conditions", "last_visit_days", "tags"}
        born = datetime.fromisoformat(patient.date_of_birth).date()
        today = DAY_START.date()
        years = today.year - born.year - ((today.month, today.day) < (born.month, born.day))
        assert years == attributes["age"]
        conditions.update(attributes["conditions"])
    assert {"diabetes", "hypertension", "asthma"} <= set(conditions)


def test_appointments_fall_in_clinic_hours_in_the_orgs_zone(clinic: SyntheticClinic) -> None:
    zones = {org.org_id: ZoneInfo(org.timezone) for org in clinic.orgs}
    names = {p.org_id: set() for p in clinic.providers}
    for provider in clinic.providers:
        names[provider.org_id].add(provider.display_name)
    seen = Counter()
    for event in clinic.events:
        if event["type"] not in APPOINTMENT_TYPES:
            continue
        starts = _at(event["data"]["starts_at"]).astimezone(zones[event["org_id"]])
        occurred = _at(event["occurred_at"]).astimezone(zones[event["org_id"]])
        assert starts.weekday() < 5
        assert (8, 0) <= (starts.hour, starts.minute) <= (17, 30) and starts.minute % 15 == 0
        assert event["data"]["provider_display_name"] in names[event["org_id"]]
        seen[event["type"]] += 1
        if event["type"] in {"appointment.booked", "appointment.rescheduled"}:
            assert 1 <= (starts.date() - occurred.date()).days <= 3
        elif event["type"] == "appointment.no_show":
            assert timedelta(minutes=20) <= occurred - starts <= timedelta(hours=2)
    assert set(seen) == APPOINTMENT_TYPES


def test_changes_refer_to_a_booking_made_earlier(clinic: SyntheticClinic) -> None:
    booked = {}
    changed = defaultdict(list)
    for event in clinic.events:
        data = event["data"]
        if event["type"] == "appointment.booked":
            booked[data["appointment_id"]] = event
        elif event["type"] in {"appointment.rescheduled", "appointment.cancelled"}:
            original = booked[data["appointment_id"]]  # booked before, in time order
            assert original["patient_id"] == event["patient_id"]
            assert _at(event["occurred_at"]) < _at(original["data"]["starts_at"])
            changed[data["appointment_id"]].append(event["type"])
            if event["type"] == "appointment.rescheduled":
                assert data["starts_at"] != original["data"]["starts_at"]
    assert all(len(kinds) == 1 for kinds in changed.values())
    no_shows = {e["data"]["appointment_id"] for e in _of_type(clinic, "appointment.no_show")}
    assert no_shows.isdisjoint(booked)


def test_phi_is_carried_for_the_templates_that_may_use_it(clinic: SyntheticClinic) -> None:
    assert all(e["data"]["test_name"] for e in _of_type(clinic, "lab.result_ready"))
    zones = {p.patient_id: ZoneInfo(p.timezone) for p in clinic.patients}
    for event in _of_type(clinic, "rx.refill_due"):
        assert event["data"]["medication"]
        due = datetime.fromisoformat(event["data"]["due_date"]).date()
        today = _at(event["occurred_at"]).astimezone(zones[event["patient_id"]]).date()
        assert 2 <= (due - today).days <= 7  # in the patient's own calendar
    purposes = Counter(e["data"]["purpose"] for e in _of_type(clinic, "comm.requested"))
    assert set(purposes) == {"urgent", "campaign_education"}
    assert all(e["data"]["context"] == {} for e in _of_type(clinic, "comm.requested"))


def test_personal_fields_stay_out_of_reprs(clinic: SyntheticClinic) -> None:
    patient = next(p for p in clinic.patients if p.phone and p.email)
    shown = repr(patient)
    for secret in (patient.first_name, patient.last_name, patient.phone, patient.email):
        assert secret not in shown
    assert "pat-" not in repr(clinic) and str(len(clinic.events)) in repr(clinic)


def test_more_orgs_and_providers_than_the_catalogue_holds() -> None:
    big = generate_clinic(patients=300, day_start=DAY_START, org_count=8, providers_per_org=12)
    assert len({org.org_id for org in big.orgs}) == len({org.name for org in big.orgs}) == 8
    for org in big.orgs:
        names = [p.display_name for p in big.providers if p.org_id == org.org_id]
        assert len(names) == len(set(names)) == 12
    for event in big.events:
        plan_event(parse_core_event(event_value(event)), reminder_offsets=REMINDERS)


def _rejection_stage(value: bytes) -> str:
    try:
        event = parse_core_event(value)
    except MalformedEvent:
        return "parse"
    try:
        plan_event(event, reminder_offsets=REMINDERS)
    except MalformedEvent:
        return "plan"
    return "accepted"


def test_malformed_events_are_rejected_by_the_worker() -> None:
    values = malformed_events(7, 3 * MALFORMED_KINDS, day_start=DAY_START)
    assert len(values) == 3 * MALFORMED_KINDS and all(isinstance(v, bytes) for v in values)
    stages = Counter(_rejection_stage(value) for value in values)
    assert stages["accepted"] == 0
    assert stages["parse"] > 0 and stages["plan"] > 0  # both DLQ paths are exercised
    assert values == malformed_events(random.Random(7), 3 * MALFORMED_KINDS, day_start=DAY_START)
    assert malformed_events(7, 4) != malformed_events(8, 4)
