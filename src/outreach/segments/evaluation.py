"""Segment rules evaluated in memory with datalogic-py (JSON Logic), domain operators added.

This engine is the reference for what a rule means: the SQL compiler reproduces its answers, and
where it cannot it refuses the rule. ``SegmentEvaluator`` compiles a rule once for a moment
``now`` and then judges patient records (``records.patient_record``) one by one.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from datetime import datetime
from functools import cache
from typing import Any

import datalogic_py

from outreach.segments.domain_operators import ENGINE_OPERATORS, bind_domain_operators

EvaluationError = datalogic_py.DataLogicError


@cache
def jsonlogic_engine() -> datalogic_py.Engine:
    """The shared engine: JSON Logic with its default (JavaScript-like) semantics plus the domain
    operators. Thread-safe, built on first use."""
    return datalogic_py.Engine(custom_operators=dict(ENGINE_OPERATORS))


def evaluate(rule: Any, data: Any) -> Any:
    """One rule on one document, as the engine says (raises ``EvaluationError``).

    Both go to the engine as JSON text: it reads a bare Python ``str`` as JSON, so the rule
    ``"apple"`` (a constant) would otherwise be read as malformed JSON.
    """
    return jsonlogic_engine().compile(json.dumps(rule)).evaluate(json.dumps(data))


def is_truthy(value: Any) -> bool:
    """JSON Logic's truthiness of a value, as the engine judges it."""
    return jsonlogic_engine().truthy(json.dumps(value))


class SegmentEvaluator:
    """One rule compiled for one moment; ``matches`` says whether a patient record is in it."""

    def __init__(
        self, rule: Any, *, now: datetime, segments: Mapping[int, Any] | None = None
    ) -> None:
        bound = bind_domain_operators(rule, now, segments)
        self._compiled = jsonlogic_engine().compile({"!!": [bound]})

    def matches(self, record: Mapping[str, Any]) -> bool:
        return self._compiled.evaluate(record) is True
