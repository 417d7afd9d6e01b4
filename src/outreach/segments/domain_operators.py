"""The domain operators, as rules write them and as the in-memory engine runs them.

``{"days_since": {"var": F}}``  whole days from the date field F to now, rounded down (negative
                                when F is ahead); null when F is missing.
``{"days_until": {"var": F}}``  whole days from now to F, rounded down; null when F is missing.
``{"event_count": [S, N]}``     how many of the patient's appointments have status S
                                (booked, cancelled, no_show, attended) and started in the last N
                                days: ``now - N days <= starts_at <= now``.
``{"in_segment": ID}``          true when the patient is in the saved segment ID (same
                                organisation); its definition is read in place of the operator.

A JSON Logic engine's custom operators only see their evaluated arguments, so before a rule runs
``bind_domain_operators`` hands each operator what else it needs: the moment ``now`` as an ISO
text, and for ``event_count`` the patient's appointments (``{"var": "appointments"}``, a record key
no rule can name, since ``var`` names catalogue fields only).
"""

from __future__ import annotations

import json
from collections.abc import Callable, Mapping
from datetime import datetime, timedelta
from typing import Any

from outreach.segments.validation import operation

# The record key holding the patient's appointments for event_count (never a catalogue field).
APPOINTMENTS_KEY = "appointments"
_DAY = timedelta(days=1)


def _instant(value: Any) -> datetime | None:
    if not isinstance(value, str):
        return None
    try:
        moment = datetime.fromisoformat(value)
    except ValueError:
        return None
    return moment if moment.tzinfo is not None else None


def days_since(moment: datetime | None, now: datetime) -> int | None:
    return None if moment is None else (now - moment) // _DAY


def days_until(moment: datetime | None, now: datetime) -> int | None:
    return None if moment is None else (moment - now) // _DAY


def event_count(appointments: Any, status: str, days: int, now: datetime) -> int:
    """Appointments with ``status`` that started within the last ``days`` days (up to now)."""
    since = now - timedelta(days=days)
    count = 0
    for appointment in appointments if isinstance(appointments, list) else ():
        starts_at = _instant(appointment.get("starts_at"))
        if appointment.get("status") == status and starts_at is not None:
            count += since <= starts_at <= now
    return count


def _days_since_operator(arguments: str) -> str:
    value, now = json.loads(arguments)
    return json.dumps(days_since(_instant(value), datetime.fromisoformat(now)))


def _days_until_operator(arguments: str) -> str:
    value, now = json.loads(arguments)
    return json.dumps(days_until(_instant(value), datetime.fromisoformat(now)))


def _event_count_operator(arguments: str) -> str:
    status, days, now, appointments = json.loads(arguments)
    return json.dumps(event_count(appointments, status, days, datetime.fromisoformat(now)))


# name -> callable(JSON array of evaluated arguments) -> JSON result, as datalogic-py takes them.
ENGINE_OPERATORS: Mapping[str, Callable[[str], str]] = {
    "days_since": _days_since_operator,
    "days_until": _days_until_operator,
    "event_count": _event_count_operator,
}


def bind_domain_operators(
    rule: Any, now: datetime, segments: Mapping[int, Any] | None = None
) -> Any:
    """``rule`` ready for the engine: the domain operators given ``now`` and the appointments,
    and each ``in_segment`` replaced by its (bound) definition, as a boolean.

    ``segments`` must hold every definition referenced (validation checked there is no cycle).
    """
    now_text = now.isoformat()
    known = segments or {}

    def bind(node: Any, inlined: tuple[int, ...]) -> Any:
        if isinstance(node, list):
            return [bind(item, inlined) for item in node]
        parsed = operation(node)
        if parsed is None:
            return node
        operator, arguments = parsed
        if operator in ("days_since", "days_until"):
            return {operator: [bind(arguments[0], inlined), now_text]}
        if operator == "event_count":
            return {operator: [*arguments, now_text, {"var": APPOINTMENTS_KEY}]}
        if operator == "in_segment":
            segment_id = arguments[0]
            if segment_id in inlined or segment_id not in known:
                raise ValueError(f"segment {segment_id} is unknown or refers to itself")
            return {"!!": [bind(known[segment_id], (*inlined, segment_id))]}
        if operator == "var":
            return node
        [(key, value)] = node.items()
        return {key: bind(value, inlined)}

    return bind(rule, ())
