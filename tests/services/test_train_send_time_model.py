"""Training and assigning send times against the real database: versions, promotion, best hours
and fatigue scores written back."""

from __future__ import annotations

from dataclasses import replace
from datetime import timedelta

import numpy as np
import pandas as pd
import pytest
from sqlalchemy import Engine, select

from outreach.ml.best_hour import heldout_mask
from outreach.ml.features import patient_cohorts
from outreach.ml.registry import BEST_HOUR_MODEL
from outreach.preferences import FatiguePolicy
from outreach.services.assign_send_times import assign_send_times
from outreach.services.train_send_time_model import SendTimeLearning, train_send_time_model
from outreach.sim.send_time_experiment import (
    ExperimentOptions,
    patient_frame,
    planted_truth,
    simulate_past,
    synthetic_patients,
)
from outreach.sql.models import MlModel, PatientCommPrefs
from outreach.sql.store import Store
from tests.factories import store_engagement_history

pytestmark = pytest.mark.services

OPTIONS = ExperimentOptions(patients=600, seed=21, max_history=40)
NOW = OPTIONS.as_of
LEARNING = SendTimeLearning()
FATIGUE = FatiguePolicy(threshold=0.6, marketing_max_per_day=1, marketing_max_per_week=1)


@pytest.fixture
def history(isolated_mariadb: Engine):
    """A synthetic clinic's half year of engagement, stored as the pipeline stores it."""
    patients = synthetic_patients(OPTIONS)
    frame = patient_frame(patients)
    cohorts = patient_cohorts(frame, NOW.date())
    ids = np.array([p.patient_id for p in patients], dtype=object)
    sent = simulate_past(OPTIONS, ids, planted_truth(patients), cohorts)
    store_engagement_history(isolated_mariadb, frame, sent, org_id="org", now=NOW)
    return isolated_mariadb, patients, sent


def _models(engine: Engine) -> list[tuple[int, bool, dict]]:
    with engine.connect() as connection:
        rows = connection.execute(
            select(MlModel.version, MlModel.is_active, MlModel.metrics)
            .where(MlModel.name == BEST_HOUR_MODEL)
            .order_by(MlModel.version)
        ).all()
    return [(row.version, bool(row.is_active), row.metrics) for row in rows]


def _decoys(patients) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Twice as many new patients, in the same cohorts, whose messages teach the cohorts the
    wrong hours: each engages at once only with messages sent six hours off their cohort-mate's
    preferred hour. Their sends all fall in the training split, so the held-out sends stay
    those of the real patients, and the real patients' own histories are unchanged: only what
    the model learns of cohorts is misled."""
    rng = np.random.default_rng(3)
    decoys = [
        replace(patient, patient_id=f"decoy-{copy}-{patient.patient_id}")
        for copy in range(2)
        for patient in patients
    ]
    rows = []
    job_id = 10_000_000
    for patient in decoys:
        wrong_hour = 8 + (patient.preferred_hour - 8 + 6) % 13
        for day in range(1, 30):
            while heldout_mask(np.array([job_id]))[0]:
                job_id += 1
            hour = int(rng.integers(8, 21))
            local = pd.Timestamp(NOW - timedelta(days=day)).tz_convert(patient.timezone)
            sent_at = (local.normalize() + pd.Timedelta(hours=hour, minutes=5)).tz_convert("UTC")
            rows.append(
                {
                    "job_id": job_id,
                    "patient_id": patient.patient_id,
                    "channel": patient.preferred_channel.value,
                    "purpose": "campaign_education",
                    "sent_at": sent_at,
                    "opened_at": sent_at + pd.Timedelta(minutes=5)
                    if abs(hour - wrong_hour) <= 1
                    else pd.NaT,
                    "clicked_at": pd.NaT,
                    "replied_at": pd.NaT,
                    "send_time_source": "default",
                    "send_time_propensity": 1.0,
                }
            )
            job_id += 1
    frame = pd.DataFrame(rows)
    for name in ("opened_at", "clicked_at", "replied_at"):
        frame[name] = pd.to_datetime(frame[name], utc=True)
    return patient_frame(decoys), frame


def test_a_model_that_does_worse_on_held_out_data_is_not_promoted(history) -> None:
    engine, patients, sent = history
    store = Store(engine)

    first = train_send_time_model(store, NOW, LEARNING)
    assert (first.version, first.promoted, first.active_version) == (1, True, 1)

    # New training data teaches the cohorts the wrong hours; the held-out sends tell the truth.
    decoy_patients, decoy_sends = _decoys(patients)
    store_engagement_history(engine, decoy_patients, decoy_sends, org_id="org", now=NOW)
    second = train_send_time_model(store, NOW, LEARNING)

    assert (second.version, second.promoted, second.active_version) == (2, False, 1)
    assert second.metrics["heldout_policy_value"] < second.metrics["compared_policy_value"]
    assert [(v, active) for v, active, _ in _models(engine)] == [(1, True), (2, False)]
    assert _models(engine)[1][2]["promoted"] is False


def test_assignment_writes_best_hours_with_their_source_and_fatigue(history) -> None:
    engine, patients, sent = history
    store = Store(engine)
    # Before any model: fatigue scores only.
    report = assign_send_times(store, NOW, LEARNING, FATIGUE)
    assert report.model_version is None

    train_send_time_model(store, NOW, LEARNING)
    report = assign_send_times(store, NOW, LEARNING, FATIGUE)

    with engine.connect() as connection:
        stored = pd.DataFrame(
            connection.execute(
                select(
                    PatientCommPrefs.patient_id,
                    PatientCommPrefs.best_hour,
                    PatientCommPrefs.best_hour_model_version,
                    PatientCommPrefs.best_hour_source,
                    PatientCommPrefs.best_hour_confidence,
                    PatientCommPrefs.best_hour_interactions,
                    PatientCommPrefs.fatigue_score,
                )
            ).all()
        ).set_index("patient_id")
    messages = sent.groupby("patient_id").size()
    assert report.model_version == 1
    assert report.patients == len(patients) == len(stored)
    assert stored["best_hour"].between(8, 20).all()
    assert (stored["best_hour_model_version"] == 1).all()
    with_history = stored.index.isin(messages.index)
    assert (stored.loc[with_history, "best_hour_source"] == "model").all()
    assert (stored.loc[~with_history, "best_hour_source"] == "cohort_prior").all()
    assert report.from_history == with_history.sum()
    assert stored["best_hour_confidence"].between(0, 1).all()
    # The learnt hours follow the planted ones for patients with a long history.
    planted = pd.Series({p.patient_id: p.preferred_hour for p in patients})
    long = stored[stored["best_hour_interactions"] >= 10]
    gap = (long["best_hour"] - planted[long.index]).abs()
    assert (gap <= 1).mean() > 0.7
    # Nothing sent in the last two weeks of this past for most: scores are between 0 and 1.
    assert stored["fatigue_score"].between(0, 1).all()
    assert report.fatigued == (stored["fatigue_score"] >= FATIGUE.threshold).sum()


def test_no_engagement_trains_nothing(isolated_mariadb: Engine) -> None:
    report = train_send_time_model(Store(isolated_mariadb), NOW, LEARNING)

    assert report.version is None and not report.promoted
    assert "not enough engagement" in report.reason
    assert _models(isolated_mariadb) == []
