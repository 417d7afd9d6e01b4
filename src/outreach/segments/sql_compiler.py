"""A validated segment rule -> a plan of conditions the database answers exactly as memory does.

The in-memory engine (``evaluation``) defines what a rule means, JavaScript-like truthiness,
coercions and nulls included. This module lowers a rule to ``Condition`` values that a SQL
translator (``outreach.sql.segment_query``) renders one for one. Every condition it builds is
two-valued: never SQL's NULL, so ``NOT``, ``AND`` and ``OR`` mean what ``!``, ``and`` and ``or``
mean in memory. How, briefly:

- In a boolean position (the rule itself, ``!``, ``and``, ``or``, ``if``) an expression counts by
  its truthiness, so ``and``/``or``/``if`` become AND/OR of their operands' truthiness.
- A comparison may read one field (or ``days_since``, ``days_until``, ``event_count``) against
  constants. It is split on the field being missing: the missing case is a constant, which the
  engine itself computes (``{"<": [null, 5]}`` is true, ``{"==": [null, ""]}`` is true...); the
  present case compares values of one type, which SQL does exactly (texts by code point, case and
  trailing spaces included, numbers as doubles).
- ``days_since``/``days_until``/``age`` are whole numbers rounded down, so comparing them with a
  constant is comparing the date with a moment computed here (an index range, no arithmetic in
  SQL).

What cannot be reproduced exactly is refused with ``SegmentNotCompilable`` and the pointer of the
node: comparing two fields, comparing the value of an ``and``/``or``/``if``, ordering against
null, ``in`` with a computed list or needle. docs/segments.md lists these.
"""

from __future__ import annotations

import enum
import math
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from typing import Any

from outreach.segments.catalogue import Catalogue, CatalogueField, FieldType
from outreach.segments.evaluation import EvaluationError, evaluate, is_truthy
from outreach.segments.validation import (
    EQUALITY_OPERATORS,
    argument_pointers,
    operation,
    var_name,
)


class SegmentNotCompilable(ValueError):
    """The rule is valid but SQL cannot give exactly the in-memory answer for it."""

    def __init__(self, pointer: str, message: str) -> None:
        super().__init__(f"{pointer or '/'}: {message}")
        self.pointer = pointer
        self.message = message

    def as_dict(self) -> dict[str, str]:
        return {"pointer": self.pointer, "code": "not_compilable", "message": self.message}


class Comparison(enum.StrEnum):
    LT = "<"
    LE = "<="
    GT = ">"
    GE = ">="
    EQ = "="
    NE = "<>"


_OPERATOR_COMPARISON = {
    "<": Comparison.LT,
    "<=": Comparison.LE,
    ">": Comparison.GT,
    ">=": Comparison.GE,
    "==": Comparison.EQ,
    "===": Comparison.EQ,
    "!=": Comparison.NE,
    "!==": Comparison.NE,
}
# a < M is M > a: the comparison seen from the other side.
_MIRRORED = {
    Comparison.LT: Comparison.GT,
    Comparison.LE: Comparison.GE,
    Comparison.GT: Comparison.LT,
    Comparison.GE: Comparison.LE,
    Comparison.EQ: Comparison.EQ,
    Comparison.NE: Comparison.NE,
}
_STRICT = frozenset({"===", "!=="})


# ---- what the database reads ----


@dataclass(frozen=True, slots=True)
class FieldValue:
    field: CatalogueField


@dataclass(frozen=True, slots=True)
class EventCount:
    """How many of the patient's appointments have ``status`` and ``since <= starts_at <=
    until``."""

    status: str
    since: datetime
    until: datetime


Measure = FieldValue | EventCount


# ---- conditions: each true or false for every patient, never NULL ----


@dataclass(frozen=True, slots=True)
class Always:
    value: bool


@dataclass(frozen=True, slots=True)
class IsNull:
    field: CatalogueField


@dataclass(frozen=True, slots=True)
class IsTrue:
    """A boolean field is true (given it is present)."""

    field: CatalogueField


@dataclass(frozen=True, slots=True)
class IsNonEmpty:
    """A text field is not "" (given it is present)."""

    field: CatalogueField


@dataclass(frozen=True, slots=True)
class Compare:
    """A present text or number against a constant of its type (texts compared by code point)."""

    measure: Measure
    comparison: Comparison
    constant: str | float


@dataclass(frozen=True, slots=True)
class InList:
    measure: Measure
    constants: tuple[str | float, ...]


