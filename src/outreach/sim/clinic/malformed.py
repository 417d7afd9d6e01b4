"""Deliberately broken ``core.events`` values, so the demo and tests can watch the DLQ fill.

Each is a mistake a real producer makes: a missing key, a garbled or naive timestamp, an
appointment without its time, a truncated write. The first five are rejected by
``parse_core_event``, the rest parse but fail in ``plan_event``.
"""

from __future__ import annotations

import json
import random
import uuid
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any

# Used when no day start is given: the values must not depend on the wall clock.
DEFAULT_MALFORMED_TIME = datetime(2025, 1, 6, 9, 0, tzinfo=UTC)


def _event(
    rng: random.Random, index: int, kind: str, occurred_at: str, data: dict[str, Any]
) -> dict[str, Any]:
    return {
        "event_id": str(uuid.UUID(int=rng.getrandbits(128), version=4)),
        "type": kind,
        "occurred_at": occurred_at,
        "org_id": "org-1",
        "provider_id": None,
        "patient_id": f"pat-malformed-{index:04d}",
        "data": data,
    }


def _not_json(rng: random.Random, index: int, at: datetime) -> bytes:
    whole = json.dumps(_event(rng, index, "appointment.booked", at.isoformat(), {}))
    return whole[: len(whole) // 2].encode()  # a write cut short


def _missing_patient(rng: random.Random, index: int, at: datetime) -> bytes:
    event = _event(rng, index, "lab.result_ready", at.isoformat(), {"result_id": f"lab-{index}"})
    del event["patient_id"]
    return json.dumps(event).encode()


def _bad_occurred_at(rng: random.Random, index: int, at: datetime) -> bytes:
    event = _event(
        rng, index, "rx.refill_due", "2025-13-45T25:61:00Z", {"prescription_id": f"rx-{index}"}
    )
    return json.dumps(event).encode()


def _naive_occurred_at(rng: random.Random, index: int, at: datetime) -> bytes:
    naive = at.replace(tzinfo=None).isoformat()  # which zone? refused rather than guessed
    return json.dumps(_event(rng, index, "patient.upserted", naive, {})).encode()


def _not_an_object(rng: random.Random, index: int, at: datetime) -> bytes:
    return json.dumps([_event(rng, index, "patient.upserted", at.isoformat(), {})]).encode()


def _booked_without_start(rng: random.Random, index: int, at: datetime) -> bytes:
    event = _event(
        rng,
        index,
        "appointment.booked",
        at.isoformat(),
        {"appointment_id": f"apt-malformed-{index}"},
    )
    return json.dumps(event).encode()


def _unknown_purpose(rng: random.Random, index: int, at: datetime) -> bytes:
    event = _event(
        rng,
        index,
        "comm.requested",
        at.isoformat(),
        {"purpose": "birthday_greeting", "context": {}},
    )
    return json.dumps(event).encode()


_KINDS: tuple[Callable[[random.Random, int, datetime], bytes], ...] = (
    _not_json,
    _missing_patient,
    _bad_occurred_at,
    _booked_without_start,
    _naive_occurred_at,
    _not_an_object,
    _unknown_purpose,
)
MALFORMED_KINDS = len(_KINDS)
# Share of a day's events the demo sends broken, to show the DLQ without drowning the summary.
MALFORMED_SHARE = 0.005


def malformed_events(
    rng_or_seed: random.Random | int, n: int, *, day_start: datetime | None = None
) -> list[bytes]:
    """``n`` raw ``core.events`` values that the worker must send to the DLQ, kinds in turn.

    Any ``n >= MALFORMED_KINDS`` holds each kind at least once. Deterministic for a seed (or
    for the generator's state); times fall within the day after ``day_start``.
    """
    rng = rng_or_seed if isinstance(rng_or_seed, random.Random) else random.Random(rng_or_seed)
    start = day_start if day_start is not None else DEFAULT_MALFORMED_TIME
    values = []
    for index in range(n):
        at = start + timedelta(seconds=rng.randrange(600, 86_400))
        values.append(_KINDS[index % len(_KINDS)](rng, index, at))
    return values
