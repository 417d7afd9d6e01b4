"""Bulk statements that mean the same on MariaDB and SQLite: insert-ignore and upsert.

The hot path (the orchestrator writes thousands of rows a second) goes to the DB-API driver:
SQLAlchemy's per-row parameter processing cost more than the database itself. Values are
converted here exactly as the column types would (``UtcDateTime``, JSON, enums).

On MariaDB through PyMySQL the rows are rendered here as SQL literals into multi-row statements,
which is what PyMySQL's ``executemany`` does too, minus its generic per-value dispatch (that
escaping was the largest single cost of a batch). Strings follow the connection's escaping mode,
and any value type not handled here is escaped by PyMySQL itself, so the SQL is the same.
"""

from __future__ import annotations

import enum
import json
import re
from collections.abc import Callable, Mapping, Sequence
from datetime import UTC, datetime
from functools import lru_cache
from typing import Any

from sqlalchemy import JSON, Connection, Date, Enum, Table, Time

from outreach.sql.types import ChannelName, UtcDateTime

# PyMySQL's executemany packs rows into statements of about this size (max_allowed_packet is
# 16 MB by default on MariaDB, so even 4-byte characters stay well inside it).
_MAX_STATEMENT_CHARS = 1_000_000
# The characters MySQL needs escaped in a quoted string, as PyMySQL escapes them (backslash
# first). Most values have none, and one search is far cheaper than escaping.
_NEEDS_ESCAPE = re.compile(r"[\x00\x1a\n\r\\\"']")
_STRING_ESCAPES = (
    ("\\", "\\\\"),
    ("'", "\\'"),
    ('"', '\\"'),
    ("\n", "\\n"),
    ("\r", "\\r"),
    ("\x00", "\\0"),
    ("\x1a", "\\Z"),
)
# ``json.dumps(value, ensure_ascii=False)`` without building an encoder per call.
_json_text = json.JSONEncoder(ensure_ascii=False).encode


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


def _channel_name(value: Any) -> Any:
    return None if value is None else str.__str__(value)


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
    if isinstance(column_type, ChannelName):
        return _channel_name
    return _identity


def _identity(value: Any) -> Any:
    return value


@lru_cache(maxsize=256)
def _converters(
    table: Table, columns: tuple[str, ...], sqlite: bool
) -> tuple[Callable[[Any], Any], ...]:
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


