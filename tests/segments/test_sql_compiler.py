"""Lowering rules to SQL conditions: exact translations, and refusals with their pointers."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from typing import Any

import pytest

from outreach.segments import SegmentNotCompilable, plan_segment, segment_catalogue
from outreach.segments.sql_compiler import (
    All,
    Always,
    AnyOf,
    BornOnOrBefore,
    Compare,
    Comparison,
    InstantAtMost,
    IsNull,
    Not,
)

NOW = datetime(2026, 3, 2, 15, 0, tzinfo=UTC)
CATALOGUE = segment_catalogue({"plan": "string"})


def plan(rule: Any) -> Any:
    return plan_segment(rule, CATALOGUE, now=NOW).condition


def test_days_since_becomes_a_range_of_the_date() -> None:
    last = CATALOGUE.get("last_attended_at")
    assert plan({">=": [{"days_since": {"var": "last_attended_at"}}, 182]}) == All(
        (Not(IsNull(last)), InstantAtMost(last, NOW - timedelta(days=182)))
    )
    # > 181.5 days means at least 182 whole days.
    assert plan({">": [{"days_since": {"var": "last_attended_at"}}, 181.5]}) == plan(
        {">=": [{"days_since": {"var": "last_attended_at"}}, 182]}
    )
    assert plan({"==": [{"days_since": {"var": "last_attended_at"}}, 1.5]}) == Always(False)


def test_age_becomes_a_range_of_the_date_of_birth() -> None:
    age = CATALOGUE.get("age")
    assert plan({"<": [{"var": "age"}, 18]}) == AnyOf(
        (IsNull(age), Not(BornOnOrBefore(date(2008, 3, 2))))
    )
    leap = plan_segment({">=": [{"var": "age"}, 1]}, CATALOGUE, now=NOW.replace(year=2028, day=1,
                        month=3) - timedelta(days=1)).condition  # fmt: skip
    assert leap == All((Not(IsNull(age)), BornOnOrBefore(date(2027, 2, 28))))


def test_a_missing_field_takes_the_engines_own_answer() -> None:
    region = CATALOGUE.get("region")
    # {"==": [null, ""]} is true in the engine: a missing region is "".
    assert plan({"==": [{"var": "region"}, ""]}) == AnyOf(
        (IsNull(region), Compare(plan_segment_measure("region"), Comparison.EQ, ""))
    )
    # {"!=": [null, "FL"]} is true: a patient without a region is not in Florida.
    assert isinstance(plan({"!=": [{"var": "region"}, "FL"]}), AnyOf)


def plan_segment_measure(name: str) -> Any:
    from outreach.segments.sql_compiler import FieldValue

    return FieldValue(CATALOGUE.get(name))


def test_constants_fold() -> None:
    assert plan({"<": [1, 2]}) == Always(True)
    assert plan({"and": [True, {"var": "region"}, False]}) == Always(False)
    assert plan({"in": ["b", "abc"]}) == Always(True)


def test_ages_out_of_the_calendar_are_constants() -> None:
    assert plan({">=": [{"var": "age"}, 100_000]}) == Always(False)
    # Every date is less than a billion days ahead; and a missing one counts as 0 >= -1e9.
    assert plan({">=": [{"days_since": {"var": "last_attended_at"}}, -(10**9)]}) == Always(True)


@pytest.mark.parametrize(
    ("rule", "pointer"),
    [
        ({"==": [{"var": "region"}, {"var": "sex"}]}, "/==/1"),
        ({"and": [True, {"<": [{"var": "age"}, {"var": "no_show_count"}]}]}, "/and/1/</1"),
        ({"==": [{"or": [{"var": "region"}, "FL"]}, "FL"]}, "/==/0"),
        ({"<": [{"if": [True, 1, 2]}, 3]}, "/</0"),
        ({"<": [{"var": "region"}, None]}, "/</0"),
        ({"in": [{"var": "region"}, {"var": "sex"}]}, "/in/0"),
    ],
)
def test_what_sql_cannot_reproduce_is_refused_at_its_node(rule: Any, pointer: str) -> None:
    with pytest.raises(SegmentNotCompilable) as refused:
        plan(rule)
    assert refused.value.pointer == pointer
    assert refused.value.as_dict()["code"] == "not_compilable"


def test_references_point_into_the_referenced_definition() -> None:
    saved = {3: {"==": [{"var": "region"}, {"var": "sex"}]}}
    with pytest.raises(SegmentNotCompilable) as refused:
        plan_segment({"!": {"in_segment": 3}}, CATALOGUE, now=NOW, segments=saved)
    assert refused.value.pointer == "/!/in_segment"
    assert refused.value.message.startswith("segment 3, at /==/1: two fields are compared")
