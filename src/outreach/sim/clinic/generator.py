"""``generate_clinic``: organisations, providers, patients and a day of their core events."""

from __future__ import annotations

import random
import uuid
from collections import Counter
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from outreach.sim.clinic.population import (
    Org,
    PatientFactory,
    Provider,
    SyntheticPatient,
    build_orgs,
)
from outreach.sim.clinic.timeline import EVENT_TYPES, DayTimeline, utc_day_start

_NAMESPACE_ROOT = uuid.UUID("5b7c1c3e-6a53-4e0e-9d43-0c6f1a0de7a1")


@dataclass(frozen=True, slots=True)
class SyntheticClinic:
    """A generated clinic and its day; ``events`` are JSON-ready core-event dicts, by time."""

    seed: int
    day_start: datetime
    orgs: tuple[Org, ...]
    providers: tuple[Provider, ...]
    patients: tuple[SyntheticPatient, ...]
    events: list[dict[str, Any]]

    def __repr__(self) -> str:
        return (
            f"SyntheticClinic(seed={self.seed}, day_start={self.day_start.isoformat()}, "
            f"orgs={len(self.orgs)}, patients={len(self.patients)}, "
            f"events={len(self.events)})"
        )


def generate_clinic(
    *,
    patients: int = 2000,
    seed: int = 7,
    day_start: datetime,
    org_count: int = 2,
    providers_per_org: int = 4,
) -> SyntheticClinic:
    """A deterministic synthetic clinic: the same arguments always give the same clinic.

    ``day_start`` (timezone-aware) begins the simulated 24 hours: every patient is upserted in
    its first minutes, then appointments, labs, refills and requests follow through the day.
    Ids of events, appointments, results and prescriptions derive from all the arguments, so two
    different clinics never share them (replays of the same one do, as idempotency needs).
    """
    if patients < 0 or org_count < 1 or providers_per_org < 1:
        raise ValueError("patients >= 0, org_count >= 1 and providers_per_org >= 1 are required")
    start = utc_day_start(day_start)
    rng = random.Random(seed)
    namespace = uuid.uuid5(
        _NAMESPACE_ROOT,
        f"{seed}/{patients}/{org_count}/{providers_per_org}/{start.isoformat()}",
    )
    orgs, providers = build_orgs(rng, org_count, providers_per_org)
    factory = PatientFactory(rng, orgs, providers, start, seed)
    population = tuple(factory.patient(number) for number in range(1, patients + 1))
    timeline = DayTimeline(
        rng, day_start=start, namespace=namespace, orgs=orgs, providers=providers
    )
    return SyntheticClinic(seed, start, orgs, providers, population, timeline.events(population))


def expected_counts(clinic: SyntheticClinic) -> dict[str, int]:
    """Events per type (every type listed, zero included), in the order of the day's story."""
    counts = Counter(event["type"] for event in clinic.events)
    return {kind: counts.get(kind, 0) for kind in EVENT_TYPES}
