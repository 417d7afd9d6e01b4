"""Engagement tables and patient frames for the send-time model's tests."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, datetime, timedelta

import pandas as pd

from outreach.ml.engagement import engagement_table
from outreach.ml.features import patient_cohorts

AS_OF = datetime(2026, 6, 1, tzinfo=UTC)
PROMPT = timedelta(hours=1)
WINDOW = timedelta(hours=24)


def patients_frame(rows: Sequence[dict[str, object]]) -> pd.DataFrame:
    """The repository's patient frame, with the columns the rows leave out unset."""
    defaults: dict[str, object] = {
        "date_of_birth": "1980-05-05",
        "region": "NY",
        "patient_timezone": "UTC",
        "provider_timezone": None,
        "org_timezone": None,
        "patient_language": "en",
        "provider_language": None,
        "org_language": None,
        "preferred_channel": "email",
    }
    return pd.DataFrame([{**defaults, **row} for row in rows])


def sent_frame(rows: Sequence[dict[str, object]]) -> pd.DataFrame:
    """The repository's frame of sent messages; job ids count up from 1 unless given."""
    filled = []
    for number, row in enumerate(rows, start=1):
        filled.append(
            {
                "job_id": number,
                "channel": "email",
                "purpose": "campaign_education",
                "opened_at": None,
                "clicked_at": None,
                "replied_at": None,
                "send_time_source": "default",
                "send_time_propensity": 1.0,
                **row,
            }
        )
    frame = pd.DataFrame(filled)
    for name in ("sent_at", "opened_at", "clicked_at", "replied_at"):
        frame[name] = pd.to_datetime(frame[name], utc=True)
    return frame


def table_of(sent: pd.DataFrame, patients: pd.DataFrame, max_weight: float = 3.0) -> pd.DataFrame:
    cohorts = patient_cohorts(patients, AS_OF.date())
    return engagement_table(
        sent, cohorts, prompt_window=PROMPT, engagement_window=WINDOW, max_weight=max_weight
    )
