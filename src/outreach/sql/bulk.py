"""Bulk statements that mean the same on MariaDB and SQLite: insert-ignore and upsert.

The hot path (the orchestrator writes thousands of rows a second) goes to the DB-API driver
with positional tuples: SQLAlchemy's per-row parameter processing cost more than the database
itself. Values are converted here exactly as the column types would (``UtcDateTime``, JSON, enums),
and the statement text is built once per table and column set.
"""

from __future__ import annotations

import enum
import json
from collections.abc import Callable, Mapping, Sequence
from datetime import UTC, datetime
from functools import lru_cache
from typing import Any

from sqlalchemy import JSON, Connection, Date, Enum, Table, Time

from outreach.sql.types import UtcDateTime


def _is_mysql(connection: Connection) -> bool:
    return connection.dialect.name in ("mysql", "mariadb")


def _utc(value: Any) -> Any:
    if value is None or not isinstance(value, datetime):
        return value
    if value.tzinfo is None:
        raise ValueError("naive datetime given to a UTC column; pass an aware datetime")
    return value.astimezone(UTC).replace(tzinfo=None)


def _json(value: Any) -> Any:
    return None if value is None else json.dumps(value, ensure_ascii=False)


def _plain(value: Any) -> Any:
    return value.value if isinstance(value, enum.Enum) else value


def _sqlite_utc(value: Any) -> Any:
    # SQLAlchemy's SQLite DATETIME storage format: fixed width, so string comparison orders.
    value = _utc(value)
    return None if value is None else value.strftime("%Y-%m-%d %H:%M:%S.%f")


def _sqlite_date(value: Any) -> Any:
    return None if value is None else value.isoformat()


def _sqlite_time(value: Any) -> Any:
    # SQLAlchemy's SQLite TIME storage format, so ORM reads of these rows still work.
    return None if value is None else value.strftime("%H:%M:%S.%f")


def _converter(table: Table, column: str, sqlite: bool) -> Callable[[Any], Any]:
    column_type = table.c[column].type
    if isinstance(column_type, UtcDateTime):
        return _sqlite_utc if sqlite else _utc
    if isinstance(column_type, JSON) or isinstance(getattr(column_type, "impl", None), JSON):
        return _json
    if sqlite and isinstance(column_type, Date):
        return _sqlite_date
    if sqlite and isinstance(column_type, Time):
        return _sqlite_time
    if isinstance(column_type, Enum):
        return _plain
    return _identity


def _identity(value: Any) -> Any:
    return value


@lru_cache(maxsize=256)
def _converters(table: Table, columns: tuple[str, ...],
                sqlite: bool) -> tuple[Callable[[Any], Any], ...]:
    return tuple(_converter(table, c, sqlite) for c in columns)


@lru_cache(maxsize=256)
def _column_defaults(table: Table, given: tuple[str, ...]) -> tuple[tuple[str, Any], ...]:
    """Python-side defaults (``default=``) of the columns a row leaves out, as SQLAlchemy's own
    INSERT would apply them; callables (``dict``, ``list``) are produced per row."""
    defaults = []
    for column in table.columns:
        if column.name in given or column.default is None:
            continue
        default = column.default
        if getattr(default, "is_scalar", False) or getattr(default, "is_callable", False):
            defaults.append((column.name, default.arg))
    return tuple(defaults)


def _with_defaults(table: Table, rows: Sequence[Mapping[str, Any]]
                   ) -> tuple[tuple[str, ...], list[Mapping[str, Any]]]:
    given = tuple(rows[0])
    defaults = _column_defaults(table, given)
    if not defaults:
        return given, list(rows)
    filled = []
    for row in rows:
        extra = {name: (value(None) if callable(value) else value) for name, value in defaults}
        filled.append({**row, **extra})
    return given + tuple(name for name, _ in defaults), filled


def _tuples(connection: Connection, table: Table, columns: tuple[str, ...],
            rows: Sequence[Mapping[str, Any]]) -> list:
    convert = _converters(table, columns, connection.dialect.name == "sqlite")
    pairs = list(zip(convert, columns, strict=True))
    return [tuple(f(row[c]) for f, c in pairs) for row in rows]


def _quote(connection: Connection, name: str) -> str:
    return connection.dialect.identifier_preparer.quote(name)


def _placeholders(connection: Connection, count: int) -> str:
    mark = "%s" if _is_mysql(connection) else "?"
    return ", ".join([mark] * count)


def insert_ignore(connection: Connection, table: Table, rows: Sequence[Mapping[str, Any]]) -> int:
    """Insert rows, silently keeping existing ones on a unique-key clash. Returns rows inserted."""
    if not rows:
        return 0
    columns, rows = _with_defaults(table, rows)
    names = ", ".join(_quote(connection, c) for c in columns)
    verb = "INSERT IGNORE INTO" if _is_mysql(connection) else "INSERT OR IGNORE INTO"
    statement = (f"{verb} {_quote(connection, table.name)} ({names}) "
                 f"VALUES ({_placeholders(connection, len(columns))})")
    cursor = connection.exec_driver_sql(statement, _tuples(connection, table, columns, rows))
    return max(cursor.rowcount, 0)


def upsert(
    connection: Connection,
    table: Table,
    rows: Sequence[Mapping[str, Any]],
    key_columns: Sequence[str],
    *,
    keep_existing_when_null: bool = True,
) -> None:
    """Insert or update on the key. With ``keep_existing_when_null`` a NULL in the new row leaves
    the stored value alone, so a partial update never wipes what the core platform did not send.
    """
    if not rows:
        return
    # Defaults fill a new row only: an update never resets a stored value to its default.
    updated = [c for c in rows[0] if c not in key_columns]
    columns, rows = _with_defaults(table, rows)
    quoted = {c: _quote(connection, c) for c in columns}
    names = ", ".join(quoted[c] for c in columns)
    if _is_mysql(connection):
        new = "VALUES({0})"
        tail = "ON DUPLICATE KEY UPDATE "
    else:
        new = "excluded.{0}"
        tail = f"ON CONFLICT ({', '.join(quoted[c] for c in key_columns)}) DO UPDATE SET "
    assignments = []
    for column in updated:
        fresh = new.format(quoted[column])
        value = f"COALESCE({fresh}, {quoted[column]})" if keep_existing_when_null else fresh
        assignments.append(f"{quoted[column]} = {value}")
    statement = (f"INSERT INTO {_quote(connection, table.name)} ({names}) "
                 f"VALUES ({_placeholders(connection, len(columns))}) {tail}"
                 + ", ".join(assignments))
    connection.exec_driver_sql(statement, _tuples(connection, table, columns, rows))
