"""Alembic environment: the URL comes from the Config built by outreach.sql.migrate."""

from __future__ import annotations

from alembic import context

from outreach.sql.engine import build_engine
from outreach.sql.models import Base

target_metadata = Base.metadata


def run_migrations_offline() -> None:
    context.configure(
        url=context.config.get_main_option("sqlalchemy.url"),
        target_metadata=target_metadata,
        literal_binds=True,
        render_as_batch=True,
    )
    with context.begin_transaction():
        context.run_migrations()


def run_migrations_online() -> None:
    url = context.config.get_main_option("sqlalchemy.url")
    assert url is not None
    engine = build_engine(url)
    try:
        with engine.connect() as connection:
            # Batch mode lets later ALTERs run on SQLite, which cannot alter most columns.
            context.configure(
                connection=connection, target_metadata=target_metadata, render_as_batch=True
            )
            with context.begin_transaction():
                context.run_migrations()
    finally:
        engine.dispose()


if context.is_offline_mode():
    run_migrations_offline()
else:
    run_migrations_online()
