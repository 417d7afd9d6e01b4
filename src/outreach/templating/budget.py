"""How big a template may grow: limits checked at save time, and a budget held while rendering.

A template is small text, but filters multiply: ``replace('', 'xxxxxxxxxx')`` makes a string
eleven times longer, and eight of those in a 194-character template render hundreds of
megabytes. Deep nesting and long filter chains make Jinja's compiler recurse until Python gives
up (``RecursionError``) at every send. So:

- **at save time** (``structure_problems``, run by ``analysis``) a template is refused when it
  nests deeper than ``MAX_NESTING``, chains more than ``MAX_FILTER_CHAIN`` filters, or could
  render more than ``MAX_RENDERED_CHARS`` even with every variable at ``VARIABLE_MAX_CHARS``
  (a worst-case bound computed from the tree);
- **while rendering** every filter is held to ``MAX_RENDERED_CHARS`` (``budgeted``), and
  ``replace`` checks the size of its result before building it, so a template that reached the
  database some other way stops at the budget instead of exhausting memory.
"""

from __future__ import annotations

import functools
from collections.abc import Callable
from typing import Any

from jinja2 import nodes

from outreach.templating.errors import TemplateRenderError

MAX_NESTING = 24  # expression and block levels; real templates use three or four
MAX_FILTER_CHAIN = 6  # filters applied one after another to one value
MAX_RENDERED_CHARS = 100_000  # more than any SMS, WhatsApp or e-mail body needs
VARIABLE_MAX_CHARS = 1_000  # the longest value a variable may bring (schedule API's limit)
# upper/lower/title may lengthen a string (German sharp s, ligatures): at most threefold.
_CASE_GROWTH = 3
_CASE_FILTERS = frozenset({"upper", "lower", "title", "capitalize"})
_FORMATTED_CHARS = 200  # a formatted date or time


def nesting_depth(root: nodes.Node) -> int:
    """The depth of the tree, walked without recursion (the tree may be absurdly deep)."""
    deepest = 0
    stack: list[tuple[nodes.Node, int]] = [(root, 0)]
    while stack:
        node, depth = stack.pop()
        deepest = max(deepest, depth)
        stack.extend((child, depth + 1) for child in node.iter_child_nodes())
    return deepest


def longest_filter_chain(root: nodes.Node) -> int:
    longest = 0
    for node in root.find_all(nodes.Filter):
        length, inner = 1, node.node
        while isinstance(inner, nodes.Filter):
            length, inner = length + 1, inner.node
        longest = max(longest, length)
    return longest


def _literal(node: nodes.Node | None) -> Any:
    return node.value if isinstance(node, nodes.Const) else None


def _replace_bound(size: int, node: nodes.Filter) -> int:
    args = list(node.args)
    old, new = (str(_literal(a) or "") for a in (args + [None, None])[:2])
    count = _literal(args[2]) if len(args) > 2 else None
    occurrences = size + 1 if old == "" else size // len(old)
    if isinstance(count, int) and count >= 0:
        occurrences = min(occurrences, count)
    return size + occurrences * max(0, len(new) - len(old))


def rendered_bound(node: nodes.Node) -> int:
    """An upper bound of what ``node`` can print, every variable at its longest.

    Called only on trees within ``MAX_NESTING``, so the recursion is shallow.
    """
    if isinstance(node, nodes.TemplateData):
        return len(node.data)
    if isinstance(node, nodes.Const):
        return len(str(node.value))
    if isinstance(node, nodes.Name):
        return VARIABLE_MAX_CHARS
    if isinstance(node, nodes.Template | nodes.Output):
        children = node.body if isinstance(node, nodes.Template) else node.nodes
        return sum(rendered_bound(child) for child in children)
    if isinstance(node, nodes.If):
        branches = [node.body, *[elif_.body for elif_ in node.elif_], node.else_]
        return max(sum(rendered_bound(child) for child in branch) for branch in branches)
    if isinstance(node, nodes.CondExpr):
        other = rendered_bound(node.expr2) if node.expr2 is not None else 0
        return max(rendered_bound(node.expr1), other)
    if isinstance(node, nodes.Concat):
        return sum(rendered_bound(child) for child in node.nodes)
    if isinstance(node, nodes.And | nodes.Or):
        return max(rendered_bound(node.left), rendered_bound(node.right))
    if isinstance(node, nodes.Filter):
        size = rendered_bound(node.node) if node.node is not None else 0
        if node.name == "replace":
            return _replace_bound(size, node)
        if node.name in _CASE_FILTERS:
            return size * _CASE_GROWTH
        if node.name in ("default", "d"):
            fallback = _literal(node.args[0]) if node.args else ""
            return max(size, len(str(fallback)))
        if node.name in ("format_date", "format_time"):
            return max(size, _FORMATTED_CHARS)
        return size  # trim, truncate: never longer
    return len("False")  # tests, comparisons, not: a boolean


def structure_problems(root: nodes.Template) -> list[str]:
    """Why the template could blow up or crash when rendered; empty when it cannot."""
    depth = nesting_depth(root)
    if depth > MAX_NESTING:
        return [f"nested {depth} levels deep; at most {MAX_NESTING}"]
    chain = longest_filter_chain(root)
    if chain > MAX_FILTER_CHAIN:
        return [f"{chain} filters in a row; at most {MAX_FILTER_CHAIN}"]
    bound = rendered_bound(root)
    if bound > MAX_RENDERED_CHARS:
        return [
            f"could render up to {bound:,} characters; at most {MAX_RENDERED_CHARS:,} "
            "(filters such as replace multiply the text)"
        ]
    return []


def _over_budget() -> TemplateRenderError:
    return TemplateRenderError(f"rendering stopped: over {MAX_RENDERED_CHARS:,} characters")


def budgeted(name: str, filter_: Callable[..., Any]) -> Callable[..., Any]:
    """``filter_`` refusing to produce more than ``MAX_RENDERED_CHARS``."""

    @functools.wraps(filter_)
    def held(*args: Any, **kwargs: Any) -> Any:
        if name == "replace":
            _check_replace(*args, **kwargs)
        result = filter_(*args, **kwargs)
        if isinstance(result, str) and len(result) > MAX_RENDERED_CHARS:
            raise _over_budget()
        return result

    return held


def _check_replace(
    eval_ctx: Any, s: Any, old: Any = "", new: Any = "", count: Any = None, *_: Any
) -> None:
    text, old_text, new_text = str(s), str(old), str(new)
    occurrences = text.count(old_text) if old_text else len(text) + 1
    if isinstance(count, int) and count >= 0:
        occurrences = min(occurrences, count)
    if len(text) + occurrences * (len(new_text) - len(old_text)) > MAX_RENDERED_CHARS:
        raise _over_budget()
