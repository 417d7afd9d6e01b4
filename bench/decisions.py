"""Benchmark: resolve-and-schedule decisions per second of the pure preferences core, one core.

Builds its own varied inputs (zones with and without DST, every purpose, consent states from full
to opted out, short histories, requests around the 2026 DST changes), then runs the decision loop
for a few seconds. It prints the figure for ``decide`` alone (preferences resolved beforehand, as
a caller caching them per patient would) and for ``resolve_effective_preferences`` + ``decide``;
the last line is the latter, the issue's "resolve-and-schedule" figure.

Usage: python bench/decisions.py [seconds-per-phase]
"""

from __future__ import annotations

import os
import random
import sys
import time as clock
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, time, timedelta

from outreach.domain import Channel, Purpose
from outreach.preferences import (
    GLOBAL_DEFAULTS,
    CommRequest,
    ConsentState,
    Decision,
    EffectivePreferences,
    PreferenceLayer,
    Scheduled,
    SentRecord,
    decide,
    resolve_effective_preferences,
)

ZONES = (
    "America/New_York",
    "America/Phoenix",
    "America/Chicago",
    "America/Los_Angeles",
    "Europe/Bucharest",
    "Europe/London",
    "Asia/Kolkata",
    "Australia/Lord_Howe",
    "America/Sao_Paulo",
)
PHONES = (
    "+13052345678",  # Florida
    "+17862345678",  # Florida
    "+12125550199",
    "+16022345678",
    "+40721234567",
    "+919812345678",
    "+61412345678",
    "+447911123456",
)
LANGUAGES = ("en", "es-MX", "ro", "hi-IN", "pt-BR")
TRANSITIONS = (
    datetime(2026, 3, 8, 7, tzinfo=UTC),
    datetime(2026, 3, 29, 1, tzinfo=UTC),
    datetime(2026, 4, 4, 15, tzinfo=UTC),
    datetime(2026, 10, 3, 15, 30, tzinfo=UTC),
    datetime(2026, 10, 25, 1, tzinfo=UTC),
    datetime(2026, 11, 1, 6, tzinfo=UTC),
)


@dataclass(frozen=True, slots=True)
class Case:
    request: CommRequest
    org: PreferenceLayer
    provider: PreferenceLayer | None
    patient: PreferenceLayer
    prefs: EffectivePreferences
    consent: ConsentState
    history: tuple[SentRecord, ...]
    now: datetime
    failed: frozenset[Channel]


def _maybe(rng: random.Random, p: float, value: object) -> object:
    return value if rng.random() < p else None


