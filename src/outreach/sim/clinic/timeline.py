"""A day of core events for the synthetic clinic, as JSON-ready dicts sorted by ``occurred_at``.

Times are whole seconds after the simulated day start until the very end, so that drawing and
sorting stay cheap at benchmark sizes; each event type follows the activity curve of whoever
causes it (patients booking online in their own zone, staff in the clinic's).
"""

from __future__ import annotations

import hashlib
import random
import uuid
from bisect import bisect
from collections.abc import Sequence
from datetime import UTC, date, datetime, timedelta
from functools import lru_cache
from typing import Any
from zoneinfo import ZoneInfo

from outreach.domain import Purpose
from outreach.sim.clinic.catalog import (
    APPOINTMENT_REASONS,
    LAB_TESTS,
    LAB_TESTS_BY_CONDITION,
    MEDICATIONS,
    MEDICATIONS_BY_CONDITION,
)
from outreach.sim.clinic.population import Org, Provider, SyntheticPatient, below

EVENT_TYPES: tuple[str, ...] = (
    "patient.upserted",
    "appointment.booked",
    "appointment.rescheduled",
    "appointment.cancelled",
    "appointment.no_show",
    "lab.result_ready",
    "rx.refill_due",
    "comm.requested",
)

DAY_SECONDS = 86_400
UPSERT_SPREAD_SECONDS = 300  # every patient.upserted lands in the first five minutes
FIRST_ACTIVITY_SECOND = 600  # everything else comes after them
# Probabilities per patient, or per booking for rescheduled / cancelled.
BOOKED_SHARE = 0.60
RESCHEDULED_SHARE_OF_BOOKED = 0.08
CANCELLED_SHARE_OF_BOOKED = 0.05
NO_SHOW_SHARE = 0.03
LAB_RESULT_SHARE = 0.10
REFILL_SHARE_WITH_CONDITIONS = 0.12  # ~7% overall: chronic patients refill far more often
REFILL_SHARE_WITHOUT = 0.035
COMM_REQUEST_SHARE = 0.03
URGENT_SHARE_OF_REQUESTS = 0.3
BOOKED_BY_PATIENT_SHARE = 0.5  # online, in the patient's zone; the rest at the front desk

CLINIC_OPENS, CLINIC_CLOSES = 8, 18  # local hours; the last slot starts 30 minutes before closing
SLOT_MINUTES = 15

# Relative activity by local hour of day.
PATIENT_ACTIVITY = (
    0.1,
    0.1,
    0.1,
    0.1,
    0.1,
    0.2,
    0.5,
    1.0,
    3.0,
    3.0,
    3.0,
    3.0,
    2.5,
    2.5,
    3.0,
    3.0,
    3.0,
    3.0,
    2.0,
    2.0,
    2.0,
    1.0,
    0.5,
    0.2,
)
STAFF_ACTIVITY = (
    0.05,
    0.05,
    0.05,
    0.05,
    0.05,
    0.05,
    0.05,
    0.5,
    3.0,
    3.0,
    3.0,
    3.0,
    3.0,
    3.0,
    3.0,
    3.0,
    3.0,
    3.0,
    1.0,
    0.3,
    0.05,
    0.05,
    0.05,
    0.05,
)

# A pending event: (second, sequence, type, org_id, provider_id, patient_id, data).
Pending = tuple[int, int, str, str, str | None, str, dict[str, Any]]


def stable_uuid(namespace: bytes, name: str) -> str:
    """``str(uuid.uuid5(UUID(bytes=namespace), name))``, without building UUID objects (a third
    of the time at benchmark sizes)."""
    digest = hashlib.sha1(namespace + name.encode(), usedforsecurity=False).hexdigest()
    variant = "89ab"[int(digest[16], 16) & 3]
    return f"{digest[:8]}-{digest[8:12]}-5{digest[13:16]}-{variant}{digest[17:20]}-{digest[20:32]}"


@lru_cache(maxsize=64)
def _zone(name: str) -> ZoneInfo:
    return ZoneInfo(name)


