"""Benchmark: resolve-and-schedule decisions per second, as the pipeline pays for them.

Every patient is a new one, decided once: their own phone number and e-mail address (so the
address caches never answer for them), their own zone, quiet and work hours, channels, consent
and history, and a request at their own moment of the year (DST changes included). That is what
a worker meets on ``core.events``; cycling a few thousand cases over a handful of numbers, as this
bench once did, measured warm caches instead (about twice as fast).

Per patient the timed work is what the orchestrator does after loading the rows: build the
patient's preference layer, resolve the hierarchy, decide. Shared inputs (organisation and
provider layers) are built beforehand, as the pipeline loads them once per batch. A warm-up
round on other patients first fills what a running worker has filled (zone transitions, week
plans); its first 5,000 patients are printed as the cold-start figure. Time is wall clock
(``perf_counter``), single thread; the headline is the median of several rounds of fresh
patients.

Usage: python bench/decisions.py [patients-per-round] [rounds]
"""

from __future__ import annotations

import random
import statistics
import sys
import time as clock
import zoneinfo
from collections import Counter
from dataclasses import dataclass
from datetime import UTC, datetime, time, timedelta
from typing import Any

from outreach.domain import BUILTIN_CHANNELS, Channel, Purpose
from outreach.preferences import (
    GLOBAL_DEFAULTS,
    CommRequest,
    ConsentState,
    Decision,
    PreferenceLayer,
    Scheduled,
    SentRecord,
    decide,
    resolve_effective_preferences,
)

# (share of patients, phone prefix, random digits after it, zones people there live in)
COUNTRIES = (
    (
        0.62,
        "+1{area}",
        7,
        (
            "America/New_York",
            "America/Chicago",
            "America/Denver",
            "America/Phoenix",
            "America/Los_Angeles",
            "America/Anchorage",
            "Pacific/Honolulu",
            "America/Detroit",
            "America/Indiana/Indianapolis",
            "America/Kentucky/Louisville",
            "America/Boise",
            "America/Puerto_Rico",
        ),
    ),
    (0.08, "+5255", 8, ("America/Mexico_City", "America/Monterrey", "America/Tijuana")),
    (0.06, "+55119", 8, ("America/Sao_Paulo", "America/Manaus", "America/Fortaleza")),
    (0.05, "+4479", 8, ("Europe/London",)),
    (0.04, "+4072", 7, ("Europe/Bucharest",)),
    (0.04, "+336", 8, ("Europe/Paris",)),
    (0.04, "+346", 8, ("Europe/Madrid", "Atlantic/Canary")),
    (0.04, "+9198", 8, ("Asia/Kolkata",)),
    (0.03, "+614", 8, ("Australia/Sydney", "Australia/Perth", "Australia/Lord_Howe")),
)
# Area codes across the US, Florida's among them (its stricter legal floor applies there).
US_AREA_CODES = ("212", "305", "786", "407", "415", "602", "312", "713", "617", "404", "206")
# Any zone at all, for the patients whose stored zone says they live somewhere unexpected.
ALL_ZONES = tuple(
    sorted(
        z
        for z in zoneinfo.available_timezones()
        if z.split("/")[0]
        in {"Africa", "America", "Asia", "Atlantic", "Australia", "Europe", "Indian", "Pacific"}
    )
)
# Most working patients keep one of a few shapes of week; the rest their own.
WEEKDAYS, THREE_DAYS = frozenset(range(5)), frozenset({0, 2, 4})
SHIFTS = (
    (time(9), time(17), WEEKDAYS),
    (time(8), time(16, 30), WEEKDAYS),
    (time(7), time(15, 30), WEEKDAYS),
    (time(7), time(19), THREE_DAYS),
    (time(19), time(7), THREE_DAYS),
    (time(22), time(6), WEEKDAYS),
)
LANGUAGES = ("en", "en-US", "es", "es-MX", "pt-BR", "fr", "fr-CA", "ro", "hi-IN", "de")
PURPOSE_WEIGHTS = {
    Purpose.APPT_REMINDER: 40,
    Purpose.APPT_CONFIRM: 25,
    Purpose.LAB_READY: 9,
    Purpose.RX_REFILL: 9,
    Purpose.NO_SHOW: 5,
    Purpose.CAMPAIGN_EDUCATION: 9,
    Purpose.URGENT: 3,
}
YEAR_START = datetime(2026, 1, 1, tzinfo=UTC)
DST_CHANGES = (
    datetime(2026, 3, 8, 7, tzinfo=UTC),
    datetime(2026, 3, 29, 1, tzinfo=UTC),
    datetime(2026, 4, 5, 16, tzinfo=UTC),
    datetime(2026, 10, 4, 16, tzinfo=UTC),
    datetime(2026, 10, 25, 1, tzinfo=UTC),
    datetime(2026, 11, 1, 6, tzinfo=UTC),
)


