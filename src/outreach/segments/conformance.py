"""The JSON Logic community's conformance suites, run on the in-memory segment engine.

A suite directory holds ``index.json`` (the suite files, in order) and the suites: lists of
``{description, rule, data, result}`` or ``{description, rule, data, error: {type}}`` (strings in
a list are section headings). A result matches when it is the same JSON value (``1`` and ``1.0``
are one number; ``true`` is not ``1``). An error matches when the engine failed with that type:
what a ``throw`` threw (its ``type`` when it threw an object), or for invalid arguments the
engine's own reason (``NaN``, ``Invalid Arguments``).

The cases we do not pass, and why, are listed in docs/segments.md.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from outreach.segments.evaluation import EvaluationError, evaluate

_NO_RESULT = object()


@dataclass(frozen=True, slots=True)
class ConformanceCase:
    suite: str
    description: str
    rule: Any
    data: Any
    result: Any = _NO_RESULT
    error_type: str | None = None


@dataclass(frozen=True, slots=True)
class CaseOutcome:
    case: ConformanceCase
    passed: bool
    got: str  # what the engine answered, as JSON, or "error <type>"


@dataclass(frozen=True, slots=True)
class ConformanceReport:
    outcomes: tuple[CaseOutcome, ...]

    @property
    def total(self) -> int:
        return len(self.outcomes)

    @property
    def passed(self) -> int:
        return sum(o.passed for o in self.outcomes)

    @property
    def failures(self) -> tuple[CaseOutcome, ...]:
        return tuple(o for o in self.outcomes if not o.passed)


def load_suites(directory: Path) -> list[ConformanceCase]:
    """Every case of the suites ``index.json`` lists (or of every ``*.json``, without one)."""
    index = directory / "index.json"
    if index.exists():
        names = json.loads(index.read_text(encoding="utf-8"))
    else:
        names = sorted(str(p.relative_to(directory)) for p in directory.rglob("*.json"))
    cases = []
    for name in names:
        for entry in json.loads((directory / name).read_text(encoding="utf-8")):
            if not isinstance(entry, dict):
                continue  # a section heading
            error = entry.get("error")
            cases.append(
                ConformanceCase(
                    suite=name,
                    description=str(entry.get("description", "")),
                    rule=entry.get("rule"),
                    data=entry.get("data"),
                    result=entry.get("result", _NO_RESULT),
                    error_type=str(error.get("type")) if isinstance(error, dict) else None,
                )
            )
    return cases


def error_type_of(error: EvaluationError) -> str:
    """The type a conformance case names for this engine error."""
    text = str(error)
    detail = text.split(": ", 1)[1] if ": " in text else text
    detail = detail.rsplit(" (in operator", 1)[0]
    if error.error_type == "Thrown":
        try:
            thrown = json.loads(detail)
        except ValueError:
            return detail
        if isinstance(thrown, dict) and "type" in thrown:
            return str(thrown["type"])
        return thrown if isinstance(thrown, str) else json.dumps(thrown)
    if error.error_type == "InvalidArguments":
        return detail
    return error.error_type


def same_json(left: Any, right: Any) -> bool:
    """Equal as JSON values: numbers by value (``1 == 1.0``), booleans never equal numbers."""
    if isinstance(left, bool) or isinstance(right, bool):
        return type(left) is type(right) and left == right
    if isinstance(left, int | float) and isinstance(right, int | float):
        return left == right
    if isinstance(left, list) and isinstance(right, list):
        return len(left) == len(right) and all(
            same_json(a, b) for a, b in zip(left, right, strict=True)
        )
    if isinstance(left, dict) and isinstance(right, dict):
        return left.keys() == right.keys() and all(same_json(left[k], right[k]) for k in left)
    return type(left) is type(right) and left == right


def run_case(case: ConformanceCase) -> CaseOutcome:
    try:
        answer = evaluate(case.rule, case.data)
    except EvaluationError as error:
        kind = error_type_of(error)
        return CaseOutcome(case, case.error_type == kind, f"error {kind}")
    got = json.dumps(answer)
    if case.result is _NO_RESULT:
        return CaseOutcome(case, False, got)
    return CaseOutcome(case, same_json(answer, case.result), got)


def run_conformance(cases: Sequence[ConformanceCase]) -> ConformanceReport:
    return ConformanceReport(tuple(run_case(case) for case in cases))
