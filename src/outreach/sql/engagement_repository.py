"""What the send-time model learns from and what it writes back: sent messages with their first
open, click and reply, the patients' stored attributes, and each patient's learnt best hour and
fatigue score.

Frames in (pandas, one column per field of ``ml.engagement.SENT_COLUMNS`` and
``ml.features.PATIENT_COLUMNS``), typed values out. Which engagement counts, and how, is the
``ml`` package's business.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime

import pandas as pd
from sqlalchemy import Connection, case, func, select

from outreach.domain import JobStatus
from outreach.ml.engagement import SENT_COLUMNS, empty_sent_frame
from outreach.ml.features import PATIENT_COLUMNS
from outreach.sql.bulk import upsert
from outreach.sql.models import (
    CommJob,
    CommStatusEvent,
    OrgCommPrefs,
    Patient,
    PatientCommPrefs,
    ProviderCommPrefs,
)

jobs = CommJob.__table__
status_events = CommStatusEvent.__table__
patients = Patient.__table__
patient_prefs = PatientCommPrefs.__table__
provider_prefs = ProviderCommPrefs.__table__
org_prefs = OrgCommPrefs.__table__

_OPENED, _CLICKED = JobStatus.OPENED.value, JobStatus.CLICKED.value


@dataclass(frozen=True, slots=True)
class SendTimeProfile:
    """What the send-time model learnt about one patient."""

    patient_id: str
    best_hour: int
    model_version: int
    source: str  # "model": their own history weighed in; "cohort_prior": their cohort's only
    confidence: float
    interactions: int
    fatigue_score: float


@dataclass(frozen=True, slots=True)
class StoredSendTimeProfile:
    """A patient's stored best hour and fatigue score, with where they came from."""

    best_hour: int | None
    model_version: int | None
    source: str | None
    confidence: float | None
    interactions: int | None
    learnt_at: datetime | None
    fatigue_score: float | None
    fatigue_scored_at: datetime | None


class EngagementRepository:
    def __init__(self, connection: Connection) -> None:
        self.connection = connection

    def sent_messages(self, since: datetime, until: datetime) -> pd.DataFrame:
        """Messages sent in [since, until), each with its first open, click and reply time."""
        engagement = (
            select(
                status_events.c.job_id,
                func.min(
                    case((status_events.c.status == _OPENED, status_events.c.occurred_at))
                ).label("opened_at"),
                func.min(
                    case((status_events.c.status == _CLICKED, status_events.c.occurred_at))
                ).label("clicked_at"),
            )
            .where(
                status_events.c.status.in_((_OPENED, _CLICKED)),
                status_events.c.job_id.is_not(None),
            )
            .group_by(status_events.c.job_id)
            .subquery()
        )
        rows = self.connection.execute(
            select(
                jobs.c.id,
                jobs.c.patient_id,
                jobs.c.channel,
                jobs.c.purpose,
                jobs.c.sent_at,
                engagement.c.opened_at,
                engagement.c.clicked_at,
                jobs.c.replied_at,
                jobs.c.send_time_source,
                jobs.c.send_time_propensity,
            )
            .select_from(jobs.outerjoin(engagement, engagement.c.job_id == jobs.c.id))
            .where(jobs.c.sent_at >= since, jobs.c.sent_at < until, jobs.c.channel.is_not(None))
        ).all()
        if not rows:
            return empty_sent_frame()
        frame = pd.DataFrame.from_records(rows, columns=list(SENT_COLUMNS))
        for name in ("channel", "purpose", "send_time_source"):
            frame[name] = frame[name].map(lambda value: getattr(value, "value", value))
        for name in ("sent_at", "opened_at", "clicked_at", "replied_at"):
            frame[name] = pd.to_datetime(frame[name], utc=True)
        frame["send_time_propensity"] = frame["send_time_propensity"].astype(float)
        return frame

    def patients(self) -> pd.DataFrame:
        """Every patient with a preference row: the attributes and stored levels their cohort
        and clock resolve from."""
        rows = self.connection.execute(
            select(
                patients.c.id,
                patients.c.date_of_birth,
                patients.c.region,
                patient_prefs.c.timezone,
                provider_prefs.c.timezone,
                org_prefs.c.timezone,
                patient_prefs.c.language,
                provider_prefs.c.language,
                org_prefs.c.language,
                patient_prefs.c.preferred_channel,
            ).select_from(
                patient_prefs.join(patients, patients.c.id == patient_prefs.c.patient_id)
                .outerjoin(provider_prefs, provider_prefs.c.provider_id == patients.c.provider_id)
                .outerjoin(org_prefs, org_prefs.c.org_id == patients.c.org_id)
            )
        ).all()
        frame = pd.DataFrame.from_records(rows, columns=list(PATIENT_COLUMNS))
        frame["preferred_channel"] = frame["preferred_channel"].map(
            lambda value: getattr(value, "value", value)
        )
        return frame

    def record_send_time_profiles(
        self, profiles: Sequence[SendTimeProfile], learnt_at: datetime
    ) -> None:
        """Store each patient's best hour (with its provenance) and fatigue score."""
        upsert(
            self.connection,
            patient_prefs,
            [
                {
                    "patient_id": p.patient_id,
                    "best_hour": p.best_hour,
                    "best_hour_model_version": p.model_version,
                    "best_hour_source": p.source,
                    "best_hour_confidence": p.confidence,
                    "best_hour_interactions": p.interactions,
                    "best_hour_learnt_at": learnt_at,
                    "fatigue_score": p.fatigue_score,
                    "fatigue_scored_at": learnt_at,
                }
                for p in profiles
            ],
            ["patient_id"],
            keep_existing_when_null=False,
        )

    def record_fatigue_scores(self, scores: Mapping[str, float], scored_at: datetime) -> None:
        """Store fatigue scores alone (no model in use to learn best hours with yet)."""
        upsert(
            self.connection,
            patient_prefs,
            [
                {"patient_id": patient_id, "fatigue_score": score, "fatigue_scored_at": scored_at}
                for patient_id, score in scores.items()
            ],
            ["patient_id"],
            keep_existing_when_null=False,
        )

    def send_time_profile(self, patient_id: str) -> StoredSendTimeProfile | None:
        """The patient's stored best hour and fatigue score (None: no preference row)."""
        row = self.connection.execute(
            select(
                patient_prefs.c.best_hour,
                patient_prefs.c.best_hour_model_version,
                patient_prefs.c.best_hour_source,
                patient_prefs.c.best_hour_confidence,
                patient_prefs.c.best_hour_interactions,
                patient_prefs.c.best_hour_learnt_at,
                patient_prefs.c.fatigue_score,
                patient_prefs.c.fatigue_scored_at,
            ).where(patient_prefs.c.patient_id == patient_id)
        ).first()
        if row is None:
            return None
        return StoredSendTimeProfile(*row)

    def learnt_best_hours(self) -> dict[str, int]:
        """How many patients have a learnt best hour, by where it came from (source)."""
        rows = self.connection.execute(
            select(patient_prefs.c.best_hour_source, func.count())
            .where(patient_prefs.c.best_hour_model_version.is_not(None))
            .group_by(patient_prefs.c.best_hour_source)
        )
        return {source or "unknown": count for source, count in rows}
