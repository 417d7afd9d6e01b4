"""The JSON Logic community suites (vendored) on the in-memory engine: the pass count holds."""

from __future__ import annotations

from pathlib import Path

from outreach.segments import load_suites, run_conformance
from outreach.segments.conformance import ConformanceCase, run_case, same_json

SUITES = Path(__file__).resolve().parents[1] / "data" / "jsonlogic-suites"
# Measured with datalogic-py 5.9; every case below it is listed in docs/segments.md.
PASSED_AT_LEAST = 1105
TOTAL = 1138
# The cases the engine does not pass (docs/segments.md, "JSON Logic conformance").
KNOWN_FAILURES = {
    ("arithmetic/plus.extra.json", "Plus operator with empty array dynamic"),
    ("arithmetic/plus.extra.json", "Plus operator with unary array dynamic"),
    ("arithmetic/plus.extra.json", "Plus operator with array dynamic"),
    ("arithmetic/multiply.extra.json", "Multiply with dynamic empty array"),
    ("arithmetic/multiply.extra.json", "Multiply with dynamic unary array"),
    ("arithmetic/multiply.extra.json", "Multiply with dynamic array"),
    ("arithmetic/minus.extra.json", "Minus with dynamic empty array"),
    ("arithmetic/minus.extra.json", "Minus with dynamic unary array"),
    ("arithmetic/minus.extra.json", "Minus with dynamic array"),
    ("arithmetic/divide.extra.json", "Divide with dynamic empty array"),
    ("arithmetic/divide.extra.json", "Divide with dynamic unary array"),
    ("arithmetic/divide.extra.json", "Divide with dynamic array"),
    ("arithmetic/modulo.extra.json", "Modulo with dynamic array invalid"),
    ("control/and.json", "And with no arguments should return false"),
    ("control/or.json", "Empty OR returns false"),
    ("control/if.json", "Objects are always truthy, even without keys."),
    ("control/if.json", "Returns first truthy value, some conditions truthy (8)"),
    ("control/not.json", "NOT empty object returns false"),
    ("control/doublebang.json", "Double bang on empty object returns true"),
    ("truthiness.json", "Truthy: {}"),
    ("truthiness.json", "Truthy: Zero Key Object"),
    ("array/map.json", "Map with null mapper should throw"),
    ("array/map.json", "Map with null array should throw"),
    ("array/filter.json", "Filter with null predicate should throw"),
    ("array/filter.json", "Filter with null array should throw"),
    ("array/merge.json", "Merge with null should be ignored"),
    ("array/all.json", "Null array should throw"),
    ("array/all.json", "Missing array returns error"),
    ("array/some.json", "Null array should throw"),
    ("array/some.json", "Missing array returns error"),
    ("array/none.json", "Null array should throw"),
    ("array/none.json", "Missing array returns error"),
}


def test_the_suites_pass_as_measured_and_only_the_documented_cases_fail() -> None:
    report = run_conformance(load_suites(SUITES))
    assert report.total == TOTAL
    assert report.passed >= PASSED_AT_LEAST
    failing = {(o.case.suite, o.case.description) for o in report.failures}
    assert failing <= KNOWN_FAILURES


def test_every_documented_failure_is_in_the_docs() -> None:
    page = (Path(__file__).resolve().parents[2] / "docs" / "segments.md").read_text()
    missing = [f"{s}: {d}" for s, d in KNOWN_FAILURES if d not in page]
    assert missing == []


def test_results_and_errors_are_judged_as_json() -> None:
    assert same_json(1, 1.0) and not same_json(1, True) and not same_json([0], [False])
    thrown = ConformanceCase("t", "throws", {"throw": "Boom"}, None, error_type="Boom")
    assert run_case(thrown).passed
    wrong = ConformanceCase("t", "wrong", {"+": [1, 1]}, None, result=3)
    assert not run_case(wrong).passed and run_case(wrong).got == "2"
