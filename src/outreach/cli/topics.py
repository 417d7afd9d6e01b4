"""``outreach topics create``: the Kafka topics outreach uses, created once per cluster."""

from __future__ import annotations

import asyncio
from typing import Annotated

import typer

from outreach.cli.app import app, load_settings

topics_app = typer.Typer(help="Kafka topics.", no_args_is_help=True)
app.add_typer(topics_app, name="topics")


@topics_app.command("create")
def create_topics(
    partitions: Annotated[
        int | None, typer.Option(help="Partitions per topic (default: OUTREACH_KAFKA_PARTITIONS).")
    ] = None,
    replication_factor: Annotated[
        int, typer.Option(help="Copies of each partition (3 on a production cluster).")
    ] = 1,
) -> None:
    """Create every outreach topic that does not exist yet; existing ones are left alone."""
    from outreach.topics import all_topics, ensure_topics

    settings = load_settings()
    created = asyncio.run(
        ensure_topics(
            settings.resolved_kafka_bootstrap(),
            partitions or settings.kafka_partitions,
            replication_factor,
        )
    )
    for name in all_topics():
        typer.echo(f"{name}: {'created' if name in created else 'exists'}")
