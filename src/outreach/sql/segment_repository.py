"""``patient_segments`` and what segments read: saved segments, counts, masked samples, and
patients as ``PatientFacts`` for in-memory membership.

Rows in, typed values out; what a rule means is the ``segments`` package's.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import Connection, Select, func, select
from sqlalchemy.exc import IntegrityError

from outreach.domain import AppointmentStatus
from outreach.preferences import mask_email, mask_phone
from outreach.segments import AppointmentSummary, PatientFacts
from outreach.segments.records import PREFERENCE_FIELDS
from outreach.sql.models import Appointment, Patient, PatientCommPrefs, PatientSegment

segments_table = PatientSegment.__table__
patients = Patient.__table__
prefs = PatientCommPrefs.__table__
appointments = Appointment.__table__


class SegmentNameTaken(Exception):
    """The organisation already has a segment of that name."""


@dataclass(frozen=True, slots=True)
class StoredSegment:
    id: int
    org_id: str
    name: str
    description: str | None
    definition: Any
    created_by: str | None
    is_active: bool
    last_evaluated: datetime | None
    patient_count: int | None
    created_at: datetime
    updated_at: datetime


@dataclass(frozen=True, slots=True)
class SampledPatient:
    """A patient of a preview: the id, and initials and addresses masked."""

    patient_id: str
    initials: str | None
    email: str | None
    phone: str | None


def _initial(name: str | None) -> str | None:
    return f"{name.strip()[:1]}." if name and name.strip() else None


def _stored(row: Any) -> StoredSegment:
    return StoredSegment(
        id=row["id"],
        org_id=row["org_id"],
        name=row["name"],
        description=row["description"],
        definition=row["definition"],
        created_by=row["created_by"],
        is_active=bool(row["is_active"]),
        last_evaluated=row["last_evaluated"],
        patient_count=row["patient_count"],
        created_at=row["created_at"],
        updated_at=row["updated_at"],
    )


class SegmentRepository:
    def __init__(self, connection: Connection) -> None:
        self.connection = connection

    def get(self, segment_id: int) -> StoredSegment | None:
        row = (
            self.connection.execute(select(segments_table).where(segments_table.c.id == segment_id))
            .mappings()
            .first()
        )
        return _stored(row) if row is not None else None

    def of_org(self, org_id: str) -> list[StoredSegment]:
        rows = self.connection.execute(
            select(segments_table)
            .where(segments_table.c.org_id == org_id)
            .order_by(segments_table.c.id)
        ).mappings()
        return [_stored(row) for row in rows]

    def definitions(self, org_id: str) -> dict[int, Any]:
        """Every saved definition of the organisation, by id (what ``in_segment`` may name)."""
        rows = self.connection.execute(
            select(segments_table.c.id, segments_table.c.definition).where(
                segments_table.c.org_id == org_id
            )
        )
        return {row.id: row.definition for row in rows}

    def insert(
        self,
        *,
        org_id: str,
        name: str,
        description: str | None,
        definition: Any,
        created_by: str | None,
        is_active: bool,
        now: datetime,
    ) -> int:
        """A new segment's id; raises ``SegmentNameTaken``."""
        self._check_name_free(org_id, name, None)
        try:
            result = self.connection.execute(
                segments_table.insert().values(
                    org_id=org_id,
                    name=name,
                    description=description,
                    definition=definition,
                    created_by=created_by,
                    is_active=is_active,
                    created_at=now,
                    updated_at=now,
                )
            )
        except IntegrityError:
            raise SegmentNameTaken(name) from None  # a concurrent save took the name
        return int(result.inserted_primary_key[0])

    def update(
        self,
        segment_id: int,
        org_id: str,
        *,
        name: str,
        description: str | None,
        definition: Any,
        is_active: bool,
        now: datetime,
    ) -> None:
        """Replace what a marketer edits; the last count is forgotten (it was of the old rule)."""
        self._check_name_free(org_id, name, segment_id)
        try:
            self.connection.execute(
                segments_table.update()
                .where(segments_table.c.id == segment_id)
                .values(
                    name=name,
                    description=description,
                    definition=definition,
                    is_active=is_active,
                    patient_count=None,
                    last_evaluated=None,
                    updated_at=now,
                )
            )
        except IntegrityError:
            raise SegmentNameTaken(name) from None

    def _check_name_free(self, org_id: str, name: str, segment_id: int | None) -> None:
        query = select(segments_table.c.id).where(
            segments_table.c.org_id == org_id, segments_table.c.name == name
        )
        if segment_id is not None:
            query = query.where(segments_table.c.id != segment_id)
        if self.connection.execute(query).first() is not None:
            raise SegmentNameTaken(name)

    def record_count(self, segment_id: int, patient_count: int, now: datetime) -> None:
        self.connection.execute(
            segments_table.update()
            .where(segments_table.c.id == segment_id)
            .values(patient_count=patient_count, last_evaluated=now)
        )

    def sql_of(self, selected: Select[Any]) -> str:
        """The statement as this database receives it, parameters named (values left out)."""
        return str(selected.compile(dialect=self.connection.dialect))

    def count(self, selected: Select[Any]) -> int:
        """How many patients a compiled segment (``segment_query``) selects."""
        return int(
            self.connection.execute(
                select(func.count()).select_from(selected.subquery())
            ).scalar_one()
        )

    def sample(self, selected: Select[Any], limit: int) -> list[SampledPatient]:
        """Up to ``limit`` patients of a compiled segment, lowest ids first, masked."""
        if limit <= 0:
            return []
        chosen = selected.subquery()
        rows = self.connection.execute(
            select(
                patients.c.id,
                patients.c.first_name,
                patients.c.last_name,
                prefs.c.email,
                prefs.c.phone,
            )  # fmt: skip
            .select_from(
                chosen.join(patients, patients.c.id == chosen.c.id).outerjoin(
                    prefs, prefs.c.patient_id == patients.c.id
                )
            )
            .order_by(patients.c.id)
            .limit(limit)
        )
        return [
            SampledPatient(
                patient_id=row.id,
                initials=" ".join(
                    i for i in (_initial(row.first_name), _initial(row.last_name)) if i
                )
                or None,
                email=mask_email(row.email),
                phone=mask_phone(row.phone),
            )
            for row in rows
        ]

    def patient_facts(self, org_id: str, patient_ids: Iterable[str]) -> list[PatientFacts]:
        """The organisation's patients among ``patient_ids`` as segments read them."""
        ids = list(set(patient_ids))
        if not ids:
            return []
        rows = self.connection.execute(
            select(
                patients.c.id,
                patients.c.provider_id,
                patients.c.date_of_birth,
                patients.c.sex,
                patients.c.postal_code,
                patients.c.region,
                patients.c.attributes,
                prefs.c.patient_id.label("has_preferences"),
                *(prefs.c[name] for name in PREFERENCE_FIELDS),
            )
            .select_from(patients.outerjoin(prefs, prefs.c.patient_id == patients.c.id))
            .where(patients.c.org_id == org_id, patients.c.id.in_(ids))
        ).mappings()
        found = list(rows)
        visits: dict[str, list[AppointmentSummary]] = {}
        for visit in self.connection.execute(
            select(appointments.c.patient_id, appointments.c.status, appointments.c.starts_at)
            .where(appointments.c.patient_id.in_([row["id"] for row in found]))
            .order_by(appointments.c.appointment_id)
        ):
            visits.setdefault(visit.patient_id, []).append(
                AppointmentSummary(AppointmentStatus(visit.status), visit.starts_at)
            )
        return [
            PatientFacts(
                patient_id=row["id"],
                org_id=org_id,
                provider_id=row["provider_id"],
                date_of_birth=row["date_of_birth"],
                sex=row["sex"],
                postal_code=row["postal_code"],
                region=row["region"],
                attributes=row["attributes"],
                preferences=(
                    {name: row[name] for name in PREFERENCE_FIELDS}
                    if row["has_preferences"] is not None
                    else None
                ),
                appointments=tuple(visits.get(row["id"], ())),
            )
            for row in found
        ]
