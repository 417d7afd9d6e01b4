"""``outreach topics create`` makes the topics a real cluster needs, once."""

from __future__ import annotations

import asyncio

from aiokafka.admin import AIOKafkaAdminClient
from typer.testing import CliRunner

from outreach.cli import app
from outreach.topics import all_topics


async def _partitions(bootstrap: str) -> dict[str, int]:
    admin = AIOKafkaAdminClient(bootstrap_servers=bootstrap)
    await admin.start()
    try:
        described = await admin.describe_topics(all_topics())
    finally:
        await admin.close()
    return {topic["topic"]: len(topic["partitions"]) for topic in described}


def test_topics_are_created_once_with_the_partitions_asked(kafka_bootstrap: str, monkeypatch):
    monkeypatch.setenv("OUTREACH_KAFKA_BOOTSTRAP_SERVERS", kafka_bootstrap)
    monkeypatch.setenv("OUTREACH_ENV", "test")
    runner = CliRunner()
    first = runner.invoke(app, ["topics", "create", "--partitions", "3"])
    assert first.exit_code == 0, first.output
    second = runner.invoke(app, ["topics", "create", "--partitions", "3"])
    assert second.exit_code == 0, second.output
    assert all(f"{name}: exists" in second.output for name in all_topics())
    partitions = asyncio.run(_partitions(kafka_bootstrap))
    assert all(partitions[name] >= 3 for name in all_topics())
