"""The fatigue score: recent sends against recent engagement."""

from __future__ import annotations

from datetime import timedelta

import pytest

from outreach.ml.fatigue import fatigue_scores

from .factories import AS_OF, patients_frame, sent_frame, table_of

WINDOW = timedelta(days=14)


def _sends(patient_id: str, count: int, engaged: int, days_ago: float = 1) -> list[dict]:
    sent_at = AS_OF - timedelta(days=days_ago)
    return [
        {
            "patient_id": patient_id,
            "sent_at": sent_at,
            "opened_at": sent_at + timedelta(hours=3) if number < engaged else None,
        }
        for number in range(count)
    ]


def test_many_unanswered_messages_score_high_and_answered_ones_low() -> None:
    patients = patients_frame([{"patient_id": p} for p in ("ignores", "reads", "few", "old")])
    sent = sent_frame(
        _sends("ignores", 8, 0)
        + _sends("reads", 12, 6)
        + _sends("few", 4, 0)
        # Unanswered, but three weeks ago: outside the window.
        + _sends("old", 10, 0, days_ago=21)
    )

    scores = fatigue_scores(table_of(sent, patients), AS_OF, WINDOW)

    assert scores["ignores"] == pytest.approx(8 / 12)
    assert scores["reads"] == pytest.approx(12 / 16 * 0.5)
    assert scores["few"] == pytest.approx(0.5)
    assert "old" not in scores.index  # no recent message: the caller scores 0
