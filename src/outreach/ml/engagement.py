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


def _naive_utc(column: pd.Series) -> np.ndarray:
    """A column of instants as naive-UTC ``datetime64[ns]`` (NaT for missing)."""
    return pd.to_datetime(column, utc=True).dt.tz_localize(None).to_numpy(dtype="datetime64[ns]")


def _earliest(*columns: np.ndarray) -> np.ndarray:
    """Element-wise earliest of ``datetime64[ns]`` arrays, ignoring NaT (NaT where all are)."""
    latest = np.iinfo(np.int64).max
    stacked = np.stack([np.where(np.isnat(c), latest, c.view(np.int64)) for c in columns])
    earliest = stacked.min(axis=0)
    return np.where(earliest == latest, np.iinfo(np.int64).min, earliest).view("datetime64[ns]")


def _patient_positions(ids: pd.Series, patients: pd.Index) -> np.ndarray:
    """Each id's position in ``patients`` (-1 for unknown ones); categorical ids are looked up
    once per category."""
    if isinstance(ids.dtype, pd.CategoricalDtype):
        codes = ids.cat.codes.to_numpy()
        lookup = patients.get_indexer(ids.cat.categories)
        return np.where(codes >= 0, lookup[codes], -1)
    return patients.get_indexer(ids)


def _categorical(column: pd.Series) -> pd.Categorical:
    values = pd.Categorical(column)
    if not all(isinstance(c, str) for c in values.categories):
        values = values.rename_categories([str(c) for c in values.categories])
    return values


def engagement_table(
    sent: pd.DataFrame,
    cohorts: pd.DataFrame,
    *,
    prompt_window: timedelta,
    engagement_window: timedelta,
    max_weight: float,
) -> pd.DataFrame:
    """Sent messages of known patients, with local time, engagement, latency, weight and the
    patient's cohort features (the send's own channel replaces the preferred one).

    Text columns come out categorical (patient ids with every patient of ``cohorts`` as a
    category), which keeps ten million rows cheap to group and code.
    """
    positions = _patient_positions(sent["patient_id"], cohorts.index)
    known_mask = positions >= 0
    known = sent if known_mask.all() else sent[known_mask]
    rows = positions[known_mask]
    zone_codes, zone_names = pd.factorize(cohorts["timezone"].to_numpy())
    zones = zone_codes[rows]
    sent_at = _naive_utc(known["sent_at"])
    hours, weekdays = local_clock(sent_at, zones, zone_names)
    engaged_at = _earliest(
        *(_naive_utc(known[n]) for n in ("opened_at", "clicked_at", "replied_at"))
    )
    latency = np.clip((engaged_at - sent_at) / np.timedelta64(1, "h"), 0.0, None)
    with np.errstate(invalid="ignore"):
        prompt = latency <= prompt_window / timedelta(hours=1)
        within = latency <= engagement_window / timedelta(hours=1)
    seen = within & ~prompt
    engaged_hour = np.full(len(known), -1, dtype=np.int8)
    if seen.any():
        engaged_hour[seen] = local_clock(
            np.maximum(engaged_at[seen], sent_at[seen]), zones[seen], zone_names
        )[0]
    table = pd.DataFrame(
        {
            "job_id": known["job_id"].to_numpy(dtype="int64"),
            "patient_id": pd.Categorical.from_codes(rows, categories=cohorts.index),
            "channel": _categorical(known["channel"]),
            "purpose": _categorical(known["purpose"]),
            "sent_at": pd.DatetimeIndex(sent_at).tz_localize("UTC"),
            "local_hour": hours,
            "weekday": weekdays,
            "weekend": weekdays >= SATURDAY,
            "engaged": prompt,
            "engaged_later": seen,
            "engaged_hour": engaged_hour,
            "latency_hours": latency,
            "weight": inverse_propensity_weights(known["send_time_propensity"], max_weight),
        }
    )
    for feature in COHORT_FEATURES:
        if feature != "channel":
            levels = _categorical(cohorts[feature])
            table[feature] = pd.Categorical.from_codes(levels.codes[rows], levels.categories)
    return table
