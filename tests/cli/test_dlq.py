"""``outreach dlq``: dead letters listed without personal data, opened with the key, replayed
or discarded once each."""

from __future__ import annotations

import asyncio
import json
import uuid
from datetime import UTC, datetime

import pytest
from aiokafka import AIOKafkaProducer
from sqlalchemy import select
from typer.testing import CliRunner

from outreach.cli import app
from outreach.dead_letters import DeadLetterSealer, dead_letter
from outreach.events import SendRequest
from outreach.kafka_reader import read_topic
from outreach.sql.models import CommJob
from outreach.topics import CORE_EVENTS, DLQ
from tests.factories import consenting_prefs_row, insert_rows, job_row, patient_row

pytestmark = pytest.mark.services
runner = CliRunner()
NOW = datetime.now(UTC)


def publish(kafka: str, entries) -> None:
    async def run() -> None:
        producer = AIOKafkaProducer(bootstrap_servers=kafka)
        await producer.start()
        try:
            for entry in entries:
                await producer.send_and_wait(DLQ, entry.model_dump_json().encode())
        finally:
            await producer.stop()

    asyncio.run(run())


@pytest.fixture
def deployment(monkeypatch, isolated_mariadb, kafka_bootstrap):
    key = DeadLetterSealer.new_key()
    monkeypatch.setenv("OUTREACH_DATABASE_URL", isolated_mariadb.url.render_as_string(False))
    monkeypatch.setenv("OUTREACH_KAFKA_BOOTSTRAP_SERVERS", kafka_bootstrap)
    monkeypatch.setenv("OUTREACH_DEAD_LETTER_KEY", key)
    return DeadLetterSealer(key)


def test_list_show_replay_and_discard(deployment, isolated_mariadb, kafka_bootstrap) -> None:
    tag = uuid.uuid4().hex[:8]
    [job_id] = insert_rows(
        isolated_mariadb,
        patients=[patient_row(f"p-{tag}")],
        prefs=[consenting_prefs_row(f"p-{tag}", NOW)],
        jobs=[job_row(f"k-{tag}", f"p-{tag}", NOW, status="failed", attempt=3)],
    )
    personal = f"Ana Canary{tag} +14155550199"
    malformed = deployment.seal(
        dead_letter(
            source_topic=CORE_EVENTS,
            stage="orchestrator.parse",
            error="ValidationError: data.first_name: field required",
            failed_at=NOW,
            original=f'{{"event_id": "{tag}", "name": "{personal}"}}',
            key=f"p-{tag}",
        )
    )
    failed_send = deployment.seal(
        dead_letter(
            source_topic="outreach.send.sms",
            stage="channel.send",
            kind="send",
            error="PermanentSendError: provider code 21211",
            failed_at=NOW,
            original=SendRequest(job_id=job_id, attempt=3).model_dump_json(),
            key=f"p-{tag}",
        )
    )
    publish(kafka_bootstrap, [malformed, failed_send])

    listed = runner.invoke(app, ["dlq", "list"])
    assert listed.exit_code == 0, listed.output
    assert malformed.entry_id in listed.output and failed_send.entry_id in listed.output
    assert "provider code 21211" in listed.output
    assert f"Canary{tag}" not in listed.output and "4155550199" not in listed.output

    shown = runner.invoke(app, ["dlq", "show", malformed.entry_id])
    assert shown.exit_code == 0 and personal in shown.output  # only with the key

    replayed = runner.invoke(app, ["dlq", "replay", malformed.entry_id])
    assert replayed.exit_code == 0, replayed.output
    republished = asyncio.run(read_topic(kafka_bootstrap, CORE_EVENTS))
    assert any(personal.encode() in record.value for record in republished)
    again = runner.invoke(app, ["dlq", "replay", malformed.entry_id])
    assert again.exit_code == 1 and "already" in again.output

    planned = runner.invoke(app, ["dlq", "replay", failed_send.entry_id])
    assert planned.exit_code == 0, planned.output
    jobs = CommJob.__table__
    with isolated_mariadb.connect() as connection:
        replay = connection.execute(
            select(jobs.c.status, jobs.c.channel, jobs.c.patient_id).where(
                jobs.c.idempotency_key == f"replay:{failed_send.entry_id}"
            )
        ).one()
    assert tuple(replay) == ("queued", "sms", f"p-{tag}")

    third = deployment.seal(
        dead_letter(
            source_topic=CORE_EVENTS,
            stage="orchestrator.batch",
            kind="processing",
            error="IntegrityError",
            failed_at=NOW,
            original=json.dumps({"event_id": f"{tag}-3"}),
        )
    )
    publish(kafka_bootstrap, [third])
    assert runner.invoke(app, ["dlq", "discard", third.entry_id]).exit_code == 0
    remaining = runner.invoke(app, ["dlq", "list"]).output
    assert third.entry_id not in remaining and malformed.entry_id not in remaining
    everything = runner.invoke(app, ["dlq", "list", "--all"]).output
    assert f"{third.entry_id}" in everything and "discarded" in everything
    assert runner.invoke(app, ["dlq", "discard", "no-such-entry"]).exit_code == 1
