"""Benchmark: training the best-hour model on 10,000,000 engagement events, and predicting the
best hour of 1,000,000 patients.

Setup (not timed): a synthetic population of 1,000,000 patients in the synthetic clinic's zones,
languages, regions and channels, each with a planted preferred hour (``sim.clinic.engagement``),
and 10,000,000 sent messages over half a year with their first open, click or reply drawn from
that truth, built as the frames the engagement repository returns (patient frame and sent-message
frame, pandas, in memory). Loading ten million rows into MariaDB and reading them back is not
part of the figure: it measures the database, and takes longer than the training itself.

Timed, wall clock, single process:

- ``engagement table``: local hour and weekday on each patient's clock, prompt and later
  engagement, inverse-propensity weights, cohort features (``ml.engagement.engagement_table``);
- ``fit``: the cohort prior (scikit-learn logistic regression on aggregated rows), per-patient
  history matrices and the choice of kernel width, prior strength and later-engagement weight on
  the held-out fifth (``ml.best_hour.fit_best_hour_model``);
- ``ml_train_10m`` is the two together: from the repository's frames to a model ready to register;
- ``summarise``: every patient's history under the trained model's prior (what the nightly
  assignment does before predicting);
- ``predict_1m``: best hour and confidence for 1,000,000 patients from those summaries
  (``ml.best_hour.predict_best_hours``).

Usage: python bench/ml.py [events] [patients]
"""

from __future__ import annotations

import sys
import time
from datetime import UTC, date, datetime

import numpy as np
import pandas as pd

from outreach.domain import Channel, Purpose, SendTimeSource
from outreach.ml.best_hour import fit_best_hour_model, predict_best_hours, summarise_history
from outreach.ml.engagement import engagement_table
from outreach.ml.features import AGE_BANDS, patient_cohorts
from outreach.services.train_send_time_model import SendTimeLearning
from outreach.sim.clinic.catalog import ZONES
from outreach.sim.clinic.engagement import (
    EARLIEST_PREFERRED_HOUR,
    INDIVIDUAL_SPREAD_HOURS,
    LATEST_PREFERRED_HOUR,
    TYPICAL_HOURS,
    channel_codes,
    draw_engagement,
)
from outreach.sim.clinic.timeline import PATIENT_ACTIVITY, STAFF_ACTIVITY

AS_OF = datetime(2026, 6, 1, tzinfo=UTC)
HISTORY_DAYS = 180
FLEXIBLE_SHARE, EXPLORATION_SHARE = 0.35, 0.10
CHANNELS = tuple(Channel)
ALLOWED_HOURS = np.arange(8, 21)


def _population(rng: np.random.Generator, count: int) -> tuple[pd.DataFrame, dict[str, np.ndarray]]:
    """The patient frame as the repository returns it, and the planted truth as arrays."""
    zones = list(ZONES)
    zone = rng.integers(0, len(zones), count)
    regions = np.array(
        [[loc.region for loc in ZONES[z].localities][0] for z in zones] + ["CA", "TX", "FL"]
    )
    languages = np.array(["en", "es", "fr", "pt", "ro", "hi", "zh"])
    ages = rng.integers(0, 95, count)
    born = pd.to_datetime(AS_OF.date()) - pd.to_timedelta(ages * 365.25 + 100, unit="D")
    band_floor = np.array([low for low, _ in AGE_BANDS])[
        np.searchsorted([low for low, _ in AGE_BANDS], ages, side="right") - 1
    ]
    hour = np.zeros(count)
    roll = rng.random(count)
    for floor, mixture in TYPICAL_HOURS.items():
        members = band_floor == floor
        cumulative = np.cumsum([share for _, share in mixture])
        choice = np.minimum(
            np.searchsorted(cumulative, roll[members], side="right"), len(mixture) - 1
        )
        hour[members] = np.array([h for h, _ in mixture])[choice]
    preferred = np.clip(
        np.round(hour + rng.normal(0, INDIVIDUAL_SPREAD_HOURS, count)),
        EARLIEST_PREFERRED_HOUR,
        LATEST_PREFERRED_HOUR,
    )
    channel = rng.choice(len(CHANNELS), count, p=[0.3, 0.6, 0.1]).astype(np.int8)
    patients = pd.DataFrame(
        {
            "patient_id": [f"pat-{number:07d}" for number in range(count)],
            "date_of_birth": born.date,
            "region": regions[rng.integers(0, len(regions), count)],
            "patient_timezone": np.array(zones, dtype=object)[zone],
            "provider_timezone": None,
            "org_timezone": None,
            "patient_language": languages[rng.integers(0, len(languages), count)],
            "provider_language": None,
            "org_language": None,
            "preferred_channel": np.array([c.value for c in CHANNELS], dtype=object)[channel],
        }
    )
    truth = {
        "preferred_hour": preferred,
        "responsiveness": np.clip(rng.lognormal(0, 0.35, count), 0.3, 2.0),
        "channel": channel,
        "zone": zone,
    }
    return patients, truth