def _with_defaults(
    table: Table, rows: Sequence[Mapping[str, Any]]
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


def _tuples(
    connection: Connection,
    table: Table,
    columns: tuple[str, ...],
    rows: Sequence[Mapping[str, Any]],
) -> list:
    convert = _converters(table, columns, connection.dialect.name == "sqlite")
    pairs = list(zip(convert, columns, strict=True))
    return [tuple(f(row[c]) for f, c in pairs) for row in rows]


def _literal_rows(
    connection: Connection,
    table: Table,
    columns: tuple[str, ...],
    rows: Sequence[Mapping[str, Any]],
) -> list[str] | None:
    """Each row as a ``(v1, v2, ...)`` SQL literal, or None when the driver is not PyMySQL."""
    if connection.dialect.driver != "pymysql":
        return None
    from pymysql.constants import SERVER_STATUS

    raw: Any = connection.connection.dbapi_connection
    escape = raw.escape  # PyMySQL's own escaping, for every type not handled inline
    no_backslash_escapes = bool(
        raw.server_status & SERVER_STATUS.SERVER_STATUS_NO_BACKSLASH_ESCAPES
    )
    search_special = _NEEDS_ESCAPE.search

    def quote(text: str) -> str:
        if no_backslash_escapes:
            return "'" + text.replace("'", "''") + "'"
        for char, escaped in _STRING_ESCAPES:
            if char in text:
                text = text.replace(char, escaped)
        return "'" + text + "'"

    def literal(value: Any) -> str:
        kind = type(value)
        if kind is str:
            # Most strings need no escaping: one search, no copies.
            return quote(value) if search_special(value) else "'" + value + "'"
        if value is None:
            return "NULL"
        if kind is int:
            return str(value)
        if kind is bool:
            return "1" if value else "0"
        return escape(value)

    def utc_literal_of(memo: dict[datetime, str]) -> Callable[[Any], str]:
        # The rows of a batch share a few instants (``now``): each is formatted once.
        def utc_literal(value: Any) -> str:
            if value is None:
                return "NULL"
            if not isinstance(value, datetime):
                return literal(value)
            text = memo.get(value)
            if text is None:
                text = memo[value] = "'" + _utc(value).isoformat(" ") + "'"
            return text

        return utc_literal

    def json_literal(value: Any) -> str:
        return "NULL" if value is None else literal(_json_text(value))

    def enum_literal(value: Any) -> str:
        return literal(value if type(value) is str else _plain(value))

    renderers: list[Callable[[Any], str]] = []
    for convert in _converters(table, columns, False):
        if convert is _utc:
            renderers.append(utc_literal_of({}))
        elif convert is _json:
            renderers.append(json_literal)
        elif convert is _plain:
            renderers.append(enum_literal)
        else:
            renderers.append(literal)
    pairs = list(zip(renderers, columns, strict=True))
    return ["(" + ",".join([render(row[c]) for render, c in pairs]) + ")" for row in rows]


def _execute_literal_rows(
    connection: Connection, head: str, literal_rows: Sequence[str], tail: str = ""
) -> int:
    """Run ``head VALUES rows tail`` in statements of bounded size; rows affected, summed."""
    affected = 0
    chunk: list[str] = []
    size = len(head) + len(tail)
    for row in literal_rows:
        if chunk and size + len(row) + 1 > _MAX_STATEMENT_CHARS:
            affected += _execute_literal(connection, head + ",".join(chunk) + tail)
            chunk, size = [], len(head) + len(tail)
        chunk.append(row)
        size += len(row) + 1
    if chunk:
        affected += _execute_literal(connection, head + ",".join(chunk) + tail)
    return affected


def _execute_literal(connection: Connection, statement: str) -> int:
    # no_parameters: the driver must not %-format a statement whose values are already in it.
    result = connection.exec_driver_sql(statement, execution_options={"no_parameters": True})
    return max(result.rowcount, 0)


def _quote(connection: Connection, name: str) -> str:
    return connection.dialect.identifier_preparer.quote(name)


def _placeholders(connection: Connection, count: int) -> str:
    mark = "%s" if _is_mysql(connection) else "?"
    return ", ".join([mark] * count)


def insert_ignore(connection: Connection, table: Table, rows: Sequence[Mapping[str, Any]]) -> int:
    """Insert rows, silently keeping existing ones on a unique-key clash. Returns rows inserted."""
    verb = "INSERT IGNORE INTO" if _is_mysql(connection) else "INSERT OR IGNORE INTO"
    return _insert(connection, table, rows, verb)


def insert_rows(connection: Connection, table: Table, rows: Sequence[Mapping[str, Any]]) -> int:
    """Insert rows; a unique-key clash is an error, as with SQLAlchemy's own INSERT."""
    return _insert(connection, table, rows, "INSERT INTO")


def _insert(
    connection: Connection, table: Table, rows: Sequence[Mapping[str, Any]], verb: str
) -> int:
    if not rows:
        return 0
    columns, rows = _with_defaults(table, rows)
    names = ", ".join(_quote(connection, c) for c in columns)
    literal_rows = _literal_rows(connection, table, columns, rows)
    if literal_rows is not None:
        return _execute_literal_rows(
            connection, f"{verb} {_quote(connection, table.name)} ({names}) VALUES ", literal_rows
        )
    statement = (
        f"{verb} {_quote(connection, table.name)} ({names}) "
        f"VALUES ({_placeholders(connection, len(columns))})"
    )
    cursor = connection.exec_driver_sql(statement, _tuples(connection, table, columns, rows))
    return max(cursor.rowcount, 0)


def _upsert_parts(
    connection: Connection,
    table: Table,
    rows: Sequence[Mapping[str, Any]],
    key_columns: Sequence[str],
) -> tuple[tuple[str, ...], list[Mapping[str, Any]], dict[str, str], str, str, str]:
    """What every upsert's statement is built from, in the connection's dialect: the columns
    (defaults added), the rows, quoted names, the column list, how to name a row's new value
    (``new.format(quoted)``), and the conflict clause to which the assignments follow."""
    columns, filled = _with_defaults(table, rows)
    quoted = {c: _quote(connection, c) for c in columns}
    names = ", ".join(quoted[c] for c in columns)
    if _is_mysql(connection):
        return columns, filled, quoted, names, "VALUES({0})", "ON DUPLICATE KEY UPDATE "
    conflict = ", ".join(quoted[c] for c in key_columns)
    return (
        columns,
        filled,
        quoted,
        names,
        "excluded.{0}",
        f"ON CONFLICT ({conflict}) DO UPDATE SET ",
    )


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
    columns, rows, quoted, names, new, tail = _upsert_parts(connection, table, rows, key_columns)
    assignments = []
    for column in updated:
        fresh = new.format(quoted[column])
        value = f"COALESCE({fresh}, {quoted[column]})" if keep_existing_when_null else fresh
        assignments.append(f"{quoted[column]} = {value}")
    literal_rows = _literal_rows(connection, table, columns, rows)
    if literal_rows is not None:
        _execute_literal_rows(
            connection,
            f"INSERT INTO {_quote(connection, table.name)} ({names}) VALUES ",
            literal_rows,
            f" {tail}" + ", ".join(assignments),
        )
        return
    statement = (
        f"INSERT INTO {_quote(connection, table.name)} ({names}) "
        f"VALUES ({_placeholders(connection, len(columns))}) {tail}" + ", ".join(assignments)
    )
    connection.exec_driver_sql(statement, _tuples(connection, table, columns, rows))


def upsert_newest(
    connection: Connection,
    table: Table,
    rows: Sequence[Mapping[str, Any]],
    key_columns: Sequence[str],
    order_columns: Sequence[str],
    *,
    keep_when_null: Sequence[str] = (),
) -> None:
    """Insert rows, or update a stored row on the key only from a newer row: one whose
    ``order_columns``, compared as a tuple, are greater than the stored ones. A late, older row
    changes nothing, and neither does a replayed one, so the outcome does not depend on the order
    rows arrive in (rows of one call are applied in their order, each against the last).

    A column in ``keep_when_null`` keeps its stored value when a newer row brings NULL, and an
    older row may still fill it while the stored value is NULL.
    """
    if not rows:
        return
    columns, rows, quoted, names, new, tail = _upsert_parts(connection, table, rows, key_columns)
    newer = _tuple_greater([new.format(quoted[c]) for c in order_columns], order_columns, quoted)
    assignments = []
    # MariaDB applies the assignments left to right, each seeing the ones before it, while the
    # test of "newer" reads the order columns: those go last, the least significant first, so
    # every test still compares against the stored order (SQLite reads only the stored row).
    plain = [c for c in columns if c not in key_columns and c not in order_columns]
    for column in [*plain, *reversed(order_columns)]:
        stored, fresh = quoted[column], new.format(quoted[column])
        if column in keep_when_null:
            value = (
                f"CASE WHEN {newer} THEN COALESCE({fresh}, {stored}) "
                f"ELSE COALESCE({stored}, {fresh}) END"
            )
        else:
            value = f"CASE WHEN {newer} THEN {fresh} ELSE {stored} END"
        assignments.append(f"{stored} = {value}")
    head = f"INSERT INTO {_quote(connection, table.name)} ({names}) VALUES "
    literal_rows = _literal_rows(connection, table, columns, rows)
    if literal_rows is not None:
        _execute_literal_rows(connection, head, literal_rows, f" {tail}" + ", ".join(assignments))
        return
    statement = f"{head}({_placeholders(connection, len(columns))}) {tail}" + ", ".join(assignments)
    connection.exec_driver_sql(statement, _tuples(connection, table, columns, rows))


def _tuple_greater(
    fresh: Sequence[str], order_columns: Sequence[str], quoted: Mapping[str, str]
) -> str:
    """``(fresh...) > (stored...)`` spelled out, which both engines read the same way."""
    first, stored = fresh[0], quoted[order_columns[0]]
    if len(fresh) == 1:
        return f"{first} > {stored}"
    rest = _tuple_greater(fresh[1:], order_columns[1:], quoted)
    return f"({first} > {stored} OR ({first} = {stored} AND {rest}))"


def upsert_adding(
    connection: Connection,
    table: Table,
    rows: Sequence[Mapping[str, Any]],
    key_columns: Sequence[str],
    added_columns: Sequence[str],
) -> None:
    """Insert rows, or add their ``added_columns`` to a stored row with the same key (counters:
    ``c = c + new``). Any other column takes the new value unless it is NULL."""
    if not rows:
        return
    columns, rows, quoted, names, new, tail = _upsert_parts(connection, table, rows, key_columns)
    assignments = []
    for column in columns:
        if column in key_columns:
            continue
        stored, fresh = quoted[column], new.format(quoted[column])
        if column in added_columns:
            assignments.append(f"{stored} = {stored} + {fresh}")
        else:
            assignments.append(f"{stored} = COALESCE({fresh}, {stored})")
    head = f"INSERT INTO {_quote(connection, table.name)} ({names}) VALUES "
    literal_rows = _literal_rows(connection, table, columns, rows)
    if literal_rows is not None:
        _execute_literal_rows(connection, head, literal_rows, f" {tail}" + ", ".join(assignments))
        return
    statement = f"{head}({_placeholders(connection, len(columns))}) {tail}" + ", ".join(assignments)
    connection.exec_driver_sql(statement, _tuples(connection, table, columns, rows))
