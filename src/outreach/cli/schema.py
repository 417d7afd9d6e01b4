"""``outreach schema ...``: print the contract's documents, or rewrite the checked-in copies.

Mounted under the main ``outreach`` command.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Annotated, Any

import typer

from outreach.contract.asyncapi import asyncapi_document
from outreach.contract.documents import as_json, write_documents
from outreach.contract.json_schemas import core_events_schema, outcomes_schema

app = typer.Typer(
    name="schema",
    help="The event contract: JSON Schemas and the AsyncAPI document, generated from the models.",
    no_args_is_help=True,
)

OutOption = Annotated[
    Path | None, typer.Option("--out", help="Write to this file instead of printing.")
]


def _emit(build: Callable[[], dict[str, Any]], out: Path | None) -> None:
    text = as_json(build())
    if out is None:
        typer.echo(text, nl=False)
    else:
        out.write_text(text, encoding="utf-8")


@app.command("events")
def events_command(out: OutOption = None) -> None:
    """JSON Schema of core.events: every documented type, data typed by type."""
    _emit(core_events_schema, out)


@app.command("outcomes")
def outcomes_command(out: OutOption = None) -> None:
    """JSON Schema of outreach.outcomes: every type, data typed by type."""
    _emit(outcomes_schema, out)


@app.command("asyncapi")
def asyncapi_command(out: OutOption = None) -> None:
    """AsyncAPI 3.0 document of every topic."""
    _emit(asyncapi_document, out)


@app.command("docs")
def docs_command(
    root: Annotated[
        Path, typer.Option(help="The repository root, whose docs/ holds the contract.")
    ] = Path("."),
) -> None:
    """Rewrite the checked-in contract documents (docs/contract/, docs/event-contract.md)."""
    changed = write_documents(root)
    for path in changed:
        typer.echo(f"updated {path}")
    typer.echo(f"{len(changed)} document(s) updated")