def _sent_messages(
    rng: np.random.Generator, patients: pd.DataFrame, truth: dict[str, np.ndarray], count: int
) -> pd.DataFrame:
    """The sent-message frame as the repository returns it, engagement drawn from the truth."""
    patient = rng.integers(0, len(patients), count)
    channel = np.where(
        rng.random(count) < 0.85, truth["channel"][patient], rng.integers(0, 3, count)
    ).astype(np.int8)
    weights = (np.array(PATIENT_ACTIVITY) + np.array(STAFF_ACTIVITY))[ALLOWED_HOURS]
    default_hour = rng.choice(ALLOWED_HOURS, count, p=weights / weights.sum())
    flexible = rng.random(count) < FLEXIBLE_SHARE
    explored = flexible & (rng.random(count) < EXPLORATION_SHARE)
    hour = np.where(explored, rng.choice(ALLOWED_HOURS, count), default_hour)
    propensity = np.where(
        flexible,
        EXPLORATION_SHARE / len(ALLOWED_HOURS) + (1 - EXPLORATION_SHARE) * (hour == default_hour),
        1.0,
    )
    minute = rng.integers(0, 60, count)
    day = (AS_OF.date() - date(1970, 1, 1)).days - rng.integers(1, HISTORY_DAYS + 1, count)
    naive = pd.to_datetime(day, unit="D") + pd.to_timedelta(hour * 60 + minute, unit="m")
    sent_at = np.empty(count, dtype="datetime64[ns]")
    zones = list(ZONES)
    zone = truth["zone"][patient]
    for code, name in enumerate(zones):
        members = np.flatnonzero(zone == code)
        local = pd.DatetimeIndex(naive[members]).tz_localize(
            name, ambiguous="NaT", nonexistent="shift_forward"
        )
        sent_at[members] = local.tz_convert("UTC").tz_localize(None).to_numpy()
    weekend = pd.DatetimeIndex(pd.to_datetime(day, unit="D")).day_of_week.to_numpy() >= 5
    minutes = draw_engagement(
        rng,
        truth["preferred_hour"][patient],
        truth["responsiveness"][patient],
        channel,
        hour + minute / 60,
        weekend,
    )
    engaged_at = pd.to_datetime(sent_at, utc=True) + pd.to_timedelta(minutes, unit="m")
    none = pd.DatetimeIndex(np.full(count, np.datetime64("NaT"), dtype="datetime64[ns]"), tz=UTC)
    is_sms = channel == channel_codes([Channel.SMS])[0]
    ids = pd.Categorical.from_codes(patient, categories=patients["patient_id"])
    return pd.DataFrame(
        {
            "job_id": np.arange(1, count + 1, dtype=np.int64),
            "patient_id": ids,
            "channel": pd.Categorical.from_codes(channel, categories=[c.value for c in CHANNELS]),
            "purpose": pd.Categorical.from_codes(
                flexible.astype(np.int8),
                categories=[Purpose.APPT_REMINDER.value, Purpose.CAMPAIGN_EDUCATION.value],
            ),
            "sent_at": pd.to_datetime(sent_at, utc=True),
            "opened_at": engaged_at.where(~is_sms, none),
            "clicked_at": none,
            "replied_at": engaged_at.where(is_sms, none),
            "send_time_source": pd.Categorical.from_codes(
                explored.astype(np.int8),
                categories=[SendTimeSource.DEFAULT.value, SendTimeSource.EXPLORATION.value],
            ),
            "send_time_propensity": propensity,
        }
    )


def main() -> None:
    events = int(sys.argv[1]) if len(sys.argv) > 1 else 10_000_000
    patient_count = int(sys.argv[2]) if len(sys.argv) > 2 else 1_000_000
    rng = np.random.default_rng(20261202)
    started = time.perf_counter()
    patients, truth = _population(rng, patient_count)
    sent = _sent_messages(rng, patients, truth, events)
    cohorts = patient_cohorts(patients, AS_OF.date())
    print(
        f"setup: {patient_count:,} patients, {len(sent):,} sent messages "
        f"({time.perf_counter() - started:.1f} s, not timed)"
    )
    learning = SendTimeLearning()

    started = time.perf_counter()
    table = engagement_table(
        sent,
        cohorts,
        prompt_window=learning.prompt_window,
        engagement_window=learning.engagement_window,
        max_weight=learning.max_weight,
    )
    tabled = time.perf_counter()
    fitted = fit_best_hour_model(table)
    trained = time.perf_counter()
    summary = summarise_history(table, fitted.model.prior)
    summarised = time.perf_counter()
    learnt = predict_best_hours(fitted.model, cohorts, summary)
    predicted = time.perf_counter()

    metrics = fitted.metrics
    hits = np.abs(learnt["best_hour"].to_numpy() - truth["preferred_hour"]) <= 1
    often = learnt["interactions"].to_numpy() >= 10
    print(f"engagement table: {tabled - started:.1f} s")
    print(
        f"fit: {trained - tabled:.1f} s ({metrics['training_sends']:,} training and "
        f"{metrics['heldout_sends']:,} held-out sends; held-out policy value "
        f"{metrics['heldout_policy_value']:.3f} vs cohort prior "
        f"{metrics['cohort_prior_policy_value']:.3f})"
    )
    print(
        f"summarise {len(summary.patient_ids):,} patients' histories: {summarised - trained:.1f} s"
    )
    print(
        f"predict_1m: {predicted - summarised:.1f} s for {len(learnt):,} patients "
        f"(within 1 h of the planted hour: {hits[often].mean():.3f} of those with 10+ messages)"
    )
    print(f"ml_train_10m: {trained - started:.1f} s")


if __name__ == "__main__":
    main()
