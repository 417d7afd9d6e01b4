"""Through Kafka: InboundEnvelope JSON on ``outreach.inbound`` -> the registered faust agent ->
MariaDB, the simulator, and ``outreach.outcomes`` / ``outreach.staff_inbox`` / ``outreach.dlq``."""

from __future__ import annotations

import json
import time
import uuid
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime
from typing import Any

import httpx
import pytest
from aiokafka import AIOKafkaConsumer, AIOKafkaProducer
from aiokafka.structs import TopicPartition
from sqlalchemy import Engine

from outreach import retrying
from outreach.channels import ChannelWorker
from outreach.clock import system_clock
from outreach.config import Settings
from outreach.dead_letters import DeadLetter, DeadLetterSealer
from outreach.domain import JobStatus
from outreach.events import InboundEnvelope
from outreach.orchestrator.replies_agent import parse_envelopes, register_replies_agent
from outreach.orchestrator.worker_app import WorkerDependencies, build_worker_app
from outreach.sql.store import Store
from outreach.topics import DLQ, INBOUND, OUTCOMES, STAFF_INBOX, ensure_topics
from tests.factories import Clinic, envelope, new_phone
from tests.reply_fixtures import job_row, reply_service, sent_to

pytestmark = pytest.mark.services

Found = list[tuple[str, dict]]


class TopicWatcher:
    """Reads what is published to some topics from now on (assigned partitions, no group join)."""

    def __init__(self, bootstrap: str, topics: list[str]) -> None:
        self.consumer = AIOKafkaConsumer(
            bootstrap_servers=bootstrap, enable_auto_commit=False, fetch_max_wait_ms=20
        )
        self.topics = topics
        self.found: Found = []

    async def start(self) -> None:
        await self.consumer.start()
        partitions = [
            TopicPartition(topic, p)
            for topic in self.topics
            for p in self.consumer.partitions_for_topic(topic) or ()
        ]
        if not partitions:
            await self.consumer.force_metadata_update()
            partitions = [
                TopicPartition(topic, p)
                for topic in self.topics
                for p in self.consumer.partitions_for_topic(topic) or ()
            ]
        self.consumer.assign(partitions)
        await self.consumer.seek_to_end(*partitions)

    async def until(self, wanted: Callable[[Found], bool], timeout: float) -> Found:
        deadline = time.monotonic() + timeout
        while not wanted(self.found) and time.monotonic() < deadline:
            batch = await self.consumer.getmany(timeout_ms=50)
            for messages in batch.values():
                self.found += [(m.topic, json.loads(m.value)) for m in messages]
        return self.found

    async def stop(self) -> None:
        await self.consumer.stop()


def _about(message: InboundEnvelope) -> Callable[[Found], bool]:
    return lambda found: any(
        v.get("provider_message_id") == message.provider_message_id for _, v in found
    )


async def test_the_agent_acts_on_inbound_messages_within_a_second(
    kafka_bootstrap: str,
    mariadb_engine: Engine,
    settings: Settings,
    channels: dict[str, ChannelWorker],
    send_pool: ThreadPoolExecutor,
    clinic: Clinic,
    sim_client: httpx.Client,
    record_property,
) -> None:
    await ensure_topics(kafka_bootstrap, partitions=2)
    worker_settings = settings.model_copy(
        update={
            "kafka_bootstrap_servers": kafka_bootstrap,
            "faust_app_id": f"test-replies-{uuid.uuid4().hex[:8]}",
            "kafka_partitions": 2,
            "kafka_session_timeout_seconds": 6.0,
            "kafka_rebalance_timeout_seconds": 2.0,
        }
    )
    app = build_worker_app(
        WorkerDependencies(
            settings=worker_settings,
            store=Store(mariadb_engine),
            clock=system_clock,
            channels={},
            builder=None,
            sealer=DeadLetterSealer(DeadLetterSealer.new_key()),
            reply_handler=reply_service(mariadb_engine, channels, send_pool),
        ),
        roles=["replies"],
    )

    phone = new_phone()
    patient = clinic.patient(phone=phone)
    job = clinic.job(patient, appointment_id="appt-kafka")
    warm_up = envelope(new_phone(), "Hello?")
    question = envelope(new_phone(), "Is parking free at the clinic?")
    confirm = envelope(phone, "C")

    watcher = TopicWatcher(kafka_bootstrap, [OUTCOMES, STAFF_INBOX, DLQ])
    producer = AIOKafkaProducer(bootstrap_servers=kafka_bootstrap)
    await app.start()
    await watcher.start()
    await producer.start()

    async def publish(message: InboundEnvelope) -> None:
        await producer.send_and_wait(
            INBOUND, message.model_dump_json(by_alias=True).encode(), key=message.from_.encode()
        )

    try:
        # The first message waits for the agent's partitions; time the ones after it.
        await publish(warm_up)
        await watcher.until(_about(warm_up), timeout=30)
        published_at = time.monotonic()
        await publish(question)
        await watcher.until(_about(question), timeout=10)
        staff_latency = time.monotonic() - published_at

        published_at = time.monotonic()
        await publish(confirm)
        await publish(confirm)  # a redelivery
        await producer.send_and_wait(INBOUND, b'{"provider": "twilio"}', key=b"broken")
        await watcher.until(
            lambda found: any(v.get("patient_id") == patient for t, v in found if t == OUTCOMES),
            timeout=10,
        )
        outcome_latency = time.monotonic() - published_at
        found = await watcher.until(
            lambda found: any(v.get("stage") == "replies.parse" for t, v in found if t == DLQ),
            timeout=10,
        )
    finally:
        await producer.stop()
        await watcher.stop()
        await app.stop()

    outcomes = [v for t, v in found if t == OUTCOMES and v.get("patient_id") == patient]
    staff = [
        v
        for t, v in found
        if t == STAFF_INBOX and v["provider_message_id"] == question.provider_message_id
    ]
    dead = [v for t, v in found if t == DLQ and v["stage"] == "replies.parse"]
    assert [(o["type"], o["appointment_id"], o["job_id"]) for o in outcomes] == [
        ("appointment.confirmed", "appt-kafka", job)
    ]
    assert [(s["patient_id"], s["reason"], s["body"]) for s in staff] == [
        (None, "unclassified", question.body)
    ]
    assert dead and "channel" in dead[0]["error"]
    assert job_row(mariadb_engine, job)["status"] == JobStatus.REPLIED
    assert len(sent_to(sim_client, phone)) == 1  # the redelivery sent nothing more
    record_property("kafka_staff_item_latency_ms", round(staff_latency * 1000))
    record_property("kafka_confirmed_outcome_latency_ms", round(outcome_latency * 1000))
    assert staff_latency < 1.0 and outcome_latency < 1.0


