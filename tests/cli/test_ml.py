"""``outreach ml``: train and show against a database, evaluate against the planted truth."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
from typer.testing import CliRunner

from outreach.cli import app
from outreach.ml.features import patient_cohorts
from outreach.sim.send_time_experiment import (
    ExperimentOptions,
    patient_frame,
    planted_truth,
    simulate_past,
    synthetic_patients,
)
from outreach.sql.engine import build_engine
from outreach.sql.migrate import upgrade
from tests.factories import store_engagement_history

runner = CliRunner()


def test_evaluate_reports_the_learning_curve_and_ends_with_the_lift() -> None:
    result = runner.invoke(app, ["ml", "evaluate", "--patients", "1500", "--max-history", "40"])

    assert result.exit_code == 0, result.output
    lines = result.output.strip().splitlines()
    assert any(line.strip().startswith("10-19") for line in lines)
    assert lines[-2].startswith("best_hour_within_1h: 0.")
    assert lines[-1].startswith("best_hour_lift: ") and lines[-1].endswith(" %")
    assert float(lines[-1].split()[1]) > 0


def test_train_then_show_a_patient(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    url = f"sqlite:///{tmp_path / 'ml.sqlite3'}"
    upgrade(url)
    options = ExperimentOptions(patients=400, seed=4, max_history=40)
    patients = synthetic_patients(options)
    frame = patient_frame(patients)
    ids = np.array([p.patient_id for p in patients], dtype=object)
    cohorts = patient_cohorts(frame, options.as_of.date())
    sent = simulate_past(options, ids, planted_truth(patients), cohorts)
    engine = build_engine(url)
    store_engagement_history(engine, frame, sent, org_id="org", now=options.as_of)
    engine.dispose()
    # The simulated half year ends on 1 June 2026: read far enough back from today.
    monkeypatch.setenv("OUTREACH_ML_TRAINING_WINDOW_DAYS", "5000")

    trained = runner.invoke(app, ["ml", "train", "--url", url])
    busiest = sent["patient_id"].value_counts().index[0]
    shown = runner.invoke(app, ["ml", "show", busiest, "--url", url, "--json"])
    text = runner.invoke(app, ["ml", "show", busiest, "--url", url])
    unknown = runner.invoke(app, ["ml", "show", "nobody", "--url", url])

    assert trained.exit_code == 0, trained.output
    assert "best_hour model version 1: promoted (no model in use)" in trained.output
    assert "model in use: 1" in trained.output
    assert f"best hours assigned: {len(patients)} patients" in trained.output
    figures = json.loads(shown.stdout)  # logs go to stderr
    assert figures["source"] == "model" and figures["model_version"] == 1
    assert 8 <= figures["best_hour"] <= 20
    assert figures["interactions"] == int((sent["patient_id"] == busiest).sum())
    assert 0 <= figures["confidence"] <= 1
    assert f"best hour {figures['best_hour']:02d}:00 local, from their own history" in text.output
    assert unknown.exit_code == 1
