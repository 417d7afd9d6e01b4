"""The shape of a schema, as the models declare it or as a database holds it, in one comparable
form: per table its columns and whether each takes NULL, the primary key, unique keys, indexes
and foreign keys with their ON DELETE action.

Column types are left to Alembic's autogenerate (``compare_type``), which knows how each engine
spells them; constraint names are compared only where both engines keep them (indexes).
"""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import Engine, ForeignKeyConstraint, MetaData, UniqueConstraint, inspect

ForeignKeyShape = tuple[tuple[str, ...], str, tuple[str, ...], str | None]


@dataclass(frozen=True)
class TableShape:
    nullable: dict[str, bool]
    primary_key: tuple[str, ...]
    unique: frozenset[tuple[str, ...]]
    indexes: frozenset[tuple[str, tuple[str, ...]]]
    foreign_keys: frozenset[ForeignKeyShape]


def _on_delete(action: str | None) -> str | None:
    # No action and RESTRICT behave alike on both engines; MariaDB reports either or nothing.
    if action is None or action.upper() in {"NO ACTION", "RESTRICT"}:
        return None
    return action.upper()


def shape_of_models(metadata: MetaData) -> dict[str, TableShape]:
    shapes = {}
    for name, table in metadata.tables.items():
        unique = {
            tuple(c.name for c in constraint.columns)
            for constraint in table.constraints
            if isinstance(constraint, UniqueConstraint)
        } | {tuple(c.name for c in index.columns) for index in table.indexes if index.unique}
        shapes[name] = TableShape(
            nullable={c.name: bool(c.nullable) for c in table.columns},
            primary_key=tuple(c.name for c in table.primary_key.columns),
            unique=frozenset(unique),
            indexes=frozenset(
                (str(index.name), tuple(c.name for c in index.columns))
                for index in table.indexes
                if not index.unique
            ),
            foreign_keys=frozenset(
                (
                    tuple(c.name for c in constraint.columns),
                    constraint.referred_table.name,
                    tuple(e.column.name for e in constraint.elements),
                    _on_delete(constraint.ondelete),
                )
                for constraint in table.constraints
                if isinstance(constraint, ForeignKeyConstraint)
            ),
        )
    return shapes


def shape_of_database(engine: Engine, tables: list[str]) -> dict[str, TableShape]:
    inspector = inspect(engine)
    mysql = engine.dialect.name in ("mysql", "mariadb")
    shapes = {}
    for name in tables:
        foreign_keys = [
            (
                tuple(fk["constrained_columns"]),
                fk["referred_table"],
                tuple(fk["referred_columns"]),
                _on_delete(fk.get("options", {}).get("ondelete")),
            )
            for fk in inspector.get_foreign_keys(name)
        ]
        fk_columns = {fk[0] for fk in foreign_keys}
        indexes = inspector.get_indexes(name)
        unique = {tuple(u["column_names"]) for u in inspector.get_unique_constraints(name)} | {
            tuple(i["column_names"]) for i in indexes if i["unique"]
        }
        plain = set()
        for index in indexes:
            columns = tuple(index["column_names"])
            if index["unique"]:
                continue
            # MariaDB gives a foreign key without an index one of its own, named after the
            # column; the migrations did not ask for it.
            if mysql and columns in fk_columns and index["name"] == columns[0]:
                continue
            plain.add((index["name"], columns))
        shapes[name] = TableShape(
            nullable={c["name"]: bool(c["nullable"]) for c in inspector.get_columns(name)},
            primary_key=tuple(inspector.get_pk_constraint(name)["constrained_columns"]),
            unique=frozenset(unique),
            indexes=frozenset(plain),
            foreign_keys=frozenset(foreign_keys),
        )
    return shapes