@dataclass(frozen=True, slots=True)
class Contains:
    """A present text field contains ``text`` (case-sensitive)."""

    field: CatalogueField
    text: str


@dataclass(frozen=True, slots=True)
class InstantAtMost:
    field: CatalogueField
    instant: datetime


@dataclass(frozen=True, slots=True)
class InstantAtLeast:
    field: CatalogueField
    instant: datetime


@dataclass(frozen=True, slots=True)
class BornOnOrBefore:
    """The date of birth is on or before ``day`` (age at least some whole number of years)."""

    day: date


@dataclass(frozen=True, slots=True)
class Not:
    condition: Condition


@dataclass(frozen=True, slots=True)
class All:
    conditions: tuple[Condition, ...]


@dataclass(frozen=True, slots=True)
class AnyOf:
    conditions: tuple[Condition, ...]


Condition = (
    Always
    | IsNull
    | IsTrue
    | IsNonEmpty
    | Compare
    | InList
    | Contains
    | InstantAtMost
    | InstantAtLeast
    | BornOnOrBefore
    | Not
    | All
    | AnyOf
)


@dataclass(frozen=True, slots=True)
class SegmentPlan:
    """The condition a patient meets to be in the segment, and the catalogue fields it reads."""

    condition: Condition
    fields: frozenset[str]
    now: datetime


def negate(condition: Condition) -> Condition:
    if isinstance(condition, Always):
        return Always(not condition.value)
    if isinstance(condition, Not):
        return condition.condition
    return Not(condition)


def all_of(*conditions: Condition) -> Condition:
    kept: list[Condition] = []
    for condition in conditions:
        if isinstance(condition, Always):
            if not condition.value:
                return condition
            continue
        kept.extend(condition.conditions if isinstance(condition, All) else [condition])
    if not kept:
        return Always(True)
    return kept[0] if len(kept) == 1 else All(tuple(kept))


def any_of(*conditions: Condition) -> Condition:
    kept: list[Condition] = []
    for condition in conditions:
        if isinstance(condition, Always):
            if condition.value:
                return condition
            continue
        kept.extend(condition.conditions if isinstance(condition, AnyOf) else [condition])
    if not kept:
        return Always(False)
    return kept[0] if len(kept) == 1 else AnyOf(tuple(kept))


# ---- operands: what a comparison compares ----


class _Kind(enum.Enum):
    TEXT = "text"  # a text field
    NUMBER = "number"  # a number the database holds or counts (attribute, count)
    METRIC = "metric"  # a whole number derived from a date: age, days_since, days_until
    FLAG = "flag"  # a boolean field
    DATE = "date"  # a date field itself
    CONDITION = "condition"  # the true/false of a condition (never missing)


@dataclass(frozen=True, slots=True)
class _Measured:
    kind: _Kind
    pointer: str
    field: CatalogueField | None = None  # the field read (for a metric: the date it counts from)
    measure: Measure | None = None  # TEXT, NUMBER
    metric: str | None = None  # METRIC: "age", "days_since" or "days_until"
    condition: Condition | None = None  # CONDITION

    @property
    def nullable(self) -> bool:
        return self.field is not None and not self.field.always_present


@dataclass(frozen=True, slots=True)
class _Constant:
    value: Any


def plan_segment(
    rule: Any,
    catalogue: Catalogue,
    *,
    now: datetime,
    segments: Mapping[int, Any] | None = None,
) -> SegmentPlan:
    """The plan of a validated rule at ``now``; raises ``SegmentNotCompilable``.

    ``segments``: every definition the rule reaches through ``in_segment`` (validated).
    """
    lowering = _Lowering(catalogue, now.astimezone(UTC), segments or {})
    condition = lowering.truthy(rule, "")
    return SegmentPlan(condition, frozenset(lowering.fields), now)


