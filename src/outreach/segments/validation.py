"""Is a segment rule well formed, within limits, over known fields, and typed consistently?

A rule is standard JSON Logic restricted to the operators below, plus the domain operators
(``days_since``, ``days_until``, ``event_count``, ``in_segment``). ``var`` names only fields of the
catalogue. Every problem is reported with an RFC 6901 JSON Pointer to the node at fault and a
code saying what is wrong; messages name operators and fields, never the constants of the rule.
The language is described for users in docs/segments.md.
"""

from __future__ import annotations

import enum
import json
import math
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from outreach.domain import AppointmentStatus
from outreach.segments.catalogue import Catalogue, FieldType

# Numbers beyond this are not exact as doubles, which is what both engines compare.
MAX_SAFE_NUMBER = 2**53
MAX_EVENT_COUNT_DAYS = 36_500

LOGIC_OPERATORS = frozenset({"and", "or", "!", "!!", "if"})
EQUALITY_OPERATORS = frozenset({"==", "!=", "===", "!=="})
ORDER_OPERATORS = frozenset({"<", "<=", ">", ">="})
# ``<`` and ``<=`` also take three arguments: ``a < b < c`` (between).
BETWEEN_OPERATORS = frozenset({"<", "<="})
DOMAIN_OPERATORS = frozenset({"days_since", "days_until", "event_count", "in_segment"})
SEGMENT_OPERATORS = (
    LOGIC_OPERATORS
    | EQUALITY_OPERATORS
    | ORDER_OPERATORS
    | DOMAIN_OPERATORS
    | frozenset({"var", "in"})
)
EVENT_STATUSES = tuple(s.value for s in AppointmentStatus)


class RuleErrorCode(enum.StrEnum):
    MALFORMED = "malformed"
    UNKNOWN_FIELD = "unknown_field"
    WRONG_TYPE = "wrong_type"
    UNSUPPORTED_OPERATOR = "unsupported_operator"
    WRONG_ARGUMENTS = "wrong_arguments"
    TOO_LARGE = "too_large"
    TOO_DEEP = "too_deep"
    UNKNOWN_SEGMENT = "unknown_segment"
    SEGMENT_CYCLE = "segment_cycle"


@dataclass(frozen=True, slots=True)
class RuleError:
    pointer: str  # RFC 6901, into the rule as submitted ("" is the whole rule)
    code: RuleErrorCode
    message: str

    def as_dict(self) -> dict[str, str]:
        return {"pointer": self.pointer, "code": self.code.value, "message": self.message}


class InvalidRule(ValueError):
    """The rule cannot be saved or run; ``errors`` says where and why (never rule constants)."""

    def __init__(self, errors: Sequence[RuleError]) -> None:
        self.errors = tuple(errors)
        first = self.errors[0]
        more = f" (and {len(self.errors) - 1} more)" if len(self.errors) > 1 else ""
        super().__init__(f"{first.pointer or '/'}: {first.message}{more}")


@dataclass(frozen=True, slots=True)
class RuleLimits:
    """How big a rule may be (the settings ``OUTREACH_SEGMENT_RULE_*``)."""

    max_chars: int = 20_000  # the rule as compact JSON
    max_nodes: int = 300  # operations, fields and constants, lists' items included
    max_depth: int = 16  # operations nested in operations
    max_list_values: int = 500  # items of the list of one ``in``
    max_reference_depth: int = 4  # segments within segments (in_segment)


class ValueType(enum.StrEnum):
    """What a node evaluates to, as far as can be known before running it."""

    STRING = "string"
    NUMBER = "number"
    BOOLEAN = "boolean"
    DATE = "date"
    NULL = "null"
    LIST = "list"
    ANY = "any"  # depends on the data (a mixed and/or/if)


_FIELD_VALUE_TYPES = {
    FieldType.STRING: ValueType.STRING,
    FieldType.NUMBER: ValueType.NUMBER,
    FieldType.BOOLEAN: ValueType.BOOLEAN,
    FieldType.DATE: ValueType.DATE,
}


def pointer_to(parent: str, *steps: str | int) -> str:
    """``parent`` extended by ``steps``, escaped as RFC 6901 says (``~`` -> ``~0``, ``/`` ->
    ``~1``, so the operator ``/`` would be ``~1``)."""
    escaped = (str(s).replace("~", "~0").replace("/", "~1") for s in steps)
    return parent + "".join("/" + s for s in escaped)


