"""Static analysis of a template's syntax tree: every variable it reads, every construct it uses.

Jinja's ``meta.find_undeclared_variables`` answers a different question (what the context must
provide) and misses reads through attribute access, ``|attr``, ``self``, loops and macros. Here
the rule is a whitelist: a template may only consist of text, output, ``if``, literals, plain
names, ``~``, ``and``/``or``/``not``, ``==``/``!=`` and whitelisted filters and tests with
literal arguments, within the size limits of ``budget.py``. Anything else is reported, and
every plain name is reported as a read wherever it appears (a name tested in ``{% if %}`` leaks
as surely as one printed). The analysis is policy-free; ``validation.py`` judges the reads
against the PHI policy.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from functools import lru_cache

from jinja2 import TemplateSyntaxError, nodes
from jinja2.sandbox import ImmutableSandboxedEnvironment

from outreach.templating.budget import structure_problems
from outreach.templating.environment import (
    ALLOWED_COMPARISONS,
    ALLOWED_FILTERS,
    ALLOWED_TESTS,
    build_environment,
)
from outreach.templating.errors import ViolationCode
from outreach.templating.formatting import DATE_STYLES, TIME_STYLES

# Node types a patient template may contain; matched exactly, never by subclass.
_ALLOWED_NODES: frozenset[type[nodes.Node]] = frozenset(
    {
        nodes.Template,
        nodes.Output,
        nodes.TemplateData,
        nodes.Const,
        nodes.Name,
        nodes.Filter,
        nodes.Test,
        nodes.If,
        nodes.CondExpr,
        nodes.And,
        nodes.Or,
        nodes.Not,
        nodes.Compare,
        nodes.Operand,
        nodes.Concat,
    }
)

# How refused constructs are named to the staff member who wrote them.
_CONSTRUCT_LABELS: dict[type[nodes.Node], str] = {
    nodes.Getattr: "attribute access",
    nodes.Getitem: "item access",
    nodes.Slice: "slice",
    nodes.Call: "function call",
    nodes.Assign: "{% set %}",
    nodes.AssignBlock: "{% set %} block",
    nodes.Macro: "{% macro %}",
    nodes.CallBlock: "{% call %}",
    nodes.For: "{% for %}",
    nodes.With: "{% with %}",
    nodes.Include: "{% include %}",
    nodes.Import: "{% import %}",
    nodes.FromImport: "{% from ... import %}",
    nodes.Extends: "{% extends %}",
    nodes.Block: "{% block %}",
    nodes.FilterBlock: "{% filter %}",
    nodes.ScopedEvalContextModifier: "{% autoescape %}",
    nodes.EvalContextModifier: "eval context modifier",
    nodes.Dict: "dict literal",
    nodes.List: "list literal",
    nodes.Tuple: "tuple literal",
    nodes.NSRef: "namespace attribute",
    nodes.Mod: "% formatting",
    nodes.Add: "arithmetic (+)",
    nodes.Sub: "arithmetic (-)",
    nodes.Mul: "arithmetic (*)",
    nodes.Div: "arithmetic (/)",
    nodes.FloorDiv: "arithmetic (//)",
    nodes.Pow: "arithmetic (**)",
    nodes.Neg: "unary minus",
    nodes.Pos: "unary plus",
}

_LITERAL_TYPES = (str, int, float, bool, type(None))
_STYLE_ARGUMENTS: dict[str, frozenset[str]] = {
    "format_date": DATE_STYLES,
    "format_time": TIME_STYLES,
}


@lru_cache(maxsize=1)
def _parser() -> ImmutableSandboxedEnvironment:
    # Parsing needs only the syntax configuration, which both environments share.
    return build_environment(autoescape=False)


@dataclass(frozen=True, slots=True)
class VariableRead:
    name: str
    line: int


@dataclass(frozen=True, slots=True)
class Finding:
    """A construct, filter or argument the whitelist does not admit."""

    code: ViolationCode
    subject: str
    line: int | None
    message: str


@dataclass(frozen=True, slots=True)
class TemplateAnalysis:
    reads: tuple[VariableRead, ...]  # in source order, repeats included
    findings: tuple[Finding, ...]

    @property
    def names(self) -> tuple[str, ...]:
        """Distinct variable names in order of first appearance."""
        return tuple(dict.fromkeys(read.name for read in self.reads))


def _describe(node: nodes.Node) -> str:
    """A readable label for a refused node, naming the attribute or key it reaches for."""
    if isinstance(node, nodes.Getattr):
        return f"{_describe_target(node.node)}.{node.attr}"
    if isinstance(node, nodes.Getitem):
        key = node.arg.value if isinstance(node.arg, nodes.Const) else "..."
        return f"{_describe_target(node.node)}[{key!r}]"
    if isinstance(node, nodes.Call):
        return f"{_describe_target(node.node)}()"
    return _CONSTRUCT_LABELS.get(type(node), type(node).__name__)


def _describe_target(node: nodes.Node) -> str:
    if isinstance(node, nodes.Name):
        return node.name
    if isinstance(node, nodes.Const):
        return repr(node.value)
    if isinstance(node, nodes.Getattr | nodes.Getitem | nodes.Call):
        return _describe(node)
    return "(...)"


def _line(node: nodes.Node) -> int | None:
    return getattr(node, "lineno", None)


class _Walker:
    def __init__(self) -> None:
        self.reads: list[VariableRead] = []
        self.findings: list[Finding] = []

    def report(self, code: ViolationCode, subject: str, node: nodes.Node, message: str) -> None:
        self.findings.append(Finding(code, subject, _line(node), message))

    def walk(self, root: nodes.Node) -> None:
        # Iterative pre-order walk: source order, and no recursion limit on deep expressions.
        stack: list[nodes.Node] = [root]
        while stack:
            node = stack.pop()
            children = list(self.inspect(node))
            stack.extend(reversed(children))

    def inspect(self, node: nodes.Node) -> Iterator[nodes.Node]:
        """Check one node and yield the children to walk next (refused nodes are walked too,
        so the PHI they reach for is reported as well)."""
        kind = type(node)
        if kind not in _ALLOWED_NODES:
            label = _describe(node)
            self.report(ViolationCode.FORBIDDEN_CONSTRUCT, label, node, f"{label} is not allowed")
            yield from node.iter_child_nodes()
            return
        if isinstance(node, nodes.Name):
            if node.ctx == "load":
                self.reads.append(VariableRead(node.name, node.lineno))
            return
        if isinstance(node, nodes.Const):
            if not isinstance(node.value, _LITERAL_TYPES):
                self.report(ViolationCode.BAD_ARGUMENT, repr(node.value), node, "odd literal")
            return
        if isinstance(node, nodes.Filter | nodes.Test):
            yield from self.inspect_call_like(node)
            return
        if isinstance(node, nodes.Compare):
            for operand in node.ops:  # operands carry no line number; their comparison does
                if operand.op not in ALLOWED_COMPARISONS:
                    self.report(
                        ViolationCode.FORBIDDEN_CONSTRUCT,
                        f"comparison {operand.op}",
                        node,
                        f"comparison {operand.op!r} is not allowed (only == and !=)",
                    )
        yield from node.iter_child_nodes()

    def inspect_call_like(self, node: nodes.Filter | nodes.Test) -> Iterator[nodes.Node]:
        is_filter = isinstance(node, nodes.Filter)
        allowed = ALLOWED_FILTERS if is_filter else ALLOWED_TESTS
        what = "filter" if is_filter else "test"
        if node.name not in allowed:
            self.report(
                ViolationCode.FORBIDDEN_FILTER,
                f"|{node.name}" if is_filter else f"is {node.name}",
                node,
                f"{what} {node.name!r} is not allowed",
            )
        arguments: list[nodes.Expr] = list(node.args) + [kw.value for kw in node.kwargs]
        for argument in arguments:
            if not isinstance(argument, nodes.Const):
                self.report(
                    ViolationCode.BAD_ARGUMENT,
                    f"{node.name}(...)",
                    node,
                    f"arguments of {what} {node.name!r} must be literals",
                )
        for dynamic in (node.dyn_args, node.dyn_kwargs):
            if dynamic is not None:
                self.report(
                    ViolationCode.BAD_ARGUMENT,
                    f"{node.name}(*...)",
                    node,
                    f"{what} {node.name!r} may not take *args or **kwargs",
                )
                arguments.append(dynamic)
        styles = _STYLE_ARGUMENTS.get(node.name) if is_filter else None
        if styles is not None:
            for argument in arguments:
                if isinstance(argument, nodes.Const) and argument.value not in styles:
                    self.report(
                        ViolationCode.BAD_ARGUMENT,
                        f"{node.name}({argument.value!r})",
                        node,
                        f"{node.name} style must be one of {sorted(styles)}",
                    )
        if node.node is not None:
            yield node.node
        yield from arguments


@lru_cache(maxsize=4096)
def analyse_source(source: str) -> TemplateAnalysis:
    """Every variable ``source`` reads and every construct outside the whitelist.

    A syntax error is a finding, not an exception: a template that does not parse is refused
    like any other.
    """
    try:
        tree = _parser().parse(source)
    except TemplateSyntaxError as error:
        finding = Finding(ViolationCode.SYNTAX_ERROR, "syntax", error.lineno, error.message or "")
        return TemplateAnalysis((), (finding,))
    except RecursionError:  # Jinja's parser recurses once per nested parenthesis or operator
        finding = Finding(ViolationCode.STRUCTURE, "nesting", None, "nested far too deeply")
        return TemplateAnalysis((), (finding,))
    walker = _Walker()
    walker.walk(tree)
    for problem in structure_problems(tree):
        walker.findings.append(Finding(ViolationCode.STRUCTURE, "size", None, problem))
    return TemplateAnalysis(tuple(walker.reads), tuple(walker.findings))


def variables_read(*sources: str) -> tuple[str, ...]:
    """The distinct variables ``sources`` read, in order of first use (earlier sources first).

    What a template declares when its author does not list the variables by hand (the console's
    editor); for WhatsApp the body's order is the approved template's parameter order. A source
    that does not parse reads nothing here: validation reports its syntax error.
    """
    names: dict[str, None] = {}
    for source in sources:
        names.update(dict.fromkeys(analyse_source(source).names))
    return tuple(names)
