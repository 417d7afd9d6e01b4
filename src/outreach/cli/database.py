"""``outreach db ...`` and ``outreach templates ...``: the schema and the shipped templates."""

from __future__ import annotations

from typing import Annotated

import typer

from outreach.cli.app import app, load_settings

db_app = typer.Typer(help="Database schema (Alembic migrations).", no_args_is_help=True)
app.add_typer(db_app, name="db")
templates_app = typer.Typer(help="Message templates.", no_args_is_help=True)
app.add_typer(templates_app, name="templates")


@db_app.command("upgrade")
def db_upgrade(
    revision: Annotated[str, typer.Argument(help="Target revision.")] = "head",
    url: Annotated[str | None, typer.Option(help="Database URL (default: settings).")] = None,
) -> None:
    """Apply the Alembic migrations up to REVISION."""
    from outreach.sql.migrate import current_revision, upgrade

    settings = load_settings()
    database_url = url or settings.resolved_database_url()
    upgrade(database_url, revision)
    typer.echo(f"database at revision {current_revision(database_url)}")


@db_app.command("current")
def db_current(
    url: Annotated[str | None, typer.Option(help="Database URL (default: settings).")] = None,
) -> None:
    """Print the schema revision the database is at."""
    from outreach.sql.migrate import current_revision

    settings = load_settings()
    typer.echo(current_revision(url or settings.resolved_database_url()) or "empty")


@templates_app.command("seed")
def templates_seed(
    url: Annotated[str | None, typer.Option(help="Database URL (default: settings).")] = None,
) -> None:
    """Load the shipped templates (every purpose x channel, several languages) once."""
    from outreach.services.template_versions import seed_shipped_templates
    from outreach.sql.engine import build_engine
    from outreach.sql.store import Store

    settings = load_settings()
    engine = build_engine(url or settings.resolved_database_url())
    added = seed_shipped_templates(Store(engine))
    engine.dispose()
    typer.echo(f"{added} template(s) added")
