"""Rows and core events the tests build again and again: patients, their preferences, jobs.

Row builders return plain dicts for ``insert(table)``; overrides go in as keyword arguments.
Every id is the caller's, so a test that shares a database keeps to its own rows.
"""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import Engine, insert

from outreach.sql.models import CommJob, Patient, PatientCommPrefs


def new_tag(prefix: str = "t") -> str:
    return f"{prefix}{uuid.uuid4().hex[:10]}"


def patient_row(patient_id: str, *, org_id: str = "org", **fields: Any) -> dict[str, Any]:
    return {"id": patient_id, "org_id": org_id, **fields}


def consenting_prefs_row(
    patient_id: str, now: datetime, *, phone: str | None = "+12125550147", **fields: Any
) -> dict[str, Any]:
    """A patient reachable by SMS who consented a month ago and has opted out of nothing."""
    return {
        "patient_id": patient_id,
        "phone": phone,
        "contact_consent": True,
        "consent_granted_at": now - timedelta(days=30),
        "consent_expires_at": now + timedelta(days=600),
        "marketing_opt_in_email": False,
        "marketing_opt_in_sms": False,
        "marketing_opt_in_whatsapp": False,
        "whatsapp_opt_in": False,
        "opted_out_email": False,
        "opted_out_sms": False,
        "opted_out_whatsapp": False,
        **fields,
    }


def job_row(
    idempotency_key: str,
    patient_id: str,
    now: datetime,
    *,
    org_id: str = "org",
    purpose: str = "appt_reminder",
    channel: str | None = "sms",
    status: str = "queued",
    **fields: Any,
) -> dict[str, Any]:
    """A job planned at ``now`` and due then, unless ``scheduled_for`` says otherwise."""
    return {
        "idempotency_key": idempotency_key,
        "org_id": org_id,
        "patient_id": patient_id,
        "purpose": purpose,
        "channel": channel,
        "status": status,
        "requested_at": now,
        "scheduled_for": now,
        "attempt": 0,
        "context": {},
        **fields,
    }


def insert_rows(
    engine: Engine,
    *,
    patients: Sequence[dict[str, Any]] = (),
    prefs: Sequence[dict[str, Any]] = (),
    jobs: Sequence[dict[str, Any]] = (),
) -> list[int]:
    """Insert in dependency order, in one transaction; returns the new jobs' ids in order."""
    job_ids = []
    with engine.begin() as connection:
        if patients:
            connection.execute(insert(Patient.__table__), list(patients))
        if prefs:
            connection.execute(insert(PatientCommPrefs.__table__), list(prefs))
        for job in jobs:
            result = connection.execute(insert(CommJob.__table__).values(**job))
            job_ids.append(int(result.inserted_primary_key[0]))
    return job_ids


def patient_event(patient_id: str, now: datetime, **data: Any) -> dict[str, Any]:
    """A ``patient.upserted`` core event for a consenting patient reachable by SMS."""
    from outreach.sim.deployment import daytime_zone

    body = {
        "first_name": "Ana",
        "phone": "+14155552671",
        "email": f"{patient_id}@example.com",
        "language": "en",
        "timezone": daytime_zone(now),
        "contact_consent": True,
        "preferred_channel": "sms",
        **data,
    }
    return {
        "event_id": str(uuid.uuid4()),
        "type": "patient.upserted",
        "occurred_at": now.isoformat(),
        "org_id": "org-e2e",
        "patient_id": patient_id,
        "data": body,
    }


def booking_event(patient_id: str, now: datetime, starts_at: datetime) -> dict[str, Any]:
    """An ``appointment.booked`` core event for ``patient_id``'s appointment at ``starts_at``."""
    return {
        "event_id": str(uuid.uuid4()),
        "type": "appointment.booked",
        "occurred_at": now.isoformat(),
        "org_id": "org-e2e",
        "patient_id": patient_id,
        "data": {
            "appointment_id": f"appt-{patient_id}",
            "starts_at": starts_at.isoformat(),
            "provider_display_name": "Dr. Ana Pop",
        },
    }
