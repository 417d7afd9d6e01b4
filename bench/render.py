"""Benchmark: messages built per second at send time, as the channel worker pays for them.

Each message is a new patient's job: template chosen among the shipped ones (84: seven purposes,
three channels, four languages) with language fallback, the context built from the job's facts
(signed portal link included), rendered in the patient's zone and locale with the channel's PHI
policy, and for WhatsApp turned into a template or free-form payload. That is
``MessageBuilder.build`` as the send worker calls it, minus the database. The mix of purposes,
channels and languages (some without a template of their own) follows what a clinic sends.
Rendering one cached SMS template over and over, as this bench once did, measured a fraction of
that work.

A warm-up on other jobs first compiles the templates, as a running worker has; its first 1,000
are printed as the cold-start figure. Time is wall clock (``perf_counter``), single thread; the
headline is the median of several rounds of fresh jobs.

Usage: python bench/render.py [messages-per-round] [rounds]
"""

from __future__ import annotations

import random
import statistics
import sys
import time
from collections import Counter
from datetime import UTC, datetime, timedelta
from typing import Any

from outreach.channels.message_builder import (
    MessageBuilder,
    MessageBuildError,
    PortalSettings,
    TemplateCatalog,
)
from outreach.domain import Channel, ClinicContact, JobRecord, JobStatus, Purpose
from outreach.preferences import (
    GLOBAL_DEFAULTS,
    ConsentState,
    PatientDecisionInputs,
    PreferenceLayer,
    resolve_effective_preferences,
)
from outreach.templating.seeds import load_seed_templates

NOW = datetime(2026, 3, 2, 15, 0, tzinfo=UTC)
PURPOSES = {
    Purpose.APPT_REMINDER: 40,
    Purpose.APPT_CONFIRM: 25,
    Purpose.LAB_READY: 9,
    Purpose.RX_REFILL: 9,
    Purpose.NO_SHOW: 5,
    Purpose.CAMPAIGN_EDUCATION: 9,
    Purpose.URGENT: 3,
}
CHANNELS = {Channel.SMS: 55, Channel.EMAIL: 30, Channel.WHATSAPP: 15}
# Patients' languages: regional variants use their language's template, German falls back to
# the clinic's language or English; None leaves it to the patient's preferences.
LANGUAGES = {
    "en": 35,
    "en-US": 10,
    "es": 12,
    "es-MX": 10,
    "pt-BR": 8,
    "fr": 6,
    "fr-CA": 4,
    "de": 3,
    None: 12,
}
ZONES = (
    "America/New_York",
    "America/Chicago",
    "America/Denver",
    "America/Los_Angeles",
    "America/Mexico_City",
    "America/Sao_Paulo",
    "America/Toronto",
    "Europe/Paris",
    "Europe/Madrid",
    "Europe/London",
)
FIRST_NAMES = ("Ana", "Luis", "María", "Sofía", "Jorge", "Lucía", "Chloé", "João", "Ngozi", "Li")
TESTS = ("Lipid panel", "HbA1c", "CBC", "Thyroid panel", "Vitamin D")
MEDICATIONS = ("Metformin 500 mg", "Lisinopril 10 mg", "Atorvastatin 20 mg")


def _weighted(rng: random.Random, weights: dict[Any, int]) -> Any:
    return rng.choices(list(weights), list(weights.values()))[0]


