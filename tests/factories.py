"""Factories for the rows and events tests start from.

- Rows and core events built again and again: patients, their preferences, jobs. Row builders
  return plain dicts for ``insert(table)``; overrides go in as keyword arguments.
- A clinic with its patients and jobs in the database, fresh phone numbers and ids, and the
  inbound envelopes the webhooks publish.
- Patients as segments read them (``PatientFacts``: row, own preferences, appointments) written
  to the database.

Every id is the caller's (or fresh), so tests sharing a database keep to their own rows.
"""

from __future__ import annotations

import random
import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy import Engine, insert, select

from outreach.domain import Channel, JobStatus, Purpose
from outreach.events import InboundEnvelope
from outreach.preferences.addresses import normalise_phone
from outreach.segments import PatientFacts
from outreach.sql.models import (
    Appointment,
    CommAuditLog,
    CommJob,
    OrgCommPrefs,
    Patient,
    PatientCommPrefs,
)
from outreach.templating import TemplateRecord

CLINIC_NAME = "Sunrise Clinic"
CLINIC_PHONE = "+14155550100"
CLINIC_BOOKING_URL = "https://book.sunrise.example/new"

jobs = CommJob.__table__
prefs = PatientCommPrefs.__table__


def new_phone() -> str:
    """A valid, unused US number (E.164)."""
    while True:
        candidate = f"+1415{random.randint(2_000_000, 9_999_999)}"
        if normalise_phone(candidate) == candidate:
            return candidate


def new_id(prefix: str) -> str:
    return f"{prefix}-{uuid.uuid4().hex[:12]}"


@dataclass
class Clinic:
    """One organisation and the rows a test creates under it."""

    engine: Engine
    org_id: str
    name: str = CLINIC_NAME
    phone: str = CLINIC_PHONE

    def patient(
        self,
        *,
        phone: str | None = None,
        email: str | None = None,
        whatsapp: str | None = None,
        language: str | None = "en",
        opted_out: tuple[Channel, ...] = (),
    ) -> str:
        patient_id = new_id("pat")
        with self.engine.begin() as connection:
            connection.execute(insert(Patient.__table__).values(id=patient_id, org_id=self.org_id))
            connection.execute(
                insert(prefs).values(
                    patient_id=patient_id,
                    phone=phone,
                    email=email,
                    whatsapp=whatsapp,
                    language=language,
                    contact_consent=True,
                    consent_granted_at=datetime.now(UTC) - timedelta(days=30),
                    whatsapp_opt_in=whatsapp is not None,
                    **{f"opted_out_{c.value}": c in opted_out for c in Channel},
                )
            )
        return patient_id

    def job(
        self,
        patient_id: str,
        *,
        channel: Channel = Channel.SMS,
        purpose: Purpose = Purpose.APPT_REMINDER,
        status: JobStatus = JobStatus.SENT,
        sent_ago: timedelta | None = timedelta(hours=1),
        appointment_id: str | None = None,
    ) -> int:
        now = datetime.now(UTC)
        sent_at = now - sent_ago if sent_ago is not None and status != JobStatus.QUEUED else None
        with self.engine.begin() as connection:
            result = connection.execute(
                insert(jobs).values(
                    idempotency_key=new_id("idem"),
                    org_id=self.org_id,
                    patient_id=patient_id,
                    appointment_id=appointment_id,
                    purpose=purpose.value,
                    channel=channel.value,
                    status=status.value,
                    requested_at=now - timedelta(days=2),
                    scheduled_for=sent_at or now + timedelta(hours=6),
                    sent_at=sent_at,
                    context={},
                )
            )
            return int(result.inserted_primary_key[0])


def add_clinic(engine: Engine) -> Clinic:
    """A new organisation with its contact details and its own booking link."""
    org_id = new_id("org")
    with engine.begin() as connection:
        connection.execute(
            insert(OrgCommPrefs.__table__).values(
                org_id=org_id,
                name=CLINIC_NAME,
                clinic_phone=CLINIC_PHONE,
                booking_url=CLINIC_BOOKING_URL,
                language="en",
            )
        )
    return Clinic(engine, org_id)


