"""The ``outreach`` command: one module per group of commands, mounted on one Typer app.

``main`` is the console entry point; ``python -m outreach.cli`` runs it too.
"""

from __future__ import annotations

import typer

from outreach.cli import (
    campaigns,
    database,
    dlq,
    keys,
    ml,
    processes,
    replies,
    report,
    schema,
    segments,
    show_config,
    stats,
    topics,
)
from outreach.cli.app import app

app.add_typer(replies.app, name="replies", help="Parse and evaluate patient replies.")
app.add_typer(schema.app, name="schema")
app.add_typer(stats.app, name="stats")
app.add_typer(report.app, name="report")
app.add_typer(ml.app, name="ml")

__all__ = [
    "app",
    "campaigns",
    "database",
    "dlq",
    "keys",
    "main",
    "ml",
    "processes",
    "segments",
    "show_config",
    "topics",
]


def main() -> None:
    """The console entry point: operational failures become one clear line, not a traceback."""
    from sqlalchemy.exc import OperationalError, ProgrammingError

    try:
        app()
    except (OperationalError, ProgrammingError) as error:
        typer.echo(f"error: database: {error.orig.__class__.__name__}: {error.orig}", err=True)
        raise SystemExit(1) from None
    except (ConnectionError, TimeoutError, OSError) as error:
        typer.echo(f"error: {type(error).__name__}: {error}", err=True)
        raise SystemExit(1) from None
