"""The layering holds: pure domain packages import no I/O, and packages import each other without
cycles. Read from the source (``ast``), so a lazy import inside a function counts too; imports
under ``if TYPE_CHECKING:`` do not, since they never run."""

from __future__ import annotations

import ast
from collections.abc import Iterator
from pathlib import Path

import pytest

SRC = Path(__file__).resolve().parents[1] / "src" / "outreach"

DOMAIN_PACKAGES = (
    "preferences",
    "templating",
    "replies",
    "segments",
    "campaigns",
    "analytics",
    "ml",
    "delivery",
    "planning",
)
# Shared vocabulary the domain may use: values and message models, no I/O.
DOMAIN_MAY_IMPORT = {"domain", "events", *DOMAIN_PACKAGES}
IO_LIBRARIES = {
    "aiokafka",
    "aiomysql",
    "apscheduler",
    "fakeredis",
    "fastapi",
    "faust",
    "heyoo",
    "httpx",
    "kafka",
    "pymysql",
    "redis",
    "requests",
    "sendgrid",
    "sqlalchemy",
    "starlette",
    "twilio",
    "typer",
    "uvicorn",
}


def _is_type_checking_block(node: ast.AST) -> bool:
    if not isinstance(node, ast.If):
        return False
    test = node.test
    return (isinstance(test, ast.Name) and test.id == "TYPE_CHECKING") or (
        isinstance(test, ast.Attribute) and test.attr == "TYPE_CHECKING"
    )


def _imports(node: ast.AST) -> Iterator[tuple[str, int]]:
    """(module imported, line) for every import that runs, skipping TYPE_CHECKING blocks."""
    for child in ast.iter_child_nodes(node):
        if _is_type_checking_block(child):
            continue
        if isinstance(child, ast.Import):
            for alias in child.names:
                yield alias.name, child.lineno
        elif isinstance(child, ast.ImportFrom) and child.module and child.level == 0:
            yield child.module, child.lineno
        yield from _imports(child)


def _modules() -> Iterator[tuple[str, Path]]:
    for path in sorted(SRC.rglob("*.py")):
        if "migrations" in path.parts:
            continue
        relative = path.relative_to(SRC).with_suffix("")
        yield ".".join(("outreach", *relative.parts)).removesuffix(".__init__"), path


def _package_of(module: str) -> str | None:
    """``outreach.replies.parser`` -> ``replies``; ``outreach.config`` -> ``config``."""
    parts = module.split(".")
    return parts[1] if parts[0] == "outreach" and len(parts) > 1 else None


def _domain_breaches() -> list[str]:
    breaches = []
    for module, path in _modules():
        package = _package_of(module)
        if package not in DOMAIN_PACKAGES and module not in ("outreach.domain", "outreach.events"):
            continue
        tree = ast.parse(path.read_text(encoding="utf-8"))
        for imported, line in _imports(tree):
            root = imported.split(".")[0]
            target = _package_of(imported)
            if root in IO_LIBRARIES or (root == "outreach" and target not in DOMAIN_MAY_IMPORT):
                breaches.append(f"{path.relative_to(SRC.parent)}:{line} imports {imported}")
    return breaches


def test_domain_packages_import_no_io() -> None:
    assert _domain_breaches() == []


def test_the_check_sees_a_breach(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """The walk would catch a domain module importing SQL, but not one under TYPE_CHECKING."""
    package = tmp_path / "outreach" / "replies"
    package.mkdir(parents=True)
    (package / "leaky.py").write_text("from sqlalchemy import select\n", encoding="utf-8")
    (package / "typed.py").write_text(
        "from typing import TYPE_CHECKING\nif TYPE_CHECKING:\n    import faust\n",
        encoding="utf-8",
    )
    (package / "lazy.py").write_text(
        "def f():\n    from outreach.sql import store\n", encoding="utf-8"
    )
    monkeypatch.setattr(f"{__name__}.SRC", tmp_path / "outreach")
    breaches = _domain_breaches()
    assert any("leaky.py:1 imports sqlalchemy" in b for b in breaches)
    assert any("lazy.py:2 imports outreach.sql" in b for b in breaches)
    assert not any("typed.py" in b for b in breaches)


def _package_graph() -> dict[str, set[str]]:
    graph: dict[str, set[str]] = {}
    for module, path in _modules():
        package = _package_of(module)
        if package is None:
            continue
        targets = graph.setdefault(package, set())
        for imported, _line in _imports(ast.parse(path.read_text(encoding="utf-8"))):
            target = _package_of(imported)
            if target is not None and target != package:
                targets.add(target)
    return graph


def _cycles(graph: dict[str, set[str]]) -> list[list[str]]:
    """Every cycle found by a depth-first walk (each reported once per entry point)."""
    found: list[list[str]] = []
    state: dict[str, str] = {}
    path: list[str] = []

    def visit(node: str) -> None:
        state[node] = "open"
        path.append(node)
        for target in sorted(graph.get(node, ())):
            if state.get(target) == "open":
                found.append(path[path.index(target) :] + [target])
            elif target not in state:
                visit(target)
        path.pop()
        state[node] = "done"

    for node in sorted(graph):
        if node not in state:
            visit(node)
    return found


def test_no_import_cycle_between_packages() -> None:
    assert _cycles(_package_graph()) == []


def test_the_cycle_check_sees_a_cycle() -> None:
    assert _cycles({"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": set()}) == [["a", "b", "c", "a"]]