def operation(node: Any) -> tuple[str, list[Any]] | None:
    """``(operator, arguments)`` of an operation node, or None for a constant. A single
    argument may be given bare (``{"!": x}`` is ``{"!": [x]}``)."""
    if not isinstance(node, dict) or len(node) != 1:
        return None
    [(operator, arguments)] = node.items()
    return operator, (list(arguments) if isinstance(arguments, list) else [arguments])


def argument_pointers(pointer: str, node: dict[str, Any]) -> Iterator[str]:
    """The pointer of each argument of ``node`` (the operator's own when it was given bare)."""
    [(operator, arguments)] = node.items()
    if isinstance(arguments, list):
        for index in range(len(arguments)):
            yield pointer_to(pointer, operator, index)
    else:
        yield pointer_to(pointer, operator)


def var_name(arguments: list[Any]) -> str | None:
    """The field a ``var`` names, when it names one plainly (no default, no computed name)."""
    if len(arguments) == 1 and isinstance(arguments[0], str):
        return arguments[0]
    return None


def segment_references(rule: Any) -> set[int]:
    """Ids of the segments ``in_segment`` names anywhere in ``rule`` (well formed or not)."""
    found: set[int] = set()
    stack = [rule]
    while stack:
        node = stack.pop()
        if isinstance(node, list):
            stack.extend(node)
        elif isinstance(node, dict):
            for operator, arguments in node.items():
                if operator == "in_segment":
                    ids = arguments if isinstance(arguments, list) else [arguments]
                    found.update(i for i in ids if type(i) is int)
                stack.append(arguments)
    return found


@dataclass(frozen=True, slots=True)
class ValidatedRule:
    """A rule that passed validation, and the segments it reads (directly or not)."""

    rule: Any
    references: frozenset[int] = frozenset()


def validate_rule(
    rule: Any,
    catalogue: Catalogue,
    limits: RuleLimits = RuleLimits(),  # noqa: B008 - frozen, shared safely
    *,
    segments: Mapping[int, Any] | None = None,
    segment_id: int | None = None,
) -> ValidatedRule:
    """Check ``rule``; raises ``InvalidRule`` listing every problem found.

    ``segments``: the definitions ``in_segment`` may name (the organisation's saved segments,
    by id). ``segment_id``: the segment this rule is saved as, so a reference back to it is a
    cycle.
    """
    try:
        text = json.dumps(rule, separators=(",", ":"), allow_nan=False)
    except (TypeError, ValueError):
        raise InvalidRule(
            [RuleError("", RuleErrorCode.MALFORMED, "the rule is not JSON (or holds NaN)")]
        ) from None
    except RecursionError:
        raise InvalidRule(
            [RuleError("", RuleErrorCode.TOO_DEEP, "the rule is nested too deep to read")]
        ) from None
    if len(text) > limits.max_chars:
        raise InvalidRule(
            [
                RuleError(
                    "",
                    RuleErrorCode.TOO_LARGE,
                    f"the rule is {len(text)} characters long; at most {limits.max_chars}",
                )
            ]
        )
    checker = _Checker(catalogue, limits)
    checker.check(rule, "", 1)
    if not checker.errors:
        checker.check_references(rule, segments or {}, segment_id)
    if checker.errors:
        raise InvalidRule(checker.errors)
    return ValidatedRule(rule, frozenset(checker.references))


class _Stop(Exception):
    """A limit was passed: the walk ends with that one error."""


