"""Bulk statements that mean the same on MariaDB and SQLite: insert-ignore and upsert."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from sqlalchemy import Connection, Table, func
from sqlalchemy.dialects import mysql, sqlite


def _is_mysql(connection: Connection) -> bool:
    return connection.dialect.name in ("mysql", "mariadb")


def insert_ignore(connection: Connection, table: Table, rows: Sequence[Mapping[str, Any]]) -> int:
    """Insert rows, silently keeping existing ones on a unique-key clash. Returns rows inserted."""
    if not rows:
        return 0
    if _is_mysql(connection):
        statement = mysql.insert(table).prefix_with("IGNORE")
    else:
        statement = sqlite.insert(table).on_conflict_do_nothing()
    return connection.execute(statement, list(rows)).rowcount


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
    columns = [c for c in rows[0] if c not in key_columns]
    if _is_mysql(connection):
        statement = mysql.insert(table)
        new = statement.inserted
        updates = {
            c: func.coalesce(new[c], table.c[c]) if keep_existing_when_null else new[c]
            for c in columns
        }
        statement = statement.on_duplicate_key_update(updates)
    else:
        statement = sqlite.insert(table)
        new = statement.excluded
        updates = {
            c: func.coalesce(new[c], table.c[c]) if keep_existing_when_null else new[c]
            for c in columns
        }
        statement = statement.on_conflict_do_update(index_elements=list(key_columns), set_=updates)
    connection.execute(statement, list(rows))
