"""``GET /api/v1/patients/{patient_id}/comm-context``: why a patient is (or is not) contacted.

The effective preferences with the level each value came from, consent, failed channels and the
patient's recent and upcoming jobs. Addresses are masked; no names, no message context.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from fastapi import APIRouter, Path
from sqlalchemy import Connection, select

from outreach.api.dependencies import ClockDep, EngineDep
from outreach.api.errors import ApiError
from outreach.domain import Channel, JobStatus, Purpose
from outreach.preferences import ConsentState, channel_permission, resolve_patients
from outreach.sql.models import CommJob
from outreach.sql.patient_repository import PatientRepository

router = APIRouter(prefix="/api/v1/patients", tags=["comm-context"])

JOBS_SHOWN = 20
_jobs = CommJob.__table__
_PENDING = (JobStatus.QUEUED.value, JobStatus.PROCESSING.value)


def _iso(moment: datetime | None) -> str | None:
    return moment.isoformat() if moment is not None else None


def _consent_view(consent: ConsentState, now: datetime) -> dict[str, Any]:
    return {
        "contact_consent": consent.contact_granted,
        "granted_at": _iso(consent.granted_at),
        "expires_at": _iso(consent.expires_at),
        "expired": consent.contact_granted and consent.is_expired(now),
        "marketing_opt_in": sorted(c.value for c in consent.marketing_opt_in),
        "opted_out": sorted(c.value for c in consent.opted_out),
        "whatsapp_opt_in": consent.whatsapp_opt_in,
    }


def _permissions(consent: ConsentState, now: datetime) -> dict[str, dict[str, str | None]]:
    """Per channel, what consent alone says for a reminder and for a campaign (None: allowed)."""
    view: dict[str, dict[str, str | None]] = {}
    for channel in Channel:
        transactional = channel_permission(Purpose.APPT_REMINDER, channel, consent, now)
        marketing = channel_permission(Purpose.CAMPAIGN_EDUCATION, channel, consent, now)
        view[channel.value] = {
            "transactional": transactional.value if transactional else None,
            "marketing": marketing.value if marketing else None,
        }
    return view


def _job_view(row: Any) -> dict[str, Any]:
    return {
        "id": row.id,
        "purpose": str(row.purpose),
        "channel": str(row.channel) if row.channel is not None else None,
        "status": str(row.status),
        "scheduled_for": _iso(row.scheduled_for),
        "suppression_reason": (
            str(row.suppression_reason) if row.suppression_reason is not None else None
        ),
        "appointment_id": row.appointment_id,
    }


def patient_jobs(
    connection: Connection, patient_id: str, now: datetime, limit: int = JOBS_SHOWN
) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    """(recent, upcoming): the latest jobs already due, and pending ones still to come."""
    columns = (
        _jobs.c.id,
        _jobs.c.purpose,
        _jobs.c.channel,
        _jobs.c.status,
        _jobs.c.scheduled_for,
        _jobs.c.suppression_reason,
        _jobs.c.appointment_id,
    )
    upcoming = connection.execute(
        select(*columns)
        .where(
            _jobs.c.patient_id == patient_id,
            _jobs.c.scheduled_for > now,
            _jobs.c.status.in_(_PENDING),
        )
        .order_by(_jobs.c.scheduled_for, _jobs.c.id)
        .limit(limit)
    ).all()
    upcoming_ids = {row.id for row in upcoming}
    recent = connection.execute(
        select(*columns)
        .where(
            _jobs.c.patient_id == patient_id,
            (_jobs.c.scheduled_for <= now) | _jobs.c.status.not_in(_PENDING),
        )
        .order_by(_jobs.c.scheduled_for.desc(), _jobs.c.id.desc())
        .limit(limit)
    ).all()
    return (
        [_job_view(row) for row in recent if row.id not in upcoming_ids],
        [_job_view(row) for row in upcoming],
    )


@router.get("/{patient_id}/comm-context")
def comm_context(
    engine: EngineDep,
    clock: ClockDep,
    patient_id: str = Path(min_length=1, max_length=64),
) -> dict[str, Any]:
    now = clock()
    with engine.connect() as connection:
        layers = PatientRepository(connection).decision_layers([patient_id])
        inputs = resolve_patients(layers).get(patient_id)
        if inputs is None:
            raise ApiError(404, "not_found", "unknown patient")
        recent, upcoming = patient_jobs(connection, patient_id, now)
    return {
        "patient_id": inputs.patient_id,
        "org_id": inputs.org_id,
        "provider_id": inputs.provider_id,
        "preferences": inputs.prefs.as_dict(),
        "consent": _consent_view(inputs.consent, now),
        "consent_by_channel": _permissions(inputs.consent, now),
        "failed_channels": sorted(c.value for c in inputs.failed_channels),
        "jobs": {"recent": recent, "upcoming": upcoming},
        "as_of": now.isoformat(),
    }
