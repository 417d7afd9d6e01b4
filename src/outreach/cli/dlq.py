"""``outreach dlq list|show|replay|discard``: the dead-letter topic, for operators.

``list`` shows what the topic carries (ids, where, why: no personal data) and what was done with
each entry. ``show`` opens one entry's sealed original with the dead-letter key: it may hold
personal data, and only an operator who holds the key sees it. ``replay`` and ``discard`` are
recorded, once per entry.
"""

from __future__ import annotations

import asyncio
import getpass
import json
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Annotated

import typer

from outreach.cli.app import app, load_settings

if TYPE_CHECKING:
    from outreach.config import Settings
    from outreach.events import DlqEntry

dlq_app = typer.Typer(help="Dead letters: list, show, replay, discard.", no_args_is_help=True)
app.add_typer(dlq_app, name="dlq")


def _actor() -> str:
    """Who ran the command, as recorded with the decision: the operating-system user."""
    try:
        return f"cli:{getpass.getuser()}"
    except (KeyError, OSError):
        return "cli:unknown"


def _entries(settings: Settings) -> list[DlqEntry]:
    from outreach.kafka_reader import read_topic
    from outreach.services.dead_letters_admin import entries_from
    from outreach.topics import DLQ

    records = asyncio.run(read_topic(settings.resolved_kafka_bootstrap(), DLQ))
    return entries_from(record.value for record in records)


@dlq_app.command("list")
def list_entries(
    all_entries: Annotated[
        bool, typer.Option("--all", help="Include replayed and discarded entries.")
    ] = False,
    stage: Annotated[str | None, typer.Option(help="Only this stage (e.g. channel.send).")] = None,
) -> None:
    """Dead letters, oldest first: id, when, stage, kind, source topic, state and the error."""
    from outreach import wiring
    from outreach.services.dead_letters_admin import with_states

    settings = load_settings()
    engine = wiring.database_engine(settings)
    try:
        listed = with_states(wiring.store(engine), _entries(settings))
    finally:
        engine.dispose()
    shown = [
        item
        for item in listed
        if (all_entries or item.state == "new") and (stage is None or item.entry.stage == stage)
    ]
    for item in shown:
        entry = item.entry
        typer.echo(
            f"{entry.entry_id}  {entry.failed_at.isoformat(timespec='seconds')}  "
            f"{entry.stage:<20} {entry.kind:<10} {entry.source_topic:<24} {item.state:<9} "
            f"{entry.error}"
        )
    typer.echo(f"{len(shown)} dead letter(s)" + ("" if all_entries else " not yet handled"))


@dlq_app.command("show")
def show(entry_id: Annotated[str, typer.Argument(help="The entry's id (from list).")]) -> None:
    """The entry and its original, opened with the dead-letter key (it may hold personal data)."""
    from outreach import wiring
    from outreach.services.dead_letters_admin import UnknownEntry, find_entry

    settings = load_settings()
    try:
        entry = find_entry(_entries(settings), entry_id)
    except UnknownEntry:
        typer.echo(f"error: no dead letter {entry_id}", err=True)
        raise typer.Exit(code=1) from None
    original = wiring.dead_letter_sealer(settings).open(entry)
    typer.echo(json.dumps(entry.model_dump(mode="json", exclude={"original_sealed"}), indent=2))
    typer.echo("original:")
    typer.echo(original.decode("utf-8", "replace"))


@dlq_app.command("replay")
def replay(entry_id: Annotated[str, typer.Argument(help="The entry's id (from list).")]) -> None:
    """Put the original back where it came from (a failed send: planned again as a new job)."""
    from outreach import wiring
    from outreach.kafka_publisher import KafkaPublisher
    from outreach.services.dead_letters_admin import (
        AlreadyDecided,
        UnknownEntry,
        find_entry,
    )
    from outreach.services.dead_letters_admin import replay as replay_entry

    settings = load_settings()
    engine = wiring.database_engine(settings)

    async def run(entry: DlqEntry) -> str:
        publisher = KafkaPublisher(settings.resolved_kafka_bootstrap(), client_id="outreach-dlq")
        await publisher.start()
        try:
            return await replay_entry(
                wiring.store(engine),
                wiring.dead_letter_sealer(settings),
                publisher.publish_many,
                entry,
                _actor(),
                datetime.now(UTC),
            )
        finally:
            await publisher.stop()

    try:
        done = asyncio.run(run(find_entry(_entries(settings), entry_id)))
    except UnknownEntry as error:
        typer.echo(f"error: no dead letter {error}", err=True)
        raise typer.Exit(code=1) from None
    except AlreadyDecided:
        typer.echo(f"error: {entry_id} was already replayed or discarded", err=True)
        raise typer.Exit(code=1) from None
    finally:
        engine.dispose()
    typer.echo(f"{entry_id}: {done}")


@dlq_app.command("discard")
def discard(entry_id: Annotated[str, typer.Argument(help="The entry's id (from list).")]) -> None:
    """Mark the entry handled without replaying it."""
    from outreach import wiring
    from outreach.services.dead_letters_admin import AlreadyDecided, UnknownEntry, find_entry
    from outreach.services.dead_letters_admin import discard as discard_entry

    settings = load_settings()
    engine = wiring.database_engine(settings)
    try:
        entry = find_entry(_entries(settings), entry_id)
        discard_entry(wiring.store(engine), entry, _actor(), datetime.now(UTC))
    except UnknownEntry:
        typer.echo(f"error: no dead letter {entry_id}", err=True)
        raise typer.Exit(code=1) from None
    except AlreadyDecided:
        typer.echo(f"error: {entry_id} was already replayed or discarded", err=True)
        raise typer.Exit(code=1) from None
    finally:
        engine.dispose()
    typer.echo(f"{entry_id}: discarded")
