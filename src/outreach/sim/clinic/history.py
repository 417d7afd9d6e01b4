"""The synthetic clinic's past: each patient's last attended visit, as ``appointment.attended``.

A simulated day holds no past, yet segments ask for it ("six months since the last attended
visit"). Every patient's attributes carry ``last_visit_days``; this turns it into the event the
core platform would have sent after that visit: a weekday morning slot at the patient's clinic,
with their own doctor. The demo publishes these once the patients exist. Deterministic, like the
rest of the clinic: the same clinic always has the same past.
"""

from __future__ import annotations

import hashlib
from datetime import datetime, time, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from outreach.sim.clinic.generator import SyntheticClinic
from outreach.sim.clinic.timeline import stable_uuid

VISIT_MINUTES = 30


def visit_history(clinic: SyntheticClinic) -> list[dict[str, Any]]:
    """One ``appointment.attended`` core event per patient, oldest first."""
    namespace = hashlib.sha1(
        f"history/{clinic.seed}/{len(clinic.patients)}/{clinic.day_start.isoformat()}".encode(),
        usedforsecurity=False,
    ).digest()[:16]
    zones = {org.org_id: ZoneInfo(org.timezone) for org in clinic.orgs}
    doctors = {p.provider_id: p.display_name for p in clinic.providers}
    events = []
    for patient in clinic.patients:
        days = max(int(patient.attributes.get("last_visit_days", 0)), 1)
        zone = zones[patient.org_id]
        day = (clinic.day_start - timedelta(days=days)).astimezone(zone).date()
        while day.weekday() >= 5:  # the clinic sees patients on weekdays
            day -= timedelta(days=1)
        slot = int(hashlib.sha1(patient.patient_id.encode(), usedforsecurity=False).hexdigest(), 16)
        starts_at = datetime.combine(day, time(8 + slot % 9, 15 * (slot // 9 % 4)), zone)
        events.append(
            {
                "event_id": stable_uuid(namespace, f"attended/{patient.patient_id}"),
                "type": "appointment.attended",
                "occurred_at": (starts_at + timedelta(minutes=VISIT_MINUTES)).isoformat(),
                "org_id": patient.org_id,
                "provider_id": patient.provider_id,
                "patient_id": patient.patient_id,
                "data": {
                    "appointment_id": f"apt_past_{stable_uuid(namespace, patient.patient_id)}",
                    "starts_at": starts_at.isoformat(),
                    "provider_display_name": doctors[patient.provider_id],
                },
            }
        )
    events.sort(key=lambda event: event["occurred_at"])
    return events