def envelope(
    from_: str,
    body: str,
    *,
    channel: Channel = Channel.SMS,
    message_id: str | None = None,
    received_at: datetime | None = None,
    provider: str | None = None,
) -> InboundEnvelope:
    """A patient's message as the provider webhooks publish it on ``outreach.inbound``."""
    default_provider = {
        Channel.SMS: "twilio",
        Channel.WHATSAPP: "whatsapp",
        Channel.EMAIL: "sendgrid",
    }[channel]
    return InboundEnvelope(
        provider=provider or default_provider,
        channel=channel,
        from_=from_,
        to=CLINIC_PHONE if channel is not Channel.EMAIL else "replies@clinic.example",
        body=body,
        received_at=received_at or datetime.now(UTC),
        provider_message_id=message_id or new_id("SM"),
    )


def new_tag(prefix: str = "t") -> str:
    return f"{prefix}{uuid.uuid4().hex[:10]}"


def sms_template(org_id: str | None, **fields: Any) -> TemplateRecord:
    """An unsaved appointment-reminder SMS of ``org_id`` that the policy accepts."""
    values: dict[str, Any] = {
        "id": "unsaved",
        "org_id": org_id,
        "purpose": Purpose.APPT_REMINDER,
        "channel": Channel.SMS,
        "language": "en",
        "body": "Hi {{ first_name }}, see you {{ appointment_date }}.",
        "declared_variables": ("first_name", "appointment_date"),
        "is_active": False,
    }
    return TemplateRecord(**(values | fields))


def audit_entries(engine: Engine, action: str, org_id: str) -> list[dict[str, Any]]:
    """The ``comm_audit_log`` entries of ``action`` about ``org_id``, oldest first."""
    audit_log = CommAuditLog.__table__
    query = (
        select(audit_log)
        .where(audit_log.c.action == action, audit_log.c.org_id == org_id)
        .order_by(audit_log.c.id)
    )
    with engine.connect() as connection:
        return [dict(row) for row in connection.execute(query).mappings()]


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


def store_engagement_history(
    engine: Engine, patients: Any, sent: Any, *, org_id: str, now: datetime
) -> None:
    """Write a patient frame and a frame of sent messages (as the send-time model's repository
    reads them, see ``outreach.sim.send_time_experiment``) as the pipeline would have stored
    them: patients and their preferences, sent jobs (replies on the job), and the providers'
    open and click reports."""
    import pandas as pd

    from outreach.sql.bulk import insert_rows as bulk_insert
    from outreach.sql.models import CommStatusEvent

    def instant(value: Any) -> datetime | None:
        return None if pd.isna(value) else value.floor("us").to_pydatetime()

    patient_rows, pref_rows = [], []
    for row in patients.itertuples(index=False):
        patient_rows.append(
            patient_row(
                row.patient_id,
                org_id=org_id,
                date_of_birth=datetime.fromisoformat(row.date_of_birth).date(),
                region=row.region,
            )
        )
        pref_rows.append(
            consenting_prefs_row(
                row.patient_id,
                now,
                phone=None,
                email=f"{row.patient_id}@example.org",
                timezone=row.patient_timezone,
                language=row.patient_language,
                preferred_channel=row.preferred_channel,
            )
        )
    job_rows, status_rows = [], []
    for row in sent.itertuples(index=False):
        sent_at = instant(row.sent_at)
        message_id = f"sim-{org_id}-{row.job_id}"
        job_rows.append(
            job_row(
                f"{org_id}:{row.job_id}",
                row.patient_id,
                sent_at,
                org_id=org_id,
                id=int(row.job_id),
                purpose=row.purpose,
                channel=row.channel,
                status=JobStatus.REPLIED.value if instant(row.replied_at) else "delivered",
                sent_at=sent_at,
                replied_at=instant(row.replied_at),
                provider_message_id=message_id,
                send_time_source=row.send_time_source,
                send_time_propensity=float(row.send_time_propensity),
            )
        )
        for status, at in (("opened", row.opened_at), ("clicked", row.clicked_at)):
            if instant(at) is not None:
                status_rows.append(
                    {
                        "job_id": int(row.job_id),
                        "provider": "sim",
                        "provider_message_id": message_id,
                        "status": status,
                        "occurred_at": instant(at),
                        "received_at": instant(at),
                        "raw": {},
                    }
                )
    with engine.begin() as connection:
        bulk_insert(connection, Patient.__table__, patient_rows)
        bulk_insert(connection, prefs, pref_rows)
        bulk_insert(connection, jobs, job_rows)
        bulk_insert(connection, CommStatusEvent.__table__, status_rows)


