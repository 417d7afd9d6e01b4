"""How the synthetic clinic's appointments end: the patient came (``appointment.attended``) or
not (``appointment.no_show``), reported by the clinic shortly after the start.

Kept apart from the day's story (``timeline``): the demo adds these outcomes for the visits its
simulated days reach, so the funnel's last step (confirmed -> attended or no-show) has data.
Pure and deterministic: the same events and seed give the same outcomes.
"""

from __future__ import annotations

import hashlib
import random
from collections.abc import Sequence
from datetime import datetime, timedelta
from typing import Any

ATTENDED_SHARE = 0.85
VISIT_OUTCOME_TYPES = ("appointment.attended", "appointment.no_show")


def visit_outcomes(
    events: Sequence[dict[str, Any]], until: datetime, seed: int
) -> list[dict[str, Any]]:
    """An outcome for every appointment booked (or last rescheduled) in ``events``, not
    cancelled, that started before ``until``; reported 30-90 minutes after its start."""
    latest: dict[str, dict[str, Any]] = {}
    for event in events:
        kind = event["type"]
        if kind in ("appointment.booked", "appointment.rescheduled", "appointment.cancelled"):
            latest[event["data"]["appointment_id"]] = event
    rng = random.Random(seed)
    outcomes = []
    for appointment_id, event in sorted(latest.items()):
        if event["type"] == "appointment.cancelled":
            continue
        starts = datetime.fromisoformat(event["data"]["starts_at"])
        reported = starts + timedelta(minutes=30 + rng.randrange(60))
        kind = VISIT_OUTCOME_TYPES[0] if rng.random() < ATTENDED_SHARE else VISIT_OUTCOME_TYPES[1]
        if reported > until:
            continue
        digest = hashlib.sha1(f"visit/{appointment_id}".encode(), usedforsecurity=False)
        outcomes.append(
            {
                "event_id": f"visit-{digest.hexdigest()[:24]}",
                "type": kind,
                "occurred_at": reported.isoformat(),
                "org_id": event["org_id"],
                "provider_id": event["provider_id"],
                "patient_id": event["patient_id"],
                "data": {
                    key: event["data"][key]
                    for key in ("appointment_id", "starts_at", "provider_display_name")
                    if key in event["data"]
                },
            }
        )
    return sorted(outcomes, key=lambda e: e["occurred_at"])
