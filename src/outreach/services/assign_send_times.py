"""Use case "assign send times": with the model in use, give every patient their best hour (with
the model version, its source and confidence) and their fatigue score.

Patients the model has no history of get their cohort's best hour (source ``cohort_prior``);
patients with no recent message get a fatigue score of 0. Without a model in use only the
fatigue scores are written.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import datetime

import numpy as np

from outreach.ml.best_hour import (
    BestHourModel,
    BestHourSource,
    predict_best_hours,
    summarise_history,
)
from outreach.ml.fatigue import fatigue_scores
from outreach.ml.registry import BEST_HOUR_MODEL
from outreach.preferences import FatiguePolicy
from outreach.services.train_send_time_model import SendTimeLearning, load_engagement
from outreach.sql.engagement_repository import SendTimeProfile
from outreach.sql.store import Store

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class AssignmentReport:
    model_version: int | None
    patients: int
    from_history: int  # best hours the patient's own messages weighed in
    from_cohort: int  # best hours of patients the model had no history of
    fatigued: int


def assign_send_times(
    store: Store, now: datetime, learning: SendTimeLearning, fatigue: FatiguePolicy
) -> AssignmentReport:
    with store.reading() as repos:
        table, cohorts = load_engagement(repos, now, learning)
        active = repos.models.active(BEST_HOUR_MODEL)
    scores = (
        fatigue_scores(table, now, learning.fatigue_window)
        .reindex(cohorts.index, fill_value=0.0)
        .to_numpy()
    )
    fatigued = int(np.count_nonzero(scores >= fatigue.threshold))
    if active is None:
        with store.transaction() as repos:
            repos.engagement.record_fatigue_scores(
                dict(zip(cohorts.index, scores.tolist(), strict=True)), now
            )
        return AssignmentReport(None, len(cohorts), 0, 0, fatigued)
    model = BestHourModel.from_artifact(active.artifact)
    learnt = predict_best_hours(model, cohorts, summarise_history(table, model.prior))
    interactions = learnt["interactions"].to_numpy()
    profiles = [
        SendTimeProfile(
            patient_id=patient_id,
            best_hour=int(hour),
            model_version=active.version,
            source=(BestHourSource.MODEL if count > 0 else BestHourSource.COHORT_PRIOR).value,
            confidence=round(float(confidence), 4),
            interactions=int(count),
            fatigue_score=round(float(score), 4),
        )
        for patient_id, hour, confidence, count, score in zip(
            learnt.index,
            learnt["best_hour"].to_numpy(),
            learnt["confidence"].to_numpy(),
            interactions,
            scores,
            strict=True,
        )
    ]
    with store.transaction() as repos:
        repos.engagement.record_send_time_profiles(profiles, now)
    from_history = int(np.count_nonzero(interactions))
    logger.info(
        "best hours of model version %d assigned to %d patients (%d from their own history)",
        active.version,
        len(profiles),
        from_history,
    )
    return AssignmentReport(
        active.version, len(profiles), from_history, len(profiles) - from_history, fatigued
    )
