"""Features of patients and sends, built with pandas: cohorts, local hours, weekdays.

A patient's cohort is what the send-time model may know about someone it has not heard from yet:
age band, language, region and channel. Time zone and language resolve like preferences do
(patient, then provider, then organisation, then the global default), so the hour a message was
sent is read on the patient's own clock. Everything here works on whole columns: no Python loop
runs per patient or per send (only per time zone, of which there are few).
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import date

import numpy as np
import pandas as pd

from outreach.domain import Channel
from outreach.preferences.hierarchy import GLOBAL_DEFAULTS

COHORT_FEATURES = ("age_band", "channel", "language", "region")
UNKNOWN = "unknown"
# (lowest age, label): the bands cohorts are drawn by.
AGE_BANDS: tuple[tuple[int, str], ...] = (
    (0, "0-17"),
    (18, "18-34"),
    (35, "35-49"),
    (50, "50-64"),
    (65, "65-79"),
    (80, "80+"),
)
# Columns the repository's patient frame carries (the stored levels, unresolved).
PATIENT_COLUMNS = (
    "patient_id",
    "date_of_birth",
    "region",
    "patient_timezone",
    "provider_timezone",
    "org_timezone",
    "patient_language",
    "provider_language",
    "org_language",
    "preferred_channel",
)
DEFAULT_TIMEZONE: str = GLOBAL_DEFAULTS.timezone or "UTC"
DEFAULT_LANGUAGE: str = GLOBAL_DEFAULTS.language or "en"
DEFAULT_CHANNEL = Channel.SMS.value


def age_bands(date_of_birth: pd.Series, as_of: date) -> pd.Series:
    """Each birth date's age band on ``as_of`` (``unknown`` when missing)."""
    born = pd.to_datetime(date_of_birth, errors="coerce")
    years = as_of.year - born.dt.year
    had_birthday = (born.dt.month < as_of.month) | (
        (born.dt.month == as_of.month) & (born.dt.day <= as_of.day)
    )
    age = (years - (~had_birthday).astype(int)).to_numpy(dtype=float, na_value=np.nan)
    lows = np.array([low for low, _ in AGE_BANDS])
    labels = np.array([label for _, label in AGE_BANDS] + [UNKNOWN], dtype=object)
    index = np.searchsorted(lows, np.nan_to_num(age, nan=-1.0), side="right") - 1
    index = np.where(np.isnan(age) | (index < 0), len(AGE_BANDS), index)
    return pd.Series(labels[index], index=date_of_birth.index, dtype="object")


def _first_present(*columns: pd.Series, default: str) -> pd.Series:
    resolved = columns[0]
    for column in columns[1:]:
        resolved = resolved.where(resolved.notna(), column)
    return resolved.fillna(default)


def patient_cohorts(patients: pd.DataFrame, as_of: date) -> pd.DataFrame:
    """One row per patient (indexed by patient id): resolved ``timezone``, and the cohort
    features ``age_band``, ``language`` (primary subtag), ``region`` and ``channel`` (the
    preferred one; the model replaces it by the channel the patient is usually reached on)."""
    language = _first_present(
        patients["patient_language"],
        patients["provider_language"],
        patients["org_language"],
        default=DEFAULT_LANGUAGE,
    )
    cohorts = pd.DataFrame(
        {
            "timezone": _first_present(
                patients["patient_timezone"],
                patients["provider_timezone"],
                patients["org_timezone"],
                default=DEFAULT_TIMEZONE,
            ).to_numpy(),
            "age_band": age_bands(patients["date_of_birth"], as_of).to_numpy(),
            "language": language.str.split("-").str[0].str.lower().to_numpy(),
            "region": patients["region"].fillna(UNKNOWN).astype(str).to_numpy(),
            "channel": patients["preferred_channel"].fillna(DEFAULT_CHANNEL).astype(str).to_numpy(),
        },
        index=pd.Index(patients["patient_id"].astype(str).to_numpy(), name="patient_id"),
    )
    return cohorts[~cohorts.index.duplicated()]


def local_clock(
    instants: np.ndarray, zone_codes: np.ndarray, zone_names: Sequence[str]
) -> tuple[np.ndarray, np.ndarray]:
    """(local hour 0-23, local weekday 0 = Monday) of naive-UTC ``datetime64`` instants, each
    in the zone ``zone_names[zone_codes[i]]``: one vectorised conversion per zone."""
    hours = np.zeros(len(instants), dtype=np.int8)
    weekdays = np.zeros(len(instants), dtype=np.int8)
    order = np.argsort(zone_codes, kind="stable")
    bounds = np.searchsorted(zone_codes[order], np.arange(len(zone_names) + 1))
    for code, name in enumerate(zone_names):
        positions = order[bounds[code] : bounds[code + 1]]
        if not len(positions):
            continue
        local = pd.DatetimeIndex(instants[positions]).tz_localize("UTC").tz_convert(str(name))
        hours[positions] = local.hour.to_numpy()
        weekdays[positions] = local.day_of_week.to_numpy()
    return hours, weekdays