class JobFactory:
    """New patients' jobs: their own name, number, zone, appointment and facts."""

    def __init__(self, seed: int) -> None:
        self.rng = random.Random(seed)
        self.count = 0
        self.orgs = [
            ClinicContact(
                org_id=f"org-{n}",
                name=f"{self.rng.choice(('Sunrise', 'Lakeside', 'Clínica del Sol'))} {n}",
                phone=f"+1415555{n:04d}",
                booking_url=f"https://book.clinic{n}.example/new" if n % 3 else None,
                language=self.rng.choice(("en", "es", "fr", "pt")),
            )
            for n in range(40)
        ]

    def job(self) -> tuple[JobRecord, PatientDecisionInputs, ClinicContact, datetime | None]:
        rng = self.rng
        self.count += 1
        n = self.count
        org = rng.choice(self.orgs)
        purpose = _weighted(rng, PURPOSES)
        channel = _weighted(rng, CHANNELS)
        language = _weighted(rng, LANGUAGES)
        patient_id = f"p-{n}"
        layer = PreferenceLayer(
            timezone=rng.choice(ZONES),
            language=language,
            email=f"patient{n}@example.org",
            phone=f"+1212{rng.randint(200, 999)}{n % 10_000:04d}",
        )
        patient = PatientDecisionInputs(
            patient_id=patient_id,
            org_id=org.org_id,
            provider_id=None,
            prefs=resolve_effective_preferences(GLOBAL_DEFAULTS, None, None, layer),
            consent=ConsentState(),
            failed_channels=frozenset(),
            first_name=f"{rng.choice(FIRST_NAMES)}{n % 97}",
        )
        # Office hours in the Americas (13:00-23:00 UTC), in quarter-hour slots, within a month.
        day = NOW.replace(hour=13, minute=0) + timedelta(days=rng.randint(1, 30))
        starts_at = day + timedelta(minutes=15 * rng.randint(0, 40))
        facts: dict[str, Any] = {
            "appointment_id": f"appt-{n}",
            "appointment_starts_at": starts_at.isoformat(),
            "provider_display_name": f"Dr. {rng.choice(('Kim', 'Pop', 'Silva', 'Diallo'))}",
            "location_name": f"{org.name}, suite {n % 40}",
        }
        if purpose is Purpose.LAB_READY:
            facts.update(result_id=f"r-{n}", lab_test_name=rng.choice(TESTS))
        if purpose is Purpose.RX_REFILL:
            due = (NOW + timedelta(days=rng.randint(1, 10))).date().isoformat()
            facts.update(
                prescription_id=f"rx-{n}",
                medication=rng.choice(MEDICATIONS),
                refill_due_date=due,
            )
        job = JobRecord(
            id=n,
            idempotency_key=f"evt-{n}:{purpose.value}",
            org_id=org.org_id,
            patient_id=patient_id,
            provider_id=None,
            appointment_id=facts["appointment_id"],
            campaign_id=None,
            purpose=purpose,
            channel=channel,
            status=JobStatus.PROCESSING,
            attempt=1,
            scheduled_for=NOW,
            deadline=None,
            language=language if rng.random() < 0.5 else None,
            variant=None,
            context=facts,
        )
        # WhatsApp: inside the 24-hour service window a free-form message, else a template.
        last_inbound = NOW - timedelta(hours=rng.choice((1, 5, 30, 200)))
        return job, patient, org, last_inbound if channel is Channel.WHATSAPP else None


def build_all(builder: MessageBuilder, jobs: list, outcomes: Counter[str]) -> float:
    """Messages per second, wall clock, each job built once."""
    started = time.perf_counter()
    for job, patient, org, last_inbound in jobs:
        try:
            builder.build(job, patient, org, NOW, last_inbound_whatsapp_at=last_inbound)
            outcomes["built"] += 1
        except MessageBuildError:
            outcomes["refused"] += 1
    return len(jobs) / (time.perf_counter() - started)


def main() -> None:
    per_round = int(sys.argv[1]) if len(sys.argv) > 1 else 5_000
    rounds = int(sys.argv[2]) if len(sys.argv) > 2 else 5
    templates = load_seed_templates()
    builder = MessageBuilder(
        TemplateCatalog(lambda: templates, ttl_seconds=3600),
        PortalSettings("https://portal.clinic.example", "bench-portal-secret", timedelta(days=7)),
        "https://portal.clinic.example/book",
    )
    factory = JobFactory(seed=20260302)
    outcomes: Counter[str] = Counter()
    cold = build_all(builder, [factory.job() for _ in range(1_000)], outcomes)
    print(f"cold start (first 1,000 messages of a fresh process): {cold:,.0f}/s")
    build_all(builder, [factory.job() for _ in range(per_round)], outcomes)  # rest of warm-up

    outcomes.clear()
    rates = []
    for _ in range(rounds):
        jobs = [factory.job() for _ in range(per_round)]
        rates.append(build_all(builder, jobs, outcomes))
    print(
        f"{len(templates)} templates; {outcomes['built']:,} built, {outcomes['refused']:,} "
        "refused by a template or the PHI policy"
    )
    sample = [factory.job() for _ in range(per_round)]
    started = time.perf_counter()
    for job, patient, org, _ in sample:
        builder.template_context(job, patient, org, NOW)
    context_us = (time.perf_counter() - started) * 1e6 / len(sample)
    print(f"of which building the context (portal link signed): {context_us:.1f} us/message")
    print(
        f"{rounds} rounds of {per_round:,} new patients' messages, context built and rendered: "
        + ", ".join(f"{r:,.0f}" for r in rates)
        + " messages/s"
    )
    print(f"render: {statistics.median(rates):.0f} renders/s")


if __name__ == "__main__":
    main()
