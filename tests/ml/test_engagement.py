"""The engagement table: local time, prompt and later engagement, weights by propensity."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from .factories import patients_frame, sent_frame, table_of

SENT = datetime(2026, 3, 9, 13, 30, tzinfo=UTC)  # 09:30 in New York (EDT since the 8th)


def test_the_hour_is_read_on_the_patients_own_clock() -> None:
    patients = patients_frame(
        [
            {"patient_id": "ny", "patient_timezone": "America/New_York"},
            # No zone of their own: their provider's, then their organisation's.
            {"patient_id": "tokyo", "patient_timezone": None, "org_timezone": "Asia/Tokyo"},
            {"patient_id": "nowhere", "patient_timezone": None},
        ]
    )
    sent = sent_frame(
        [{"patient_id": p, "sent_at": SENT} for p in ("ny", "tokyo", "nowhere", "stranger")]
    )

    table = table_of(sent, patients).set_index("patient_id")

    assert table.loc["ny", "local_hour"] == 9
    assert table.loc["tokyo", "local_hour"] == 22
    assert table.loc["nowhere", "local_hour"] == 13  # UTC, the global default
    assert "stranger" not in table.index  # no stored patient: nothing to learn about
    assert table.loc["tokyo", "weekday"] == 0  # Monday night in Tokyo


def test_prompt_and_later_engagement_are_told_apart() -> None:
    patients = patients_frame([{"patient_id": "p", "patient_timezone": "America/New_York"}])
    sent = sent_frame(
        [
            {"patient_id": "p", "sent_at": SENT, "opened_at": SENT + timedelta(minutes=20)},
            # Answered that evening: not prompt, but it shows when the patient reads.
            {"patient_id": "p", "sent_at": SENT, "replied_at": SENT + timedelta(hours=9)},
            # Clicked two days later: outside the engagement window, not counted at all.
            {"patient_id": "p", "sent_at": SENT, "clicked_at": SENT + timedelta(days=2)},
            # The provider's clock stamped the open before ours stamped the send: immediate.
            {"patient_id": "p", "sent_at": SENT, "opened_at": SENT - timedelta(seconds=5)},
            {"patient_id": "p", "sent_at": SENT},
        ]
    )

    table = table_of(sent, patients)

    assert table["engaged"].tolist() == [True, False, False, True, False]
    assert table["engaged_later"].tolist() == [False, True, False, False, False]
    assert table["engaged_hour"].tolist() == [-1, 18, -1, -1, -1]
    assert table["latency_hours"].iloc[0] == pytest.approx(1 / 3)
    assert table["latency_hours"].iloc[3] == 0.0


def test_sends_are_weighted_by_the_inverse_of_their_hours_propensity() -> None:
    patients = patients_frame([{"patient_id": "p"}])
    sent = sent_frame(
        [
            {"patient_id": "p", "sent_at": SENT, "send_time_propensity": 1.0},
            {"patient_id": "p", "sent_at": SENT, "send_time_propensity": 0.5},
            # An explored hour (1 in 10 x 1 in 13) counts most, but no more than the cap.
            {"patient_id": "p", "sent_at": SENT, "send_time_propensity": 0.1 / 13},
            {"patient_id": "p", "sent_at": SENT, "send_time_propensity": None},
        ]
    )

    assert table_of(sent, patients, max_weight=3.0)["weight"].tolist() == [1.0, 2.0, 3.0, 1.0]
