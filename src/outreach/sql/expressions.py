"""SQL expressions that mean the same on MariaDB and SQLite where the two differ by default."""

from __future__ import annotations

from typing import Any

from sqlalchemy import ColumnElement, String
from sqlalchemy.ext.compiler import compiles
from sqlalchemy.sql.compiler import SQLCompiler

# Compares by code point, with trailing spaces (MariaDB's column collations ignore case and
# accents, and pad with spaces).
EXACT_COLLATION = "utf8mb4_nopad_bin"


class ExactText(ColumnElement[str]):
    """A text compared by code point, case and trailing spaces included."""

    inherit_cache = True
    type = String()

    def __init__(self, expression: ColumnElement[Any]) -> None:
        self.text_value = expression


@compiles(ExactText)
def _exact_text(element: ExactText, compiler: SQLCompiler, **kw: Any) -> str:
    return compiler.process(element.text_value, **kw)


@compiles(ExactText, "mysql")
@compiles(ExactText, "mariadb")
def _exact_text_mysql(element: ExactText, compiler: SQLCompiler, **kw: Any) -> str:
    return f"({compiler.process(element.text_value, **kw)}) COLLATE {EXACT_COLLATION}"