class _ActivityClock:
    """Draws an event second from hourly buckets weighted by local activity in one zone."""

    __slots__ = ("_cumulative", "_total")

    def __init__(self, day_start: datetime, timezone: str, activity: Sequence[float]) -> None:
        zone = _zone(timezone)
        self._cumulative: list[float] = []
        total = 0.0
        for hour in range(DAY_SECONDS // 3600):
            middle = (day_start + timedelta(seconds=hour * 3600 + 1800)).astimezone(zone)
            total += activity[middle.hour]
            self._cumulative.append(total)
        self._total = total

    def draw(self, rng: random.Random) -> int:
        bucket = bisect(self._cumulative, rng.random() * self._total)
        second = bucket * 3600 + below(rng, 3600)
        if second < FIRST_ACTIVITY_SECOND:
            second = FIRST_ACTIVITY_SECOND + below(rng, 3600 - FIRST_ACTIVITY_SECOND)
        return second


class _ClinicCalendar:
    """An org's appointment slots: 15-minute starts inside opening hours, on weekdays."""

    def __init__(self, day_start: datetime, timezone: str) -> None:
        self._day_start = day_start
        self._zone = _zone(timezone)
        self._slots: dict[date, list[tuple[int, str]]] = {}

    def local_date(self, second: int) -> date:
        return (self._day_start + timedelta(seconds=second)).astimezone(self._zone).date()

    def slots(self, day: date) -> list[tuple[int, str]]:
        """(second after day start, ISO time with the local offset) for each slot of ``day``."""
        slots = self._slots.get(day)
        if slots is None:
            slots = []
            last_start = CLINIC_CLOSES * 60 - 30
            for minute in range(CLINIC_OPENS * 60, last_start + 1, SLOT_MINUTES):
                local = datetime(
                    day.year, day.month, day.day, minute // 60, minute % 60, tzinfo=self._zone
                )
                slots.append((int((local - self._day_start).total_seconds()), local.isoformat()))
            self._slots[day] = slots
        return slots

    def slot_after(self, rng: random.Random, second: int) -> tuple[int, str]:
        """A slot on a weekday one to three local days after ``second``."""
        today = self.local_date(second)
        days = [today + timedelta(days=k) for k in (1, 2, 3)]
        weekdays = [day for day in days if day.weekday() < 5]  # any three days hold one
        slots = self.slots(weekdays[below(rng, len(weekdays))])
        return slots[below(rng, len(slots))]

    def slots_missed_today(self) -> list[tuple[int, str]]:
        """Slots whose no-show can be reported during the simulated day (20 min to 2 h later)."""
        first, last = self.local_date(0) - timedelta(days=1), self.local_date(DAY_SECONDS)
        days = [first + timedelta(days=k) for k in range((last - first).days + 1)]
        candidates = [
            slot
            for day in days
            for slot in self.slots(day)
            if slot[0] + 20 * 60 >= FIRST_ACTIVITY_SECOND and slot[0] + 120 * 60 < DAY_SECONDS
        ]
        weekday = [slot for slot in candidates if self.local_date(slot[0]).weekday() < 5]
        return weekday or candidates


class DayTimeline:
    """Builds the events of one simulated day for a population."""

    def __init__(
        self,
        rng: random.Random,
        *,
        day_start: datetime,
        namespace: uuid.UUID,
        orgs: Sequence[Org],
        providers: Sequence[Provider],
    ) -> None:
        self._rng = rng
        self._day_start = day_start
        self._namespace = namespace.bytes
        self._orgs = {org.org_id: org for org in orgs}
        self._providers = {provider.provider_id: provider for provider in providers}
        self._providers_by_org = {
            org.org_id: [p for p in providers if p.org_id == org.org_id] for org in orgs
        }
        self._calendars = {org.org_id: _ClinicCalendar(day_start, org.timezone) for org in orgs}
        self._missed = {
            org_id: calendar.slots_missed_today() for org_id, calendar in self._calendars.items()
        }
        self._staff_clocks = {
            org.org_id: _ActivityClock(day_start, org.timezone, STAFF_ACTIVITY) for org in orgs
        }
        self._patient_clocks: dict[str, _ActivityClock] = {}
        self._pending: list[Pending] = []
        self._ids = 0

    def events(self, patients: Sequence[SyntheticPatient]) -> list[dict[str, Any]]:
        """Every patient's upsert, then the day's activity, sorted by time, with stable ids."""
        spread = max(len(patients), 1)
        for index, patient in enumerate(patients):
            second = index * UPSERT_SPREAD_SECONDS // spread
            self._add(second, "patient.upserted", patient, patient.provider_id, patient.profile())
        rng = self._rng
        for patient in patients:
            if rng.random() < BOOKED_SHARE:
                self._appointment(patient)
            if rng.random() < NO_SHOW_SHARE:
                self._no_show(patient)
            if rng.random() < LAB_RESULT_SHARE:
                self._lab_result(patient)
            refill_share = (
                REFILL_SHARE_WITH_CONDITIONS
                if patient.attributes["conditions"]
                else REFILL_SHARE_WITHOUT
            )
            if rng.random() < refill_share:
                self._refill(patient)
            if rng.random() < COMM_REQUEST_SHARE:
                self._comm_request(patient)
        self._pending.sort(key=lambda pending: (pending[0], pending[1]))
        return [self._materialise(index, pending) for index, pending in enumerate(self._pending)]

    def _add(
        self,
        second: int,
        kind: str,
        patient: SyntheticPatient,
        provider_id: str | None,
        data: dict[str, Any],
    ) -> None:
        self._pending.append(
            (
                second,
                len(self._pending),
                kind,
                patient.org_id,
                provider_id,
                patient.patient_id,
                data,
            )
        )

    def _materialise(self, index: int, pending: Pending) -> dict[str, Any]:
        second, _, kind, org_id, provider_id, patient_id, data = pending
        return {
            "event_id": stable_uuid(self._namespace, f"event/{index}"),
            "type": kind,
            "occurred_at": (self._day_start + timedelta(seconds=second)).isoformat(),
            "org_id": org_id,
            "provider_id": provider_id,
            "patient_id": patient_id,
            "data": data,
        }

    def _new_id(self, prefix: str) -> str:
        self._ids += 1
        digest = hashlib.sha1(
            self._namespace + f"{prefix}/{self._ids}".encode(), usedforsecurity=False
        ).hexdigest()
        return f"{prefix}_{digest[:24]}"

    def _patient_clock(self, timezone: str) -> _ActivityClock:
        clock = self._patient_clocks.get(timezone)
        if clock is None:
            clock = self._patient_clocks[timezone] = _ActivityClock(
                self._day_start, timezone, PATIENT_ACTIVITY
            )
        return clock

    def _seeing_provider(self, patient: SyntheticPatient) -> Provider:
        # Mostly the patient's own doctor; sometimes whoever has a free slot.
        if self._rng.random() < 0.8:
            return self._providers[patient.provider_id]
        colleagues = self._providers_by_org[patient.org_id]
        return colleagues[below(self._rng, len(colleagues))]

    def _location(self, org_id: str) -> str:
        locations = self._orgs[org_id].locations
        return locations[below(self._rng, len(locations))]

    def _appointment(self, patient: SyntheticPatient) -> None:
        rng = self._rng
        by_patient = rng.random() < BOOKED_BY_PATIENT_SHARE
        clock = (
            self._patient_clock(patient.timezone)
            if by_patient
            else self._staff_clocks[patient.org_id]
        )
        booked_at = clock.draw(rng)
        calendar = self._calendars[patient.org_id]
        starts, starts_iso = calendar.slot_after(rng, booked_at)
        provider = self._seeing_provider(patient)
        appointment: dict[str, Any] = {
            "appointment_id": self._new_id("apt"),
            "starts_at": starts_iso,
            "provider_display_name": provider.display_name,
            "location_name": self._location(patient.org_id),
        }
        if rng.random() < 0.7:
            appointment["reason"] = APPOINTMENT_REASONS[below(rng, len(APPOINTMENT_REASONS))]
        self._add(booked_at, "appointment.booked", patient, provider.provider_id, appointment)

        change = rng.random()
        if change >= RESCHEDULED_SHARE_OF_BOOKED + CANCELLED_SHARE_OF_BOOKED:
            return
        room = DAY_SECONDS - booked_at - FIRST_ACTIVITY_SECOND
        if room <= 0:
            return  # booked in the day's last minutes: no time left to change it
        changed_at = booked_at + FIRST_ACTIVITY_SECOND + below(rng, room)
        if changed_at >= starts - 3600:
            return
        if change < RESCHEDULED_SHARE_OF_BOOKED:
            new_starts, new_iso = calendar.slot_after(rng, changed_at)
            if new_starts == starts:
                new_starts, new_iso = calendar.slot_after(rng, changed_at)
            if new_starts == starts:
                return
            self._add(
                changed_at,
                "appointment.rescheduled",
                patient,
                provider.provider_id,
                {**appointment, "starts_at": new_iso},
            )
        else:
            cancelled = {
                key: appointment[key]
                for key in ("appointment_id", "starts_at", "provider_display_name", "location_name")
            }
            self._add(changed_at, "appointment.cancelled", patient, provider.provider_id, cancelled)

    def _no_show(self, patient: SyntheticPatient) -> None:
        rng = self._rng
        missed = self._missed[patient.org_id]
        if not missed:
            return
        starts, starts_iso = missed[below(rng, len(missed))]
        reported_at = min(starts + (20 + below(rng, 100)) * 60 + below(rng, 60), DAY_SECONDS - 1)
        provider = self._seeing_provider(patient)
        self._add(
            reported_at,
            "appointment.no_show",
            patient,
            provider.provider_id,
            {
                "appointment_id": self._new_id("apt"),
                "starts_at": starts_iso,
                "provider_display_name": provider.display_name,
                "location_name": self._location(patient.org_id),
            },
        )

    def _lab_result(self, patient: SyntheticPatient) -> None:
        rng = self._rng
        tests = _pick_for_conditions(rng, patient, LAB_TESTS_BY_CONDITION, LAB_TESTS)
        self._add(
            self._staff_clocks[patient.org_id].draw(rng),
            "lab.result_ready",
            patient,
            patient.provider_id,
            {"result_id": self._new_id("lab"), "test_name": tests},
        )

    def _refill(self, patient: SyntheticPatient) -> None:
        rng = self._rng
        second = self._staff_clocks[patient.org_id].draw(rng)
        local_day = (
            (self._day_start + timedelta(seconds=second)).astimezone(_zone(patient.timezone)).date()
        )
        due = local_day + timedelta(days=2 + below(rng, 6))
        medication = _pick_for_conditions(rng, patient, MEDICATIONS_BY_CONDITION, MEDICATIONS)
        self._add(
            second,
            "rx.refill_due",
            patient,
            patient.provider_id,
            {
                "prescription_id": self._new_id("rx"),
                "due_date": due.isoformat(),
                "medication": medication,
            },
        )

    def _comm_request(self, patient: SyntheticPatient) -> None:
        rng = self._rng
        second = self._staff_clocks[patient.org_id].draw(rng)
        if rng.random() < URGENT_SHARE_OF_REQUESTS:
            # A clinician's urgent message comes from the patient's doctor...
            self._add(
                second,
                "comm.requested",
                patient,
                patient.provider_id,
                {"purpose": Purpose.URGENT.value, "context": {}},
            )
        else:
            # ...an education campaign from the organisation itself.
            self._add(
                second,
                "comm.requested",
                patient,
                None,
                {"purpose": Purpose.CAMPAIGN_EDUCATION.value, "context": {}},
            )


def _pick_for_conditions(
    rng: random.Random,
    patient: SyntheticPatient,
    by_condition: dict[str, tuple[str, ...]],
    general: tuple[str, ...],
) -> str:
    """Something that fits one of the patient's conditions when there is one, else anything."""
    fitting = [name for name in patient.attributes["conditions"] if name in by_condition]
    if fitting and rng.random() < 0.85:
        options = by_condition[fitting[below(rng, len(fitting))]]
    else:
        options = general
    return options[below(rng, len(options))]


def utc_day_start(day_start: datetime) -> datetime:
    """The day start in UTC; a naive datetime is refused rather than guessed."""
    if day_start.tzinfo is None or day_start.utcoffset() is None:
        raise ValueError("day_start must be timezone-aware (e.g. datetime(..., tzinfo=UTC))")
    return day_start.astimezone(UTC)
