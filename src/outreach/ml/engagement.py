"""The engagement table: one row per message sent, with when (on the patient's clock) and whether
and how fast the patient engaged with it.

The repository reads sent messages and their first open, click and reply times; this module
turns them into what the models learn from:

- ``local_hour`` and ``weekday``: when the message went, in the patient's own zone;
- ``engaged``: opened, clicked or answered promptly (within the prompt window, an hour by
  default): what the send hour decides;
- ``engaged_later``: engaged with after that, within the engagement window (a day by default).
  The message waited until the patient looked, so ``engaged_hour`` (local) says when they were
  active, whatever the send hour was; ``latency_hours`` says how long it took;
- ``weight``: how much the send counts, by how its hour was chosen. A message sent at a random
  allowed hour (exploration) says more about the hours we rarely use than one sent at the hour
  a model or the default timing would have picked anyway, so each send is weighted by the inverse
  of the probability its hour had of being chosen (clipped, so a few sends cannot dominate).

A provider clock may stamp an engagement slightly before our own clock stamped the send; such
engagement counts as immediate.
"""

from __future__ import annotations

from datetime import timedelta

import numpy as np
import pandas as pd

from outreach.ml.features import COHORT_FEATURES, local_clock

# Columns the repository's frame of sent messages carries.
SENT_COLUMNS = (
    "job_id",
    "patient_id",
    "channel",
    "purpose",
    "sent_at",
    "opened_at",
    "clicked_at",
    "replied_at",
    "send_time_source",
    "send_time_propensity",
)
SATURDAY = 5


def empty_sent_frame() -> pd.DataFrame:
    """A frame of sent messages with no rows, typed as the repository builds them."""
    frame = pd.DataFrame({name: pd.Series(dtype="object") for name in SENT_COLUMNS})
    frame["job_id"] = frame["job_id"].astype("int64")
    for name in ("sent_at", "opened_at", "clicked_at", "replied_at"):
        frame[name] = pd.to_datetime(frame[name], utc=True)
    frame["send_time_propensity"] = frame["send_time_propensity"].astype(float)
    return frame


def inverse_propensity_weights(propensity: pd.Series, max_weight: float) -> np.ndarray:
    """1 / P(the send's hour was chosen), clipped to ``max_weight``; unknown propensity is 1."""
    chosen = pd.to_numeric(propensity, errors="coerce").fillna(1.0).to_numpy(dtype=float)
    return np.minimum(1.0 / np.clip(chosen, 1e-9, 1.0), max_weight)


def engagement_table(
    sent: pd.DataFrame,
    cohorts: pd.DataFrame,
    *,
    prompt_window: timedelta,
    engagement_window: timedelta,
    max_weight: float,
) -> pd.DataFrame:
    """Sent messages of known patients, with local time, engagement, latency, weight and the
    patient's cohort features (the send's own channel replaces the preferred one)."""
    known = sent[sent["patient_id"].isin(cohorts.index)]
    patient_rows = cohorts.loc[known["patient_id"].to_numpy()]
    sent_at = pd.to_datetime(known["sent_at"], utc=True)
    hours, weekdays = local_clock(sent_at, patient_rows["timezone"])
    engaged_at = pd.concat(
        [
            pd.to_datetime(known[name], utc=True)
            for name in ("opened_at", "clicked_at", "replied_at")
        ],
        axis=1,
    ).min(axis=1)
    latency = ((engaged_at - sent_at).dt.total_seconds() / 3600.0).clip(lower=0.0)
    prompt = (latency <= prompt_window.total_seconds() / 3600.0).to_numpy()
    within = (latency <= engagement_window.total_seconds() / 3600.0).to_numpy()
    engaged_hour = np.full(len(known), -1, dtype=np.int8)
    seen = within & ~prompt
    if seen.any():
        engaged_hour[seen] = local_clock(
            engaged_at[seen].clip(lower=sent_at[seen]), patient_rows["timezone"][seen]
        )[0]
    table = pd.DataFrame(
        {
            "job_id": known["job_id"].to_numpy(dtype="int64"),
            "patient_id": known["patient_id"].astype(str).to_numpy(),
            "channel": known["channel"].astype(str).to_numpy(),
            "purpose": known["purpose"].astype(str).to_numpy(),
            "sent_at": sent_at.to_numpy(),
            "local_hour": hours,
            "weekday": weekdays,
            "weekend": weekdays >= SATURDAY,
            "engaged": prompt,
            "engaged_later": seen,
            "engaged_hour": engaged_hour,
            "latency_hours": latency.to_numpy(),
            "weight": inverse_propensity_weights(known["send_time_propensity"], max_weight),
        }
    )
    for feature in COHORT_FEATURES:
        if feature != "channel":
            table[feature] = patient_rows[feature].to_numpy()
    table["sent_at"] = pd.to_datetime(table["sent_at"], utc=True)
    return table
