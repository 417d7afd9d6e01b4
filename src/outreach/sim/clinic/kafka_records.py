"""How a synthetic core event goes on ``core.events``: keyed by patient, compact JSON value."""

from __future__ import annotations

import json
from typing import Any


def event_key(event: dict[str, Any]) -> bytes:
    """The Kafka key: the patient id, so one patient's events stay in order on one partition."""
    return str(event["patient_id"]).encode()


def event_value(event: dict[str, Any]) -> bytes:
    """The Kafka value: compact UTF-8 JSON, as the core platform publishes it."""
    return json.dumps(event, separators=(",", ":"), ensure_ascii=False).encode()
