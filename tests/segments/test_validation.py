"""Rule validation: every problem at its JSON Pointer, with a code; limits; references."""

from __future__ import annotations

from typing import Any

import pytest

from outreach.segments import InvalidRule, RuleLimits, segment_catalogue, validate_rule
from outreach.segments.validation import pointer_to, segment_references

CATALOGUE = segment_catalogue({"plan": "string", "score": "number", "vip": "boolean"})


def problems(rule: Any, limits: RuleLimits | None = None, **kwargs: Any) -> list[tuple[str, str]]:
    with pytest.raises(InvalidRule) as refused:
        validate_rule(rule, CATALOGUE, limits or RuleLimits(), **kwargs)
    return [(e.pointer, e.code.value) for e in refused.value.errors]


@pytest.mark.parametrize(
    "rule",
    [
        True,
        {"var": "region"},
        {"==": [{"var": "region"}, "FL"]},
        {"===": [{"var": "last_attended_at"}, None]},
        {"<": [18, {"var": "age"}, 65]},
        {"in": [{"var": "attributes.plan"}, ["gold", "silver"]]},
        {"in": ["33", {"var": "postal_prefix"}]},
        {"!": {"var": "has_future_appointment"}},
        {"if": [{"var": "attributes.vip"}, True, {">": [{"var": "attributes.score"}, 2]}]},
        {">": [{"days_until": {"var": "next_appointment_at"}}, 7]},
        {">=": [{"event_count": ["no_show", 365]}, 2]},
        {"==": [{"!!": {"var": "sex"}}, False]},
        {"and": [{"or": [{"var": "language"}, {"var": "timezone"}]}, {"var": "contact_consent"}]},
    ],
)
def test_rules_of_the_language_validate(rule: Any) -> None:
    validate_rule(rule, CATALOGUE)


@pytest.mark.parametrize(
    ("rule", "expected"),
    [
        ({"var": "first_name"}, [("/var", "unknown_field")]),
        ({"var": "attributes.diagnosis"}, [("/var", "unknown_field")]),
        ({"var": ["region", "FL"]}, [("", "wrong_arguments")]),
        ({"var": 1}, [("", "wrong_arguments")]),
        ({"==": [{"var": "age"}, "65"]}, [("/==/1", "wrong_type")]),
        (
            {"<": [{"var": "contact_consent"}, True]},
            [("/</0", "wrong_type"), ("/</1", "wrong_type")],
        ),
        ({">": [{"var": "last_attended_at"}, 1]}, [("/>/0", "wrong_type")]),
        ({"days_since": {"var": "region"}}, [("/days_since", "wrong_type")]),
        ({"days_since": "2026-01-01"}, [("/days_since", "wrong_type")]),
        ({"in": [{"var": "region"}, ["FL", 3]]}, [("/in/1/1", "wrong_type")]),
        ({"in": [{"var": "contact_consent"}, [True]]}, [("/in/0", "wrong_type")]),
        ({"in": [1, {"var": "region"}]}, [("/in/0", "wrong_type")]),
        (
            {"event_count": ["visited", 0]},
            [("/event_count/0", "wrong_arguments"), ("/event_count/1", "wrong_arguments")],
        ),  # fmt: skip
        ({"+": [1, 2]}, [("", "unsupported_operator")]),
        ({"and": [True, {"map": [[1], {"var": ""}]}]}, [("/and/1", "unsupported_operator")]),
        ({"/": [1, 2]}, [("", "unsupported_operator")]),
        ({"!": [1, 2]}, [("", "wrong_arguments")]),
        ({"==": [1]}, [("", "wrong_arguments")]),
        ({">": [1, 2, 3]}, [("", "wrong_arguments")]),
        ({"and": []}, [("", "wrong_arguments")]),
        ({"region": "FL", "sex": "F"}, [("", "malformed")]),
        ({}, [("", "malformed")]),
        ([{"var": "region"}], [("", "malformed")]),
        ({"==": [{"var": "age"}, 2**60]}, [("/==/1", "wrong_type")]),
        ({"in_segment": "seniors"}, [("/in_segment", "wrong_arguments")]),
    ],
)
def test_each_problem_is_reported_where_it_is(rule: Any, expected: list) -> None:
    assert problems(rule) == expected


def test_operators_with_a_slash_are_escaped_in_pointers() -> None:
    assert pointer_to("", "/", 0) == "/~1/0" and pointer_to("/x", "a~b") == "/x/a~0b"
    assert problems({"and": [{"/": [1, 2]}]}) == [("/and/0", "unsupported_operator")]


def test_every_problem_is_listed_not_only_the_first() -> None:
    rule = {"and": [{"var": "ssn"}, {"==": [{"var": "age"}, "x"]}, {"foo": 1}]}
    assert problems(rule) == [
        ("/and/0/var", "unknown_field"),
        ("/and/1/==/1", "wrong_type"),
        ("/and/2", "unsupported_operator"),
    ]


def test_messages_name_fields_and_operators_never_the_rules_constants() -> None:
    with pytest.raises(InvalidRule) as refused:
        validate_rule({"==": [{"var": "age"}, "Maria Lopez 1961-05-04"]}, CATALOGUE)
    assert "Maria" not in str(refused.value) and "1961" not in str(refused.value.errors)


def test_limits() -> None:
    deep: Any = True
    for _ in range(5):
        deep = {"!": deep}
    assert problems(deep, RuleLimits(max_depth=4)) == [("/!/!/!/!", "too_deep")]
    wide = {"or": [{"==": [{"var": "region"}, "FL"]}] * 10}
    assert problems(wide, RuleLimits(max_nodes=20))[0][1] == "too_large"
    assert problems(wide, RuleLimits(max_chars=100)) == [("", "too_large")]
    listed = {"in": [{"var": "region"}, ["FL"] * 11]}
    assert problems(listed, RuleLimits(max_list_values=10)) == [("/in/1", "too_large")]
    validate_rule(wide, CATALOGUE, RuleLimits(max_nodes=31))
    abyss: Any = True
    for _ in range(100_000):
        abyss = [abyss]
    assert problems({"!": abyss}) == [("", "too_deep")]


def test_references_must_exist_and_never_loop() -> None:
    saved = {1: {"var": "region"}, 2: {"in_segment": 1}, 3: {"in_segment": 4}, 4: {"in_segment": 3}}
    assert validate_rule({"in_segment": 2}, CATALOGUE, segments=saved).references == {1, 2}
    assert problems({"in_segment": 9}, segments=saved) == [("/in_segment", "unknown_segment")]
    assert problems({"in_segment": 3}, segments=saved) == [("/in_segment", "segment_cycle")]
    # Saving segment 1 so that it reads 2, which reads 1.
    assert problems({"or": [True, {"in_segment": 2}]}, segments=saved, segment_id=1) == [
        ("/or/1/in_segment", "segment_cycle")
    ]
    chain = {n: {"in_segment": n + 1} for n in range(1, 6)} | {6: True}
    assert problems({"in_segment": 1}, RuleLimits(max_reference_depth=3), segments=chain) == [
        ("/in_segment", "too_deep")
    ]
    assert segment_references({"and": [{"in_segment": 5}, {"!": {"in_segment": [6]}}]}) == {5, 6}