class _Lowering:
    def __init__(self, catalogue: Catalogue, now: datetime, segments: Mapping[int, Any]) -> None:
        self.catalogue = catalogue
        self.now = now
        self.today = now.date()
        self.segments = segments
        self.fields: set[str] = set()
        self.inlined: tuple[int, ...] = ()

    # -- boolean positions --

    def truthy(self, node: Any, pointer: str) -> Condition:
        parsed = operation(node)
        if parsed is None:
            return Always(is_truthy(node))
        operator, arguments = parsed
        pointers = list(argument_pointers(pointer, node))
        if operator == "!":
            return negate(self.truthy(arguments[0], pointers[0]))
        if operator == "!!":
            return self.truthy(arguments[0], pointers[0])
        if operator == "and":
            return all_of(*(self.truthy(a, p) for a, p in zip(arguments, pointers, strict=True)))
        if operator == "or":
            return any_of(*(self.truthy(a, p) for a, p in zip(arguments, pointers, strict=True)))
        if operator == "if":
            return self._if(arguments, pointers)
        if operator in _OPERATOR_COMPARISON:
            return self._comparison(operator, arguments, pointers)
        if operator == "in":
            return self._in(arguments, pointers)
        if operator == "in_segment":
            return self._in_segment(arguments[0], pointers[0])
        return self._measured_truthy(self._operand(node, pointer))

    def _if(self, arguments: list[Any], pointers: list[str]) -> Condition:
        if len(arguments) == 1:
            return self.truthy(arguments[0], pointers[0])
        test = self.truthy(arguments[0], pointers[0])
        then = self.truthy(arguments[1], pointers[1])
        otherwise = self._if(arguments[2:], pointers[2:]) if len(arguments) > 2 else Always(False)
        return any_of(all_of(test, then), all_of(negate(test), otherwise))

    def _in_segment(self, segment_id: Any, pointer: str) -> Condition:
        if segment_id in self.inlined or segment_id not in self.segments:
            raise SegmentNotCompilable(pointer, f"segment {segment_id} is unknown here")
        outer = self.inlined
        self.inlined = (*outer, segment_id)
        try:
            return self.truthy(self.segments[segment_id], "")
        except SegmentNotCompilable as inside:
            # The pointer stays in the rule as sent: at the reference, saying where inside.
            raise SegmentNotCompilable(
                pointer, f"segment {segment_id}, at {inside.pointer or '/'}: {inside.message}"
            ) from None
        finally:
            self.inlined = outer

    # -- operands --

    def _operand(self, node: Any, pointer: str) -> _Measured | _Constant:
        parsed = operation(node)
        if parsed is None:
            if isinstance(node, list):
                raise SegmentNotCompilable(pointer, "a list is compared")
            return _Constant(node)
        operator, arguments = parsed
        pointers = list(argument_pointers(pointer, node))
        if operator == "var":
            return self._field_operand(arguments, pointer)
        if operator in ("days_since", "days_until"):
            read = operation(arguments[0])
            if read is None or read[0] != "var":
                raise SegmentNotCompilable(pointers[0], f"{operator!r} reads a date field")
            date_field = self._field_operand(read[1], pointers[0])
            return _Measured(_Kind.METRIC, pointer, field=date_field.field, metric=operator)
        if operator == "event_count":
            status, days = arguments
            count = EventCount(status, self.now - timedelta(days=days), self.now)
            return _Measured(_Kind.NUMBER, pointer, measure=count)
        if operator in ("and", "or", "if"):
            raise SegmentNotCompilable(
                pointer,
                f"the value of {operator!r} (one of its arguments, whichever decides) is "
                "compared: SQL cannot reproduce that; compare fields inside it instead",
            )
        return _Measured(_Kind.CONDITION, pointer, condition=self.truthy(node, pointer))

    def _field_operand(self, arguments: list[Any], pointer: str) -> _Measured:
        name = var_name(arguments)
        catalogue_field = self.catalogue.get(name) if name is not None else None
        if catalogue_field is None:
            raise SegmentNotCompilable(pointer, "the rule reads an unknown field (validate it)")
        self.fields.add(catalogue_field.name)
        if catalogue_field.type is FieldType.STRING:
            return _Measured(
                _Kind.TEXT, pointer, field=catalogue_field, measure=FieldValue(catalogue_field)
            )
        if catalogue_field.type is FieldType.NUMBER:
            if catalogue_field.name == "age":
                return _Measured(_Kind.METRIC, pointer, field=catalogue_field, metric="age")
            return _Measured(
                _Kind.NUMBER, pointer, field=catalogue_field, measure=FieldValue(catalogue_field)
            )
        if catalogue_field.type is FieldType.BOOLEAN:
            return _Measured(_Kind.FLAG, pointer, field=catalogue_field)
        return _Measured(_Kind.DATE, pointer, field=catalogue_field)

    # -- a measured value's truthiness, presence and comparisons --

    def _is_null(self, measured: _Measured) -> Condition:
        if not measured.nullable or measured.field is None:
            return Always(False)
        return IsNull(measured.field)

    def _split_on_null(
        self, measured: _Measured, when_missing: bool, when_present: Condition
    ) -> Condition:
        """``when_missing`` if the value is missing, else ``when_present`` (two-valued)."""
        if not measured.nullable:
            return when_present
        missing = self._is_null(measured)
        if when_missing:
            return any_of(missing, when_present)
        return all_of(negate(missing), when_present)

    def _measured_truthy(self, measured: _Measured | _Constant) -> Condition:
        if isinstance(measured, _Constant):
            return Always(is_truthy(measured.value))
        return self._split_on_null(measured, is_truthy(None), self._present_truthy(measured))

    def _present_truthy(self, measured: _Measured) -> Condition:
        kind = measured.kind
        if kind is _Kind.TEXT:
            assert measured.field is not None
            return IsNonEmpty(measured.field)
        if kind is _Kind.NUMBER:
            assert measured.measure is not None
            return Compare(measured.measure, Comparison.NE, 0)
        if kind is _Kind.METRIC:
            return self._metric(measured, Comparison.NE, 0)
        if kind is _Kind.FLAG:
            assert measured.field is not None
            return IsTrue(measured.field)
        if kind is _Kind.DATE:
            return Always(True)  # an ISO text is never empty
        assert measured.condition is not None
        return measured.condition

    def _comparison(self, operator: str, arguments: list[Any], pointers: list[str]) -> Condition:
        operands = [self._operand(a, p) for a, p in zip(arguments, pointers, strict=True)]
        measured = [o for o in operands if isinstance(o, _Measured)]
        if not measured:
            return Always(self._fold({operator: arguments}, pointers[0]))
        if len(measured) > 1:
            raise SegmentNotCompilable(
                measured[1].pointer,
                "two fields are compared with each other: SQL cannot reproduce JSON Logic's "
                "coercions between them; compare each field with a constant",
            )
        [subject] = measured
        # The one field missing, the constants as they are.
        missing = [o.value if isinstance(o, _Constant) else None for o in operands]
        when_missing = (
            self._fold({operator: missing}, subject.pointer) if subject.nullable else False
        )
        pairs = [
            self._pair(operator, operands[i], operands[i + 1]) for i in range(len(operands) - 1)
        ]
        return self._split_on_null(subject, when_missing, all_of(*pairs))

    def _pair(
        self, operator: str, left: _Measured | _Constant, right: _Measured | _Constant
    ) -> Condition:
        if isinstance(left, _Constant) and isinstance(right, _Constant):
            return Always(self._fold({operator: [left.value, right.value]}, ""))
        comparison = _OPERATOR_COMPARISON[operator]
        if isinstance(left, _Measured):
            assert isinstance(right, _Constant)
            subject, constant = left, right.value
        else:
            assert isinstance(right, _Measured)
            subject, constant, comparison = right, left.value, _MIRRORED[comparison]
        if constant is None:
            return self._against_null(subject, operator, comparison)
        return self._present_compare(subject, comparison, constant)

    def _against_null(self, subject: _Measured, operator: str, comparison: Comparison) -> Condition:
        """A present value against null: loose equality holds for its type's zero ("", 0,
        false), strict equality never; an order against null is not compiled."""
        if operator not in EQUALITY_OPERATORS:
            raise SegmentNotCompilable(
                subject.pointer,
                f"{operator!r} orders a field against null: not compiled to SQL; "
                "use == null to ask whether a field is missing",
            )
        if operator in _STRICT:
            equal: Condition = Always(False)
        else:
            equal = negate(self._present_truthy(subject))
        return equal if comparison is Comparison.EQ else negate(equal)

    def _present_compare(
        self, subject: _Measured, comparison: Comparison, constant: Any
    ) -> Condition:
        kind = subject.kind
        is_number = isinstance(constant, int | float) and not isinstance(constant, bool)
        if kind is _Kind.TEXT and isinstance(constant, str):
            assert subject.measure is not None
            return Compare(subject.measure, comparison, constant)
        if kind is _Kind.NUMBER and is_number:
            assert subject.measure is not None
            return Compare(subject.measure, comparison, constant)
        if kind is _Kind.METRIC and is_number:
            return self._metric(subject, comparison, constant)
        if kind in (_Kind.FLAG, _Kind.CONDITION) and isinstance(constant, bool):
            if comparison not in (Comparison.EQ, Comparison.NE):
                raise SegmentNotCompilable(subject.pointer, "booleans are not ordered")
            true = self._present_truthy(subject)
            equal = true if constant else negate(true)
            return equal if comparison is Comparison.EQ else negate(equal)
        raise SegmentNotCompilable(
            subject.pointer,
            "a field is compared with a constant of another type: SQL cannot reproduce "
            "JSON Logic's coercion",
        )

    def _metric(self, subject: _Measured, comparison: Comparison, constant: float) -> Condition:
        """``age``/``days_since``/``days_until`` (whole numbers) against a number, as a range of
        the date they count from."""
        if comparison is Comparison.GE:
            return self._at_least(subject, math.ceil(constant))
        if comparison is Comparison.GT:
            return self._at_least(subject, math.floor(constant) + 1)
        if comparison is Comparison.LE:
            return negate(self._at_least(subject, math.floor(constant) + 1))
        if comparison is Comparison.LT:
            return negate(self._at_least(subject, math.ceil(constant)))
        whole = float(constant).is_integer()
        equal = (
            all_of(
                self._at_least(subject, int(constant)),
                negate(self._at_least(subject, int(constant) + 1)),
            )
            if whole
            else Always(False)
        )
        return equal if comparison is Comparison.EQ else negate(equal)

    def _at_least(self, subject: _Measured, years_or_days: int) -> Condition:
        """The metric is at least ``years_or_days``; out of the calendar's range it is a constant
        (no date is that far)."""
        assert subject.field is not None
        try:
            if subject.metric == "age":
                return BornOnOrBefore(_latest_birth_date(self.today, years_or_days))
            if subject.metric == "days_since":
                return InstantAtMost(subject.field, self.now - timedelta(days=years_or_days))
            return InstantAtLeast(subject.field, self.now + timedelta(days=years_or_days))
        except (OverflowError, ValueError):
            return Always(years_or_days < 0)

    def _in(self, arguments: list[Any], pointers: list[str]) -> Condition:
        needle_node, haystack_node = arguments
        if isinstance(haystack_node, list):
            needle = self._operand(needle_node, pointers[0])
            if isinstance(needle, _Constant):
                return Always(self._fold({"in": [needle.value, haystack_node]}, pointers[0]))
            when_missing = (
                self._fold({"in": [None, haystack_node]}, pointers[0]) if needle.nullable else False
            )
            return self._split_on_null(
                needle, when_missing, self._present_in_list(needle, haystack_node)
            )
        haystack = self._operand(haystack_node, pointers[1])
        needle = self._operand(needle_node, pointers[0])
        if isinstance(haystack, _Constant) and isinstance(needle, _Constant):
            return Always(self._fold({"in": [needle.value, haystack.value]}, pointers[0]))
        if (
            not isinstance(needle, _Constant)
            or not isinstance(needle.value, str)
            or not isinstance(haystack, _Measured)
            or haystack.kind is not _Kind.TEXT
        ):
            raise SegmentNotCompilable(
                pointers[0],
                "'in' on texts is compiled for a constant text inside a text field only",
            )
        assert haystack.field is not None
        when_missing = (
            self._fold({"in": [needle.value, None]}, pointers[1]) if haystack.nullable else False
        )
        return self._split_on_null(haystack, when_missing, Contains(haystack.field, needle.value))

    def _present_in_list(self, needle: _Measured, items: list[Any]) -> Condition:
        if needle.kind is _Kind.METRIC:
            return any_of(*(self._metric(needle, Comparison.EQ, item) for item in items))
        if needle.kind in (_Kind.TEXT, _Kind.NUMBER) and needle.measure is not None:
            wanted = str if needle.kind is _Kind.TEXT else (int, float)
            if all(isinstance(i, wanted) and not isinstance(i, bool) for i in items):
                return InList(needle.measure, tuple(items)) if items else Always(False)
        raise SegmentNotCompilable(
            needle.pointer, "'in' a list is compiled for a text or number field of that type"
        )

    def _fold(self, rule: Any, pointer: str) -> bool:
        """What the engine answers for a rule of constants (the missing-field case)."""
        try:
            return is_truthy(evaluate(rule, {}))
        except EvaluationError:
            raise SegmentNotCompilable(
                pointer, "JSON Logic fails on this comparison when the field is missing"
            ) from None


def _latest_birth_date(today: date, years: int) -> date:
    """The latest date of birth of someone at least ``years`` old ``today``."""
    year = today.year - years
    if today.month == 2 and today.day == 29:
        try:
            return date(year, 2, 29)
        except ValueError:
            return date(year, 2, 28)
    return date(year, today.month, today.day)