@dataclass(frozen=True, slots=True)
class Patient:
    """One patient's stored values, as the orchestrator loads them, and their request."""

    layer_values: dict[str, Any]
    org: PreferenceLayer
    provider: PreferenceLayer | None
    consent: ConsentState
    history: tuple[SentRecord, ...]
    request: CommRequest
    now: datetime
    failed: frozenset[Channel]


def _maybe(rng: random.Random, p: float, value: Any) -> Any:
    return value if rng.random() < p else None


def _local_time(rng: random.Random, hours: tuple[int, int]) -> time:
    return time(rng.randint(*hours), rng.choice((0, 15, 30, 45)))


class PatientFactory:
    """Distinct patients: a number, an address and a moment nobody else in the run has."""

    def __init__(self, seed: int) -> None:
        self.rng = random.Random(seed)
        self.seed = seed
        self.numbers: set[str] = set()
        self.count = 0
        rng = self.rng
        self.orgs = [
            PreferenceLayer(
                timezone=rng.choice(COUNTRIES[0][3] + ALL_ZONES[:40]),
                language=rng.choice(("en", "es", "fr", "pt-BR")),
                marketing_max_per_day=rng.choice([None, 1, 2]),
                marketing_max_per_week=rng.choice([None, 2, 4]),
                healthcare_reminder_profile=rng.random() < 0.5,
                avoid_work_hours=rng.random() < 0.3,
            )
            for _ in range(50)
        ]
        self.providers = [
            PreferenceLayer(
                language=_maybe(rng, 0.5, rng.choice(LANGUAGES)),
                quiet_hours_start=_maybe(rng, 0.5, _local_time(rng, (19, 22))),
                quiet_hours_end=_maybe(rng, 0.5, _local_time(rng, (6, 9))),
            )
            for _ in range(200)
        ]
        self.weights = [w for w, *_ in COUNTRIES]

    def _phone(self) -> tuple[str, tuple[str, ...]]:
        rng = self.rng
        _, prefix, digits, zones = rng.choices(COUNTRIES, self.weights)[0]
        while True:
            head = prefix.format(area=rng.choice(US_AREA_CODES))
            if head.startswith("+1"):  # exchange 2xx-9xx, never the fictional 555
                exchange = rng.randint(200, 999)
                if exchange == 555:
                    continue
                number = f"{head}{exchange}{rng.randint(0, 9999):04d}"
            else:
                number = f"{head}{rng.randint(0, 10**digits - 1):0{digits}d}"
            if number not in self.numbers:
                self.numbers.add(number)
                return number, zones

    def patient(self) -> Patient:
        rng = self.rng
        self.count += 1
        phone, zones = self._phone()
        if rng.random() < 0.02:
            phone = phone[:-4]  # mistyped: too short, the channel is unreachable
        zone = rng.choice(zones) if rng.random() < 0.9 else rng.choice(ALL_ZONES)
        works = rng.random() < 0.25
        if works and rng.random() < 0.8:
            work_start, work_end, work_days = rng.choice(SHIFTS)
        elif works:
            work_start, work_end = _local_time(rng, (6, 10)), _local_time(rng, (15, 19))
            work_days = frozenset(rng.sample(range(7), rng.randint(3, 6)))
        layer_values: dict[str, Any] = {
            "timezone": _maybe(rng, 0.8, zone),
            "language": _maybe(rng, 0.6, rng.choice(LANGUAGES)),
            "quiet_hours_start": _maybe(rng, 0.3, _local_time(rng, (19, 23))),
            "quiet_hours_end": _maybe(rng, 0.3, _local_time(rng, (6, 10))),
            "avoid_work_hours": works or None,
            "work_hours_start": work_start if works else None,
            "work_hours_end": work_end if works else None,
            "work_days": work_days if works else None,
            "allowed_channels": _maybe(
                rng, 0.2, frozenset(rng.sample(list(BUILTIN_CHANNELS), rng.randint(1, 3)))
            ),
            "preferred_channel": _maybe(rng, 0.4, rng.choice(list(BUILTIN_CHANNELS))),
            "email": _maybe(rng, 0.8, f"p{self.seed}.{self.count}@{rng.choice(DOMAINS)}"),
            "phone": _maybe(rng, 0.9, phone),
            "whatsapp": _maybe(rng, 0.1, self._phone()[0]),
            "best_hour": _maybe(rng, 0.4, rng.randint(7, 21)),
        }
        now = rng.choice(DST_CHANGES) + timedelta(seconds=rng.randint(-4 * 86_400, 4 * 86_400))
        if rng.random() < 0.6:
            now = YEAR_START + timedelta(seconds=rng.randint(0, 364 * 86_400))
        consent = ConsentState(
            contact_granted=rng.random() < 0.9,
            granted_at=now - timedelta(days=rng.randint(0, 800)),
            marketing_opt_in=frozenset(c for c in BUILTIN_CHANNELS if rng.random() < 0.5),
            opted_out=frozenset(c for c in BUILTIN_CHANNELS if rng.random() < 0.05),
            whatsapp_opt_in=rng.random() < 0.5,
        )
        history = tuple(
            SentRecord(
                rng.choice(list(BUILTIN_CHANNELS)),
                rng.choice([Purpose.CAMPAIGN_EDUCATION, Purpose.APPT_REMINDER, Purpose.LAB_READY]),
                now - timedelta(hours=rng.randint(1, 200)),
            )
            for _ in range(rng.randint(0, 6))
        )
        purpose = rng.choices(list(PURPOSE_WEIGHTS), list(PURPOSE_WEIGHTS.values()))[0]
        requested_at = now + timedelta(seconds=rng.choice([0, 0, rng.randint(0, 2 * 86_400)]))
        deadline = (
            requested_at + timedelta(hours=rng.randint(1, 72))
            if purpose in (Purpose.APPT_REMINDER, Purpose.APPT_CONFIRM) or rng.random() < 0.2
            else None
        )
        return Patient(
            layer_values,
            rng.choice(self.orgs),
            rng.choice(self.providers) if rng.random() < 0.6 else None,
            consent,
            history,
            CommRequest(purpose, requested_at, deadline),
            now,
            frozenset({Channel.SMS}) if rng.random() < 0.03 else frozenset(),
        )


