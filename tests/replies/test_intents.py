from __future__ import annotations

import json

import pytest

from outreach.replies import ParsedReply, ReplyIntent


def test_to_json_is_stable_and_complete() -> None:
    parsed = ParsedReply(ReplyIntent.STOP, 1.0, "en", "compliance:STOPALL", True)
    assert json.loads(parsed.to_json()) == {
        "intent": "stop",
        "confidence": 1.0,
        "language": "en",
        "matched_rule": "compliance:STOPALL",
        "is_stop_all": True,
    }
    assert parsed.to_json() == parsed.to_json()


def test_seven_intents() -> None:
    assert [i.value for i in ReplyIntent] == [
        "confirm", "reschedule", "cancel", "stop", "start", "help", "other",
    ]  # fmt: skip


@pytest.mark.parametrize("confidence", [-0.1, 1.01])
def test_confidence_must_be_a_probability(confidence: float) -> None:
    with pytest.raises(ValueError, match="confidence"):
        ParsedReply(ReplyIntent.CONFIRM, confidence)


def test_stop_all_only_on_stop() -> None:
    with pytest.raises(ValueError, match="is_stop_all"):
        ParsedReply(ReplyIntent.START, 1.0, is_stop_all=True)
