"""What a patient's reply means: the intent vocabulary and the parser's result value."""

from __future__ import annotations

import enum
import json
from dataclasses import asdict, dataclass


class ReplyIntent(enum.StrEnum):
    """The seven things a reply can mean to the engine."""

    CONFIRM = "confirm"
    RESCHEDULE = "reschedule"
    CANCEL = "cancel"  # cancel the appointment; the bare keyword CANCEL is an opt-out (STOP)
    STOP = "stop"  # opt out of messages
    START = "start"  # opt back in
    HELP = "help"  # what is this service, how do I answer
    OTHER = "other"  # anything else: a person reads it


@dataclass(frozen=True, slots=True)
class ParsedReply:
    """The parser's verdict on one inbound message. It never carries the message body.

    ``matched_rule`` names the layer that decided, e.g. ``"compliance:STOP"``,
    ``"optout_phrase:es"``, ``"option:C"``, ``"emoji"``, ``"phrase:fr:cancel"``,
    ``"classifier"`` or ``"fallback:low_confidence"``.
    """

    intent: ReplyIntent
    confidence: float
    language: str | None = None
    matched_rule: str | None = None
    is_stop_all: bool = False

    def __post_init__(self) -> None:
        if not 0.0 <= self.confidence <= 1.0:
            raise ValueError(f"confidence must lie in [0, 1], got {self.confidence!r}")
        if self.is_stop_all and self.intent is not ReplyIntent.STOP:
            raise ValueError("is_stop_all only makes sense for a STOP reply")

    def to_dict(self) -> dict[str, object]:
        """JSON-ready mapping (intent as its string value, confidence rounded to 4 places)."""
        values = asdict(self)
        values["intent"] = self.intent.value
        values["confidence"] = round(self.confidence, 4)
        return values

    def to_json(self) -> str:
        """The verdict as a compact JSON object with sorted keys."""
        return json.dumps(self.to_dict(), sort_keys=True, ensure_ascii=False)