def test_malformed_values_become_phi_free_dead_letters() -> None:
    good = envelope("+14152345678", "secret words").model_dump_json(by_alias=True).encode()
    bad = json.dumps(
        {
            "provider": "twilio",
            "channel": "sms",
            "from": "+14152345678",
            "body": "secret words",
            "received_at": "yesterday",
            "provider_message_id": "SM1",
        }
    ).encode()
    envelopes, dead = parse_envelopes(
        [(b"k", good), (b"k", bad), (None, b"\xff")], datetime.now(UTC)
    )
    assert len(envelopes) == 1 and len(dead) == 2
    assert all("secret" not in d.error and "+1415" not in d.error for d in dead)
    assert dead[0].original == bad and dead[0].kind == "malformed"


class _FakeTopic:
    def __init__(self, failures: int = 0) -> None:
        self.failures = failures
        self.sent: list[tuple[bytes | None, bytes]] = []

    async def send(self, *, key: bytes | None, value: bytes) -> None:
        if self.failures:
            self.failures -= 1
            raise ConnectionError("broker away")
        self.sent.append((key, value))


class _FakeApp:
    """Just enough of faust.App to register the agent and drive it with one batch."""

    def __init__(self, outcome_failures: int) -> None:
        self.topics = {OUTCOMES: _FakeTopic(outcome_failures), STAFF_INBOX: _FakeTopic()}
        self.agent_function: Callable[[Any], Any] | None = None

    def topic(self, name: str, **_options: Any) -> _FakeTopic:
        return self.topics.setdefault(name, _FakeTopic())

    def agent(self, _topic: Any, *, name: str) -> Callable[[Any], Any]:
        def register(function: Callable[[Any], Any]) -> Callable[[Any], Any]:
            self.agent_function = function
            return function

        return register


class _FakeStream:
    def __init__(self, values: list[bytes]) -> None:
        self.values = values

    async def take_events(self, size: int, *, within: float):
        message = type("Message", (), {})
        events = []
        for value in self.values:
            event = type("Event", (), {})()
            event.message = message()
            event.message.key, event.message.value = b"k", value
            events.append(event)
        yield events


async def test_after_a_commit_only_publishing_is_retried_and_unprocessed_messages_are(
    settings: Settings, monkeypatch: pytest.MonkeyPatch
) -> None:
    from outreach.events import Outcome
    from outreach.services.receive_reply import ReplyBatchResult

    pauses: list[float] = []

    async def no_sleep(delay: float) -> None:
        pauses.append(delay)

    monkeypatch.setattr(retrying, "pause", no_sleep)
    first, second = envelope(new_phone(), "C"), envelope(new_phone(), "C")
    outcome = Outcome(type="appointment.confirmed", occurred_at=datetime.now(UTC), patient_id="p")
    batches: list[list[str]] = []

    class _Service:
        def receive(self, envelopes: Sequence[InboundEnvelope]) -> ReplyBatchResult:
            batches.append([e.provider_message_id for e in envelopes])
            if len(batches) == 1:  # the database went away after the first message
                return ReplyBatchResult(outcomes=[outcome], unprocessed=list(envelopes[1:]))
            return ReplyBatchResult()

    async def run_inline(function: Callable[..., Any], *args: Any) -> Any:
        return function(*args)

    async def no_dead_letters(entries: Sequence[DeadLetter]) -> None:
        assert not entries

    app = _FakeApp(outcome_failures=2)
    register_replies_agent(
        app,  # type: ignore[arg-type]
        _Service(),  # type: ignore[arg-type]
        run_inline,
        no_dead_letters,
        settings.model_copy(update={"replies_max_retry_delay_seconds": 0.75}),
        system_clock,
    )
    assert app.agent_function is not None
    values = [m.model_dump_json(by_alias=True).encode() for m in (first, second)]
    await app.agent_function(_FakeStream(values))

    assert batches == [
        [first.provider_message_id, second.provider_message_id],
        [second.provider_message_id],
    ]
    assert [key for key, _ in app.topics[OUTCOMES].sent] == [b"p"]  # published once it could be
    assert pauses == [0.5, 0.75, 0.5]  # two publish retries (capped), then one for the database
