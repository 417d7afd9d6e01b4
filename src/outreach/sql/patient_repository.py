"""Patients, their own preference rows and the hierarchy levels above them: reads and bulk writes.

Rows in, typed values out. What the values mean (resolving the hierarchy, consent validity, what
changed) is the ``preferences`` package's; this module only stores and reads.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import date, datetime, time
from typing import Any

from sqlalchemy import Connection, select

from outreach.domain import BUILTIN_CHANNELS, Channel
from outreach.events import PatientData
from outreach.preferences import ConsentState, ConsentUpdate, PatientLayers, PreferenceLayer
from outreach.sql.bulk import insert_ignore, upsert
from outreach.sql.json_rows import JsonRows
from outreach.sql.models import OrgCommPrefs, Patient, PatientCommPrefs, ProviderCommPrefs
from outreach.sql.opt_out_repository import OptOutRepository
from outreach.sql.preference_rows import (
    ADDRESS_COLUMNS,
    CHECK_COLUMNS,
    LAYER_COLUMNS,
    address_check_values,
    checked_numbers_from_row,
    consent_from_row,
    failed_channels_from_row,
    layer_from_row,
)

patients = Patient.__table__
patient_prefs = PatientCommPrefs.__table__
org_prefs = OrgCommPrefs.__table__
provider_prefs = ProviderCommPrefs.__table__

# What an upsert needs of the stored row: the consent it may change, and the NOT NULL flags.
_CONSENT_COLUMNS = (
    "patient_id",
    "contact_consent",
    "consent_granted_at",
    "consent_expires_at",
    "whatsapp_opt_in",
    *(f"marketing_opt_in_{c.value}" for c in BUILTIN_CHANNELS),
)
# Per channel, its marketing opt-in column (built once: the upsert loop reads them per patient).
_MARKETING_COLUMNS = tuple(
    (channel, f"marketing_opt_in_{channel.value}") for channel in BUILTIN_CHANNELS
)
# NOT NULL flags a candidate row needs even when the event is silent about them.
_FLAG_COLUMNS = ("contact_consent", "whatsapp_opt_in", *(c for _, c in _MARKETING_COLUMNS))

# What a decision reads of the patient's preference row, and no more: every value the driver
# decodes costs (a campaign reads a million rows), and the learnt models' bookkeeping is unused.
_DECISION_PREF_COLUMNS = tuple(
    patient_prefs.c[name]
    for name in (
        "patient_id",
        *LAYER_COLUMNS,
        *ADDRESS_COLUMNS,
        *CHECK_COLUMNS,
        "contact_consent",
        "consent_granted_at",
        "consent_expires_at",
        "whatsapp_opt_in",
        *(column for _, column in _MARKETING_COLUMNS),
        "failed_channels",
        "fatigue_score",
    )
)
_DECISION_PREF_NAMES = tuple(column.name for column in _DECISION_PREF_COLUMNS)
_DECISION_ROWS = JsonRows(
    (
        patients.c.id,
        patients.c.org_id,
        patients.c.provider_id,
        patients.c.first_name,
        *_DECISION_PREF_COLUMNS,
    )
)


def patient_layers(
    patient_id: str,
    org_id: str,
    provider_id: str | None,
    own: Mapping[str, Any] | None,
    *,
    org: PreferenceLayer | None,
    provider: PreferenceLayer | None,
    opted_out: frozenset[Channel],
    first_name: str | None = None,
) -> PatientLayers:
    """One patient's levels from their preference row (``own``, None: no row) and the levels
    above them."""
    return PatientLayers(
        patient_id=patient_id,
        org_id=org_id,
        provider_id=provider_id,
        org=org,
        provider=provider,
        own=layer_from_row(own, with_addresses=True),
        consent=consent_from_row(own, opted_out),
        failed_channels=failed_channels_from_row(own),
        first_name=first_name,
        fatigue_score=own["fatigue_score"] if own is not None else None,
        checked_numbers=checked_numbers_from_row(own),
    )


@dataclass(frozen=True, slots=True)
class PatientUpsert:
    """One ``patient.upserted`` to store: the record as sent and the consent it decided."""

    patient_id: str
    org_id: str
    provider_id: str | None
    record: PatientData
    consent: ConsentUpdate

    def __repr__(self) -> str:  # the record holds names and addresses
        return f"PatientUpsert(patient_id={self.patient_id!r}, org_id={self.org_id!r})"


def _time(value: str | None) -> time | None:
    return time.fromisoformat(value) if value else None


def _date(value: str | None) -> date | None:
    try:
        return date.fromisoformat(value) if value else None
    except ValueError:
        return None


class PatientRepository:
    """``patients`` and ``patient_comm_prefs``, plus the organisation and provider levels."""

    def __init__(self, connection: Connection) -> None:
        self.connection = connection

    def stored_consents(self, patient_ids: Iterable[str]) -> dict[str, ConsentState]:
        """The consent stored for each patient that has a preference row."""
        ids = list(set(patient_ids))
        if not ids:
            return {}
        rows = self.connection.execute(
            select(*(patient_prefs.c[name] for name in _CONSENT_COLUMNS)).where(
                patient_prefs.c.patient_id.in_(ids)
            )
        ).mappings()
        return {row["patient_id"]: consent_from_row(row) for row in rows}

    def upsert(
        self,
        updates: Sequence[PatientUpsert],
        stored: Mapping[str, ConsentState],
        now: datetime,
    ) -> int:
        """Insert or update patients and their own preferences; returns how many.

        Fields the record leaves out keep their stored value. ``stored`` is what
        ``stored_consents`` read in the same transaction: the NOT NULL consent flags of a row
        the record is silent about keep it (the database checks the candidate row before it
        resolves the conflict).
        """
        if not updates:
            return 0
        patient_rows: dict[str, dict[str, Any]] = {}
        pref_rows: dict[str, dict[str, Any]] = {}
        for update in updates:
            data = update.record
            patient_rows[update.patient_id] = {
                "id": update.patient_id,
                "org_id": update.org_id,
                "provider_id": update.provider_id,
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
            consent = update.consent
            row: dict[str, Any] = {
                "patient_id": update.patient_id,
                "email": data.email,
                "phone": data.phone,
                "whatsapp": data.whatsapp,
                "language": data.language,
                "timezone": data.timezone,
                "preferred_channel": data.preferred_channel.value
                if data.preferred_channel
                else None,
                "allowed_channels": [c.value for c in data.allowed_channels]
                if data.allowed_channels is not None
                else None,
                "quiet_hours_start": _time(data.quiet_hours_start),
                "quiet_hours_end": _time(data.quiet_hours_end),
                "contact_consent": consent.contact_granted,
                "consent_granted_at": consent.granted_at,
                "consent_expires_at": consent.expires_at,
                "whatsapp_opt_in": consent.whatsapp_opt_in,
                **address_check_values(data.email, data.phone, data.whatsapp),
                "updated_at": now,
            }
            marketing = consent.marketing_opt_in
            for channel, column in _MARKETING_COLUMNS:
                row[column] = channel in marketing if marketing is not None else None
            before = stored.get(update.patient_id)
            for column in _FLAG_COLUMNS:
                if row[column] is None:
                    row[column] = _stored_flag(before, column)
            pref_rows[update.patient_id] = row
        upsert(self.connection, patients, list(patient_rows.values()), ["id"])
        upsert(self.connection, patient_prefs, list(pref_rows.values()), ["patient_id"])
        return len(patient_rows)

    def org_of(self, patient_id: str) -> str | None:
        """The organisation a patient belongs to; None for an unknown patient."""
        return self.connection.execute(
            select(patients.c.org_id).where(patients.c.id == patient_id)
        ).scalar_one_or_none()

    def ensure_exist(self, stubs: Iterable[tuple[str, str]]) -> None:
        """Placeholder rows for (patient id, org id) an event names before the core sent the
        patient's record. With no preferences row they have no consent, so their jobs are
        suppressed, not lost."""
        rows = [{"id": patient_id, "org_id": org_id} for patient_id, org_id in stubs]
        insert_ignore(self.connection, patients, rows)

    def decision_layers(self, patient_ids: Iterable[str]) -> list[PatientLayers]:
        """Each known patient's stored hierarchy levels and consent, in four queries."""
        ids = list(set(patient_ids))
        if not ids:
            return []
        rows = _DECISION_ROWS.read(
            self.connection,
            _DECISION_ROWS.select()
            .select_from(
                patients.outerjoin(patient_prefs, patient_prefs.c.patient_id == patients.c.id)
            )
            .where(patients.c.id.in_(ids)),
        )
        opted_out = OptOutRepository(self.connection).channels_of(ids)
        orgs = self.org_layers({row[1] for row in rows})
        providers = self.provider_layers({row[2] for row in rows if row[2]})
        layers: list[PatientLayers] = []
        names = _DECISION_PREF_NAMES
        for patient_id, org_id, provider_id, first_name, *values in rows:
            # Plain dicts: the row readers look up some 30 keys per row.
            own = dict(zip(names, values, strict=True)) if values[0] is not None else None
            layers.append(
                patient_layers(
                    patient_id,
                    org_id,
                    provider_id,
                    own,
                    org=orgs.get(org_id),
                    provider=providers.get(provider_id) if provider_id else None,
                    opted_out=opted_out.get(patient_id, frozenset()),
                    first_name=first_name,
                )
            )
        return layers

    def org_layers(self, org_ids: Iterable[str]) -> dict[str, PreferenceLayer]:
        ids = list(set(org_ids))
        if not ids:
            return {}
        rows = self.connection.execute(select(org_prefs).where(org_prefs.c.org_id.in_(ids)))
        return {row["org_id"]: layer_from_row(row) for row in rows.mappings()}

    def provider_layers(self, provider_ids: Iterable[str]) -> dict[str, PreferenceLayer]:
        ids = list(set(provider_ids))
        if not ids:
            return {}
        rows = self.connection.execute(
            select(provider_prefs).where(provider_prefs.c.provider_id.in_(ids))
        )
        return {row["provider_id"]: layer_from_row(row) for row in rows.mappings()}

    def mark_channel_failed(self, patient_id: str, channel: Channel) -> None:
        """Remember a permanently failed address so the next decision skips that channel."""
        row = self.connection.execute(
            select(patient_prefs.c.failed_channels).where(patient_prefs.c.patient_id == patient_id)
        ).first()
        if row is None:
            return
        failed = set(row.failed_channels or [])
        if channel.value not in failed:
            failed.add(channel.value)
            self.connection.execute(
                patient_prefs.update()
                .where(patient_prefs.c.patient_id == patient_id)
                .values(failed_channels=sorted(failed))
            )

    def last_inbound_whatsapp(self, patient_ids: Iterable[str]) -> dict[str, datetime | None]:
        """When each patient last wrote to us on WhatsApp (its 24-hour service window)."""
        ids = list(set(patient_ids))
        if not ids:
            return {}
        rows = self.connection.execute(
            select(patient_prefs.c.patient_id, patient_prefs.c.last_inbound_whatsapp_at).where(
                patient_prefs.c.patient_id.in_(ids)
            )
        )
        return {row.patient_id: row.last_inbound_whatsapp_at for row in rows}

    def consents_granted_expiring_by(self, moment: datetime) -> list[tuple[str, ConsentState]]:
        """(patient id, consent) of every granted consent whose expiry is at or before
        ``moment``."""
        rows = self.connection.execute(
            select(patient_prefs).where(
                patient_prefs.c.contact_consent.is_(True),
                patient_prefs.c.consent_expires_at <= moment,
            )
        ).mappings()
        return [(row["patient_id"], consent_from_row(row)) for row in rows]


def _stored_flag(stored: ConsentState | None, column: str) -> bool:
    """The stored value of a NOT NULL consent flag (False for a patient not stored yet)."""
    if stored is None:
        return False
    if column == "contact_consent":
        return stored.contact_granted
    if column == "whatsapp_opt_in":
        return stored.whatsapp_opt_in
    channel = Channel(column.removeprefix("marketing_opt_in_"))
    return channel in stored.marketing_opt_in
