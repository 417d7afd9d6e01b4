"""Patients, their preference hierarchy and consent: reads and bulk writes for the pipeline."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import date, datetime, time
from typing import Any

from sqlalchemy import Connection, select

from outreach.domain import Channel
from outreach.events import CoreEvent, PatientData
from outreach.preferences import (
    GLOBAL_DEFAULTS,
    ConsentState,
    EffectivePreferences,
    resolve_effective_preferences,
)
from outreach.preferences.consent import CONSENT_VALIDITY_YEARS, add_years
from outreach.sql.bulk import insert_ignore, insert_rows, upsert
from outreach.sql.models import (
    CommAuditLog,
    OrgCommPrefs,
    Patient,
    PatientCommPrefs,
    ProviderCommPrefs,
)
from outreach.sql.preference_rows import consent_from_row, failed_channels_from_row, layer_from_row

patients = Patient.__table__
patient_prefs = PatientCommPrefs.__table__
org_prefs = OrgCommPrefs.__table__
provider_prefs = ProviderCommPrefs.__table__
audit_log = CommAuditLog.__table__


@dataclass(frozen=True, slots=True)
class PatientDecisionInputs:
    """Everything the preferences core needs about one patient."""

    patient_id: str
    org_id: str
    provider_id: str | None
    prefs: EffectivePreferences
    consent: ConsentState
    failed_channels: frozenset[Channel]
    first_name: str | None


# What an upsert needs of the stored row: the consent it may change, and the NOT NULL flags.
_CONSENT_COLUMNS = (
    "patient_id",
    "contact_consent",
    "consent_granted_at",
    "consent_expires_at",
    "whatsapp_opt_in",
    *(f"marketing_opt_in_{c.value}" for c in Channel),
    *(f"opted_out_{c.value}" for c in Channel),
)


# The patient's preference row minus bookkeeping no decision reads (fewer values to convert).
_DECISION_PREF_COLUMNS = tuple(
    column
    for column in patient_prefs.c
    if column.name not in ("updated_at", "last_inbound_whatsapp_at")
)


def _time(value: str | None) -> time | None:
    return time.fromisoformat(value) if value else None


def _date(value: str | None) -> date | None:
    try:
        return date.fromisoformat(value) if value else None
    except ValueError:
        return None


# Per channel, its marketing opt-in column (built once: the upsert loop reads them per patient).
_MARKETING_COLUMNS = tuple((channel, f"marketing_opt_in_{channel.value}") for channel in Channel)
_NO_CONSENT = ConsentState()


def _consent_changes(old: ConsentState, new_row: dict[str, Any]) -> dict[str, Any]:
    changes: dict[str, Any] = {}
    if new_row["contact_consent"] is not None and new_row["contact_consent"] != old.contact_granted:
        changes["contact_consent"] = new_row["contact_consent"]
    for channel, column in _MARKETING_COLUMNS:
        value = new_row[column]
        if value is not None and value != (channel in old.marketing_opt_in):
            changes[column] = value
    if new_row["whatsapp_opt_in"] is not None and new_row["whatsapp_opt_in"] != old.whatsapp_opt_in:
        changes["whatsapp_opt_in"] = new_row["whatsapp_opt_in"]
    return changes


def upsert_patients(
    connection: Connection, updates: Sequence[tuple[CoreEvent, PatientData]], now: datetime
) -> int:
    """Insert or update patients and their own preferences; consent changes are audited.

    Fields the event leaves out keep their stored value. Opt-outs are never set from here: only
    the patient's own STOP (replies) sets them, and only START clears them.
    """
    if not updates:
        return 0
    ids = [event.patient_id for event, _ in updates]
    stored = {
        row["patient_id"]: row
        for row in connection.execute(
            select(*(patient_prefs.c[name] for name in _CONSENT_COLUMNS)).where(
                patient_prefs.c.patient_id.in_(ids)
            )
        ).mappings()
    }
    existing = {patient_id: consent_from_row(row) for patient_id, row in stored.items()}
    patient_rows: dict[str, dict[str, Any]] = {}
    pref_rows: dict[str, dict[str, Any]] = {}
    audits: list[dict[str, Any]] = []
    for event, data in updates:
        patient_rows[event.patient_id] = {
            "id": event.patient_id,
            "org_id": event.org_id,
            "provider_id": event.provider_id,
            "first_name": data.first_name,
            "last_name": data.last_name,
            "date_of_birth": _date(data.date_of_birth),
            "record_number": data.record_number,
            "sex": data.sex,
            "postal_code": data.postal_code,
            "region": data.region,
            "attributes": data.attributes or None,
            "updated_at": now,
        }
        granted_at = None
        expires_at = None
        if data.contact_consent:
            granted_at = data.consent_granted_at or event.occurred_at
            expires_at = add_years(granted_at, CONSENT_VALIDITY_YEARS)
        marketing = set(data.marketing_opt_in) if data.marketing_opt_in is not None else None
        row: dict[str, Any] = {
            "patient_id": event.patient_id,
            "email": data.email,
            "phone": data.phone,
            "whatsapp": data.whatsapp,
            "language": data.language,
            "timezone": data.timezone,
            "preferred_channel": data.preferred_channel.value if data.preferred_channel else None,
            "allowed_channels": [c.value for c in data.allowed_channels]
            if data.allowed_channels is not None
            else None,
            "quiet_hours_start": _time(data.quiet_hours_start),
            "quiet_hours_end": _time(data.quiet_hours_end),
            "contact_consent": data.contact_consent,
            "consent_granted_at": granted_at,
            "consent_expires_at": expires_at,
            "whatsapp_opt_in": data.whatsapp_opt_in,
            "updated_at": now,
        }
        for channel, column in _MARKETING_COLUMNS:
            row[column] = channel in marketing if marketing is not None else None
        changes = _consent_changes(existing.get(event.patient_id, _NO_CONSENT), row)
        if changes:
            audits.append(
                {
                    "occurred_at": now,
                    "actor": f"core:{event.event_id}",
                    "patient_id": event.patient_id,
                    "action": "consent_changed",
                    "detail": changes,
                }
            )
        pref_rows[event.patient_id] = row
    upsert(connection, patients, list(patient_rows.values()), ["id"])
    # NOT NULL flags need a value even when the event is silent (the database checks the
    # candidate row before resolving the conflict): the stored one, or False for a new patient.
    flags = ("contact_consent", "whatsapp_opt_in", *(column for _, column in _MARKETING_COLUMNS))
    for patient_id, row in pref_rows.items():
        before = stored.get(patient_id)
        for column in flags:
            if row[column] is None:
                row[column] = bool(before[column]) if before is not None else False
    upsert(connection, patient_prefs, list(pref_rows.values()), ["patient_id"])
    insert_rows(connection, audit_log, audits)
    return len(patient_rows)


def ensure_patients_exist(connection: Connection, stubs: Iterable[tuple[str, str]]) -> None:
    """Placeholder rows for patients an event names before the core sent their record.

    With no preferences row they have no consent, so their jobs are suppressed, not lost.
    """
    rows = [{"id": patient_id, "org_id": org_id} for patient_id, org_id in stubs]
    insert_ignore(connection, patients, rows)


def load_decision_inputs(
    connection: Connection, patient_ids: Iterable[str]
) -> dict[str, PatientDecisionInputs]:
    """The resolved hierarchy and consent of each patient, in three queries for the batch."""
    ids = list(set(patient_ids))
    if not ids:
        return {}
    found = connection.execute(
        select(
            patients.c.id,
            patients.c.org_id,
            patients.c.provider_id,
            patients.c.first_name,
            *_DECISION_PREF_COLUMNS,
        )
        .select_from(patients.outerjoin(patient_prefs, patient_prefs.c.patient_id == patients.c.id))
        .where(patients.c.id.in_(ids))
    )
    # Plain dicts: the row readers below look up some 30 keys per row, and a dict lookup costs
    # a fraction of a ``RowMapping`` one.
    keys = tuple(found.keys())
    rows = [dict(zip(keys, row, strict=True)) for row in found]
    org_ids = {row["org_id"] for row in rows}
    provider_ids = {row["provider_id"] for row in rows if row["provider_id"]}
    orgs = {
        row["org_id"]: layer_from_row(row)
        for row in connection.execute(
            select(org_prefs).where(org_prefs.c.org_id.in_(org_ids))
        ).mappings()
    }
    providers = (
        {
            row["provider_id"]: layer_from_row(row)
            for row in connection.execute(
                select(provider_prefs).where(provider_prefs.c.provider_id.in_(provider_ids))
            ).mappings()
        }
        if provider_ids
        else {}
    )
    result: dict[str, PatientDecisionInputs] = {}
    for row in rows:
        own = row if row["patient_id"] is not None else None
        prefs = resolve_effective_preferences(
            GLOBAL_DEFAULTS,
            orgs.get(row["org_id"]),
            providers.get(row["provider_id"]) if row["provider_id"] else None,
            layer_from_row(own, with_addresses=True),
        )
        result[row["id"]] = PatientDecisionInputs(
            patient_id=row["id"],
            org_id=row["org_id"],
            provider_id=row["provider_id"],
            prefs=prefs,
            consent=consent_from_row(own),
            failed_channels=failed_channels_from_row(own),
            first_name=row["first_name"],
        )
    return result
