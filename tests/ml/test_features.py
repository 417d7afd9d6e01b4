"""Cohort features: age bands and the resolution of language, zone and channel."""

from __future__ import annotations

from datetime import date

import pandas as pd

from outreach.ml.features import age_bands, patient_cohorts

from .factories import patients_frame


def test_age_bands_count_birthdays() -> None:
    births = pd.Series(["2008-06-01", "2008-06-02", "1946-01-01", None, "not a date"])

    bands = age_bands(births, date(2026, 6, 1)).tolist()

    assert bands == ["18-34", "0-17", "80+", "unknown", "unknown"]


def test_cohorts_resolve_like_preferences() -> None:
    patients = patients_frame(
        [
            {"patient_id": "a", "patient_language": "es-MX", "region": None},
            {
                "patient_id": "b",
                "patient_language": None,
                "provider_language": "fr",
                "org_language": "en",
                "patient_timezone": None,
                "provider_timezone": "Europe/Paris",
                "preferred_channel": None,
            },
        ]
    )

    cohorts = patient_cohorts(patients, date(2026, 6, 1))

    assert cohorts.loc["a", ["language", "region", "timezone"]].tolist() == ["es", "unknown", "UTC"]
    assert cohorts.loc["b", ["language", "timezone", "channel"]].tolist() == [
        "fr",
        "Europe/Paris",
        "sms",
    ]