def insert_patient_facts(engine: Engine, facts: Sequence[PatientFacts], now: datetime) -> None:
    """Store patients as segments read them: their row, their own preference row (when they
    have one) and their appointments, in one transaction."""
    patient_rows, pref_rows, appointment_rows = [], [], []
    for patient in facts:
        patient_rows.append(
            {
                "id": patient.patient_id,
                "org_id": patient.org_id,
                "provider_id": patient.provider_id,
                "date_of_birth": patient.date_of_birth,
                "sex": patient.sex,
                "postal_code": patient.postal_code,
                "region": patient.region,
                "attributes": patient.attributes,
            }
        )
        if patient.preferences is not None:
            pref_rows.append(
                {
                    "patient_id": patient.patient_id,
                    "whatsapp_opt_in": False,
                    "contact_consent": False,
                    "marketing_opt_in_email": False,
                    "marketing_opt_in_sms": False,
                    "marketing_opt_in_whatsapp": False,
                    "opted_out_email": False,
                    "opted_out_sms": False,
                    "opted_out_whatsapp": False,
                    "language": None,
                    "timezone": None,
                    "preferred_channel": None,
                    # A stored row has every flag: a flag given as None keeps its default.
                    **{k: v for k, v in patient.preferences.items() if v is not None},
                }
            )
        for number, appointment in enumerate(patient.appointments):
            appointment_rows.append(
                {
                    "appointment_id": f"{patient.patient_id}-a{number}",
                    "org_id": patient.org_id,
                    "patient_id": patient.patient_id,
                    "starts_at": appointment.starts_at,
                    "status": appointment.status.value,
                    "last_event_id": f"{patient.patient_id}-e{number}",
                    "last_event_type": f"appointment.{appointment.status.value}",
                    "last_event_at": now,
                }
            )
    with engine.begin() as connection:
        if patient_rows:
            connection.execute(insert(Patient.__table__), patient_rows)
        if pref_rows:
            connection.execute(insert(prefs), pref_rows)
        if appointment_rows:
            connection.execute(insert(Appointment.__table__), appointment_rows)


def add_segment(engine: Engine, org_id: str, definition: dict[str, Any] | None = None) -> int:
    """A stored segment of ``org_id`` (its rule taken as given: no validation here)."""
    from outreach.sql.models import PatientSegment

    with engine.begin() as connection:
        result = connection.execute(
            insert(PatientSegment.__table__).values(
                org_id=org_id,
                name=new_id("segment"),
                definition=definition if definition is not None else {"==": [1, 1]},
                is_active=True,
            )
        )
        return int(result.inserted_primary_key[0])


def campaign_document(org_id: str, segment_id: int, **fields: Any) -> dict[str, Any]:
    """A campaign definition on the shipped recall families: invitation now, reminder in a week."""
    return {
        "org_id": org_id,
        "name": new_id("campaign"),
        "segment_id": segment_id,
        "steps": [
            {"offset_hours": 0, "template_family": "dental_recall"},
            {"offset_hours": 168, "template_family": "dental_recall_reminder"},
        ],
        **fields,
    }


def add_recall_templates(engine: Engine, org_id: str) -> None:
    """The shipped dental recall families, as the organisation's own templates (global seeds
    would be shared by every test of the session database)."""
    import dataclasses

    from outreach.sql.template_repository import TemplateRepository
    from outreach.templating import load_seed_templates

    records = [
        dataclasses.replace(record, org_id=org_id)
        for record in load_seed_templates()
        if record.family is not None
    ]
    with engine.begin() as connection:
        TemplateRepository(connection).seed(records)