@dataclass
class _Checker:
    catalogue: Catalogue
    limits: RuleLimits
    errors: list[RuleError] = field(default_factory=list)
    references: set[int] = field(default_factory=set)
    nodes: int = 0

    def fail(self, pointer: str, code: RuleErrorCode, message: str) -> ValueType:
        self.errors.append(RuleError(pointer, code, message))
        return ValueType.ANY

    def check(self, node: Any, pointer: str, depth: int) -> ValueType:
        try:
            return self._node(node, pointer, depth)
        except _Stop:
            return ValueType.ANY

    def _count(self, pointer: str, depth: int) -> None:
        self.nodes += 1
        if self.nodes > self.limits.max_nodes:
            self.errors = [
                RuleError(
                    pointer,
                    RuleErrorCode.TOO_LARGE,
                    f"more than {self.limits.max_nodes} nodes (operations, fields, constants)",
                )
            ]
            raise _Stop
        if depth > self.limits.max_depth:
            self.errors = [
                RuleError(
                    pointer,
                    RuleErrorCode.TOO_DEEP,
                    f"operations nested more than {self.limits.max_depth} deep",
                )
            ]
            raise _Stop

    def _node(self, node: Any, pointer: str, depth: int) -> ValueType:
        self._count(pointer, depth)
        if node is None:
            return ValueType.NULL
        if isinstance(node, bool):
            return ValueType.BOOLEAN
        if isinstance(node, int | float):
            return self._number(node, pointer)
        if isinstance(node, str):
            return ValueType.STRING
        if isinstance(node, list):
            return self.fail(
                pointer, RuleErrorCode.MALFORMED, "a list is allowed only as the list of 'in'"
            )
        parsed = operation(node)
        if parsed is None:
            return self.fail(
                pointer,
                RuleErrorCode.MALFORMED,
                "an operation is an object with exactly one operator as its key",
            )
        operator, arguments = parsed
        pointers = list(argument_pointers(pointer, node))
        if operator not in SEGMENT_OPERATORS:
            return self.fail(
                pointer,
                RuleErrorCode.UNSUPPORTED_OPERATOR,
                f"operator {operator!r} is not in the segment language (docs/segments.md)",
            )
        if operator == "var":
            return self._var(arguments, pointer)
        if operator == "days_since" or operator == "days_until":
            return self._days(operator, arguments, pointers, pointer, depth)
        if operator == "event_count":
            return self._event_count(arguments, pointers, pointer, depth)
        if operator == "in_segment":
            return self._in_segment(arguments, pointers, pointer, depth)
        if operator == "in":
            return self._in(node, arguments, pointers, pointer, depth)
        if operator in EQUALITY_OPERATORS or operator in ORDER_OPERATORS:
            return self._comparison(operator, arguments, pointers, pointer, depth)
        return self._logic(operator, arguments, pointers, pointer, depth)

    def _number(self, value: float, pointer: str) -> ValueType:
        if not math.isfinite(value) or abs(value) > MAX_SAFE_NUMBER:
            return self.fail(
                pointer, RuleErrorCode.WRONG_TYPE, "numbers must be finite and at most 2^53"
            )
        return ValueType.NUMBER

    def _var(self, arguments: list[Any], pointer: str) -> ValueType:
        name = var_name(arguments)
        if name is None:
            return self.fail(
                pointer,
                RuleErrorCode.WRONG_ARGUMENTS,
                "'var' takes one field name (no default, no computed name)",
            )
        catalogue_field = self.catalogue.get(name)
        if catalogue_field is None:
            return self.fail(
                pointer_to(pointer, "var"),
                RuleErrorCode.UNKNOWN_FIELD,
                f"unknown field {name!r}; the catalogue lists the fields (docs/segments.md)",
            )
        return _FIELD_VALUE_TYPES[catalogue_field.type]

    def _arity(
        self, operator: str, arguments: list[Any], pointer: str, low: int, high: int | None
    ) -> bool:
        if len(arguments) < low or (high is not None and len(arguments) > high):
            wanted = str(low) if low == high else f"{low} to {high}" if high else f"{low} or more"
            self.fail(
                pointer,
                RuleErrorCode.WRONG_ARGUMENTS,
                f"{operator!r} takes {wanted} argument(s), not {len(arguments)}",
            )
            return False
        return True

    def _days(
        self,
        operator: str,
        arguments: list[Any],
        pointers: list[str],
        pointer: str,
        depth: int,
    ) -> ValueType:
        if not self._arity(operator, arguments, pointer, 1, 1):
            return ValueType.NUMBER
        value_type = self.check(arguments[0], pointers[0], depth + 1)
        parsed = operation(arguments[0])
        reads_field = parsed is not None and parsed[0] == "var"
        if reads_field and value_type is ValueType.ANY:
            return ValueType.NUMBER  # its unknown field is reported already
        if not reads_field or value_type is not ValueType.DATE:
            self.fail(
                pointers[0],
                RuleErrorCode.WRONG_TYPE,
                f'{operator!r} reads a date field, e.g. {{"var": "last_attended_at"}}',
            )
        return ValueType.NUMBER

    def _event_count(
        self, arguments: list[Any], pointers: list[str], pointer: str, depth: int
    ) -> ValueType:
        if not self._arity("event_count", arguments, pointer, 2, 2):
            return ValueType.NUMBER
        for argument_pointer in pointers:
            self._count(argument_pointer, depth + 1)
        status, days = arguments
        if status not in EVENT_STATUSES:
            self.fail(
                pointers[0],
                RuleErrorCode.WRONG_ARGUMENTS,
                "'event_count' counts appointments by status: one of " + ", ".join(EVENT_STATUSES),
            )
        if type(days) is not int or not 1 <= days <= MAX_EVENT_COUNT_DAYS:
            self.fail(
                pointers[1],
                RuleErrorCode.WRONG_ARGUMENTS,
                f"'event_count' looks back a whole number of days, 1 to {MAX_EVENT_COUNT_DAYS}",
            )
        return ValueType.NUMBER

    def _in_segment(
        self, arguments: list[Any], pointers: list[str], pointer: str, depth: int
    ) -> ValueType:
        if not self._arity("in_segment", arguments, pointer, 1, 1):
            return ValueType.BOOLEAN
        self._count(pointers[0], depth + 1)
        if type(arguments[0]) is not int or arguments[0] < 1:
            self.fail(pointers[0], RuleErrorCode.WRONG_ARGUMENTS, "'in_segment' takes a segment id")
        return ValueType.BOOLEAN

    def _in(
        self,
        node: dict[str, Any],
        arguments: list[Any],
        pointers: list[str],
        pointer: str,
        depth: int,
    ) -> ValueType:
        if not self._arity("in", arguments, pointer, 2, 2):
            return ValueType.BOOLEAN
        needle = self.check(arguments[0], pointers[0], depth + 1)
        haystack = arguments[1]
        if isinstance(haystack, list):
            self._count(pointers[1], depth + 1)
            self._list(needle, haystack, pointers, depth)
            return ValueType.BOOLEAN
        text = self.check(haystack, pointers[1], depth + 1)
        if text not in (ValueType.STRING, ValueType.ANY, ValueType.NULL):
            self.fail(
                pointers[1],
                RuleErrorCode.WRONG_TYPE,
                "'in' looks in a list of constants, or for a text inside a text field",
            )
        elif needle not in (ValueType.STRING, ValueType.ANY, ValueType.NULL):
            self.fail(pointers[0], RuleErrorCode.WRONG_TYPE, "'in' a text looks for a text")
        return ValueType.BOOLEAN

    def _list(self, needle: ValueType, items: list[Any], pointers: list[str], depth: int) -> None:
        if len(items) > self.limits.max_list_values:
            self.errors = [
                RuleError(
                    pointers[1],
                    RuleErrorCode.TOO_LARGE,
                    f"the list holds {len(items)} values; at most {self.limits.max_list_values}",
                )
            ]
            raise _Stop
        if needle not in (ValueType.STRING, ValueType.NUMBER, ValueType.ANY, ValueType.NULL):
            self.fail(
                pointers[0],
                RuleErrorCode.WRONG_TYPE,
                f"'in' a list looks for a text or a number, not a {needle.value}",
            )
            return
        wanted: ValueType | None = (
            needle if needle in (ValueType.STRING, ValueType.NUMBER) else None
        )
        for index, item in enumerate(items):
            item_pointer = pointer_to(pointers[1], index)
            self._count(item_pointer, depth + 2)
            item_type = (
                self._number(item, item_pointer)
                if isinstance(item, int | float) and not isinstance(item, bool)
                else ValueType.STRING
                if isinstance(item, str)
                else None
            )
            if item_type is None:
                self.fail(
                    item_pointer,
                    RuleErrorCode.WRONG_TYPE,
                    "the list of 'in' holds texts or numbers, written as constants",
                )
            elif wanted is None:
                wanted = item_type
            elif item_type is not wanted:
                self.fail(
                    item_pointer,
                    RuleErrorCode.WRONG_TYPE,
                    f"the list of 'in' mixes a {item_type.value} with {wanted.value}s",
                )

    def _comparison(
        self,
        operator: str,
        arguments: list[Any],
        pointers: list[str],
        pointer: str,
        depth: int,
    ) -> ValueType:
        high = 3 if operator in BETWEEN_OPERATORS else 2
        if not self._arity(operator, arguments, pointer, 2, high):
            return ValueType.BOOLEAN
        types = [self.check(a, p, depth + 1) for a, p in zip(arguments, pointers, strict=True)]
        known: ValueType | None = None
        for value_type, argument_pointer in zip(types, pointers, strict=True):
            if value_type in (ValueType.NULL, ValueType.ANY):
                continue
            if value_type is ValueType.DATE:
                others_null = all(t is ValueType.NULL for t in types if t is not ValueType.DATE)
                if operator not in EQUALITY_OPERATORS or not others_null:
                    self.fail(
                        argument_pointer,
                        RuleErrorCode.WRONG_TYPE,
                        "a date is compared through days_since or days_until "
                        "(or with null, to ask whether it is missing)",
                    )
                continue
            if value_type is ValueType.BOOLEAN and operator in ORDER_OPERATORS:
                self.fail(
                    argument_pointer,
                    RuleErrorCode.WRONG_TYPE,
                    f"{operator!r} orders numbers or texts, not booleans",
                )
                continue
            if known is None:
                known = value_type
            elif value_type is not known:
                self.fail(
                    argument_pointer,
                    RuleErrorCode.WRONG_TYPE,
                    f"{operator!r} compares a {known.value} with a {value_type.value}",
                )
        return ValueType.BOOLEAN

    def _logic(
        self,
        operator: str,
        arguments: list[Any],
        pointers: list[str],
        pointer: str,
        depth: int,
    ) -> ValueType:
        if operator in ("!", "!!"):
            if self._arity(operator, arguments, pointer, 1, 1):
                self.check(arguments[0], pointers[0], depth + 1)
            return ValueType.BOOLEAN
        low = 2 if operator == "if" else 1
        if not self._arity(operator, arguments, pointer, low, None):
            return ValueType.ANY
        types = [self.check(a, p, depth + 1) for a, p in zip(arguments, pointers, strict=True)]
        if operator == "if":
            # [condition, value, condition, value, ..., otherwise?]: only values are results.
            results = [types[i] for i in range(1, len(types), 2)]
            results.append(types[-1] if len(types) % 2 else ValueType.NULL)
        else:
            results = types
        distinct = {t for t in results if t is not ValueType.NULL}
        return distinct.pop() if len(distinct) == 1 else ValueType.ANY

    def check_references(
        self, rule: Any, segments: Mapping[int, Any], segment_id: int | None
    ) -> None:
        """Every ``in_segment`` names a known segment, with no cycle and within the depth."""
        for pointer, referenced in _reference_pointers(rule, ""):
            if referenced not in segments:
                self.fail(pointer, RuleErrorCode.UNKNOWN_SEGMENT, f"no segment {referenced}")
                continue
            path: list[int] = [segment_id] if segment_id is not None else []
            self._follow(referenced, segments, path, pointer, 1)

    def _follow(
        self,
        referenced: int,
        segments: Mapping[int, Any],
        path: list[int],
        pointer: str,
        depth: int,
    ) -> None:
        if referenced in path:
            chain = " -> ".join(str(s) for s in [*path, referenced])
            self.fail(pointer, RuleErrorCode.SEGMENT_CYCLE, f"segments refer in a cycle: {chain}")
            return
        if depth > self.limits.max_reference_depth:
            self.fail(
                pointer,
                RuleErrorCode.TOO_DEEP,
                f"segments nested more than {self.limits.max_reference_depth} deep",
            )
            return
        self.references.add(referenced)
        for inner in sorted(segment_references(segments.get(referenced))):
            if inner not in segments:
                self.fail(pointer, RuleErrorCode.UNKNOWN_SEGMENT, f"no segment {inner}")
                continue
            self._follow(inner, segments, [*path, referenced], pointer, depth + 1)


def _reference_pointers(node: Any, pointer: str) -> Iterator[tuple[str, int]]:
    parsed = operation(node)
    if parsed is None:
        return
    operator, arguments = parsed
    pointers = list(argument_pointers(pointer, node))
    if operator == "in_segment":
        if len(arguments) == 1 and type(arguments[0]) is int:
            yield pointers[0], arguments[0]
        return
    for argument, argument_pointer in zip(arguments, pointers, strict=True):
        yield from _reference_pointers(argument, argument_pointer)
