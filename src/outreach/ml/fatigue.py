"""The fatigue score: how many messages a patient got lately, against how few they engaged with.

    score = sends / (sends + FATIGUE_VOLUME_HALF) * (1 - engaged / sends)

over the fatigue window (two weeks by default): the share of recent messages left unanswered,
discounted when there were only a few. It is 0 for a patient with no recent message, and tends
to 1 for one who gets many and engages with none; four unanswered messages give 0.5, eight give
0.67, twelve of which six were engaged with give 0.38. A message counts as engaged with when it
was opened, clicked or answered within the engagement window. The preferences core lowers the
marketing caps of a patient whose score reaches the configured threshold (``FatiguePolicy``).
"""

from __future__ import annotations

from datetime import datetime, timedelta

import numpy as np
import pandas as pd

# Sends at which the volume factor is one half.
FATIGUE_VOLUME_HALF = 4.0


def fatigue_scores(table: pd.DataFrame, as_of: datetime, window: timedelta) -> pd.Series:
    """The score of every patient with a message in (as_of - window, as_of], by patient id."""
    sent_at = pd.to_datetime(table["sent_at"], utc=True)
    recent = table[(sent_at > pd.Timestamp(as_of - window)) & (sent_at <= pd.Timestamp(as_of))]
    engaged = recent["engaged"].to_numpy(dtype=bool) | recent["engaged_later"].to_numpy(dtype=bool)
    counts = (
        pd.DataFrame({"patient_id": recent["patient_id"].to_numpy(), "engaged": engaged})
        .groupby("patient_id")["engaged"]
        .agg(["size", "sum"])
    )
    sends = counts["size"].to_numpy(dtype=float)
    unanswered = 1.0 - counts["sum"].to_numpy(dtype=float) / np.maximum(sends, 1.0)
    score = sends / (sends + FATIGUE_VOLUME_HALF) * unanswered
    return pd.Series(score, index=counts.index, name="fatigue_score")