DOMAINS = ("example.org", "mail.example.com", "Clinic.Example.NET", "correo.example.mx")


def decide_patient(patient: Patient) -> Decision:
    """What the orchestrator does per patient once the rows are loaded."""
    layer = PreferenceLayer(**patient.layer_values)
    prefs = resolve_effective_preferences(GLOBAL_DEFAULTS, patient.org, patient.provider, layer)
    return decide(
        patient.request, prefs, patient.consent, patient.history, patient.now, patient.failed
    )


def timed_round(patients: list[Patient]) -> tuple[float, list[Decision]]:
    """Decisions per second, wall clock, each patient decided once."""
    started = clock.perf_counter()
    decisions = [decide_patient(p) for p in patients]
    return len(patients) / (clock.perf_counter() - started), decisions


def stage_costs(patients: list[Patient]) -> dict[str, float]:
    """Microseconds per patient in each step, on patients of their own (timers add a little)."""
    spent = Counter[str]()
    for p in patients:
        t0 = clock.perf_counter()
        layer = PreferenceLayer(**p.layer_values)
        t1 = clock.perf_counter()
        prefs = resolve_effective_preferences(GLOBAL_DEFAULTS, p.org, p.provider, layer)
        t2 = clock.perf_counter()
        decide(p.request, prefs, p.consent, p.history, p.now, p.failed)
        t3 = clock.perf_counter()
        spent["layer"] += t1 - t0
        spent["resolve"] += t2 - t1
        spent["decide"] += t3 - t2
    return {stage: seconds * 1e6 / len(patients) for stage, seconds in spent.items()}


def main() -> None:
    per_round = int(sys.argv[1]) if len(sys.argv) > 1 else 20_000
    rounds = int(sys.argv[2]) if len(sys.argv) > 2 else 5
    factory = PatientFactory(seed=20260308)

    first = [factory.patient() for _ in range(5_000)]
    cold, _ = timed_round(first)
    print(f"cold start (first {len(first):,} patients of a fresh process): {cold:,.0f}/s")
    timed_round([factory.patient() for _ in range(per_round)])  # the rest of the warm-up

    rates, outcomes = [], Counter[str]()
    for _ in range(rounds):
        patients = [factory.patient() for _ in range(per_round)]
        rate, decisions = timed_round(patients)
        rates.append(rate)
        outcomes.update(
            d.channel.value if isinstance(d, Scheduled) else d.reason.value for d in decisions
        )
    total = sum(outcomes.values())
    print(
        "outcome mix: "
        + ", ".join(f"{k} {100 * v / total:.1f}%" for k, v in outcomes.most_common())
    )
    costs = stage_costs([factory.patient() for _ in range(per_round // 4)])
    print(
        "per patient: "
        + ", ".join(f"{stage} {us:.1f} us" for stage, us in costs.items())
        + f" (resolve + decide alone: {1e6 / (costs['resolve'] + costs['decide']):,.0f}/s)"
    )
    print(
        f"{rounds} rounds of {per_round:,} distinct patients, each decided once: "
        + ", ".join(f"{r:,.0f}" for r in rates)
        + " decisions/s"
    )
    print(f"decisions: {statistics.median(rates):.0f} decisions/s")


if __name__ == "__main__":
    main()