def build_cases(count: int, seed: int = 20260308) -> list[Case]:
    rng = random.Random(seed)
    orgs = [
        PreferenceLayer(
            timezone=rng.choice(ZONES),
            marketing_max_per_day=rng.choice([None, 1, 2]),
            marketing_max_per_week=rng.choice([None, 2, 4]),
            healthcare_reminder_profile=rng.random() < 0.5,
            avoid_work_hours=rng.random() < 0.3,
        )
        for _ in range(8)
    ]
    providers = [
        PreferenceLayer(language=rng.choice(LANGUAGES), quiet_hours_start=time(20))
        for _ in range(20)
    ]
    cases = []
    for _ in range(count):
        org = rng.choice(orgs)
        provider = rng.choice(providers) if rng.random() < 0.5 else None
        patient = PreferenceLayer(
            timezone=_maybe(rng, 0.8, rng.choice(ZONES)),  # type: ignore[arg-type]
            language=_maybe(rng, 0.5, rng.choice(LANGUAGES)),  # type: ignore[arg-type]
            quiet_hours_start=_maybe(rng, 0.3, time(rng.randint(19, 23))),  # type: ignore[arg-type]
            quiet_hours_end=_maybe(rng, 0.3, time(rng.randint(7, 10), 30)),  # type: ignore[arg-type]
            preferred_channel=_maybe(rng, 0.4, rng.choice(list(Channel))),  # type: ignore[arg-type]
            email=_maybe(rng, 0.8, f"patient{rng.randint(1, 10**6)}@example.org"),  # type: ignore[arg-type]
            phone=_maybe(rng, 0.9, rng.choice(PHONES)),  # type: ignore[arg-type]
            best_hour=_maybe(rng, 0.4, rng.randint(7, 21)),  # type: ignore[arg-type]
        )
        prefs = resolve_effective_preferences(GLOBAL_DEFAULTS, org, provider, patient)
        now = rng.choice(TRANSITIONS) + timedelta(seconds=rng.randint(-4 * 86_400, 4 * 86_400))
        if rng.random() < 0.5:
            now = datetime(2026, 1, 1, tzinfo=UTC) + timedelta(seconds=rng.randint(0, 364 * 86_400))
        granted_at = now - timedelta(days=rng.randint(0, 800))
        consent = ConsentState(
            contact_granted=rng.random() < 0.9,
            granted_at=granted_at,
            marketing_opt_in=frozenset(c for c in Channel if rng.random() < 0.5),
            opted_out=frozenset(c for c in Channel if rng.random() < 0.1),
            whatsapp_opt_in=rng.random() < 0.5,
        )
        history = tuple(
            SentRecord(
                rng.choice(list(Channel)),
                rng.choice([Purpose.CAMPAIGN_EDUCATION, Purpose.APPT_REMINDER, Purpose.LAB_READY]),
                now - timedelta(hours=rng.randint(1, 200)),
            )
            for _ in range(rng.randint(0, 6))
        )
        purpose = rng.choice(list(Purpose))
        requested_at = now + timedelta(seconds=rng.choice([0, 0, rng.randint(0, 2 * 86_400)]))
        deadline = (
            requested_at + timedelta(hours=rng.randint(1, 72))
            if purpose in (Purpose.APPT_REMINDER, Purpose.APPT_CONFIRM) or rng.random() < 0.2
            else None
        )
        failed = frozenset({Channel.SMS}) if rng.random() < 0.05 else frozenset()
        cases.append(
            Case(
                CommRequest(purpose, requested_at, deadline),
                org,
                provider,
                patient,
                prefs,
                consent,
                history,
                now,
                failed,
            )  # fmt: skip
        )
    return cases


def run_for(seconds: float, cases: list[Case], step: Callable[[Case], object]) -> float:
    """Decisions per second of ``step`` over ``cases``, cycled for about ``seconds``."""
    done = 0
    started = clock.perf_counter()
    deadline = started + seconds
    while True:
        for case in cases:
            step(case)
        done += len(cases)
        now = clock.perf_counter()
        if now >= deadline:
            return done / (now - started)


def decide_only(case: Case) -> Decision:
    return decide(case.request, case.prefs, case.consent, case.history, case.now, case.failed)


def resolve_and_decide(case: Case) -> Decision:
    prefs = resolve_effective_preferences(GLOBAL_DEFAULTS, case.org, case.provider, case.patient)
    return decide(case.request, prefs, case.consent, case.history, case.now, case.failed)


def main() -> None:
    seconds = float(sys.argv[1]) if len(sys.argv) > 1 else 3.0
    if hasattr(os, "sched_setaffinity"):
        os.sched_setaffinity(0, {min(os.sched_getaffinity(0))})  # one core
    cases = build_cases(5_000)
    outcomes = Counter(
        d.channel.value if isinstance(d, Scheduled) else d.reason.value
        for d in map(decide_only, cases)
    )
    print("outcome mix:", ", ".join(f"{k} {v}" for k, v in outcomes.most_common()))
    run_for(0.5, cases, decide_only)  # warm the caches (zones, plans, transitions)
    only = run_for(seconds, cases, decide_only)
    print(f"decide only (preferences resolved beforehand): {only:,.0f} decisions/s")
    both = run_for(seconds, cases, resolve_and_decide)
    print(f"resolve + decide: {both:,.0f} decisions/s")
    print(f"decisions: {both:.0f} decisions/s")


if __name__ == "__main__":
    main()
