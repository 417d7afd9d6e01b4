"""The faust worker: core events -> jobs, send requests -> providers, statuses -> jobs, replies.

Agents are thin: each takes a batch from its topic and hands it to ``BatchRunner`` (parse, run
the use case in a thread with retries, isolate a poison message as a dead letter), then publishes
what the use case returned. Offsets are acknowledged only after the handler returns: a crash
redelivers the batch, and the use cases' idempotency (inbox, idempotency keys, conditional
updates) makes the second run change nothing.
"""

from __future__ import annotations

import asyncio
import gc
import logging
from collections.abc import Callable, Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any, Protocol, TypeVar

import faust

from outreach import correlation
from outreach.channels.base import ChannelWorker
from outreach.channels.message_builder import MessageBuilder
from outreach.clock import Clock
from outreach.config import Settings
from outreach.dead_letters import DeadLetter, DeadLetterSealer
from outreach.domain import Channel
from outreach.events import SendRequest, StatusUpdate, TypedOutcome
from outreach.metrics import Metrics
from outreach.orchestrator.batch_consumer import (
    BatchRunner,
    KafkaMessage,
    processing_dead_letter,
)
from outreach.orchestrator.faust_drain import PromptDeliveryTransport, check_upstream_drain
from outreach.orchestrator.partitions import partition_groups
from outreach.orchestrator.replies_agent import register_replies_agent
from outreach.planning import reminder_offsets_from_hours
from outreach.retrying import RetrySchedule
from outreach.services.housekeeping import record_heartbeat
from outreach.services.ingest_statuses import StatusIngestor
from outreach.services.plan_events import EventPlanner
from outreach.services.receive_reply import ReplyService
from outreach.services.send_jobs import (
    BreakerBoard,
    JobSender,
    NoBoard,
    NoLedger,
    NoPacing,
    Pacer,
    ProviderBreakers,
    SendLedger,
)
from outreach.sql.store import Store
from outreach.topics import CORE_EVENTS, DLQ, OUTCOMES, STATUS, send_topic
from outreach.wiring import breaker_settings, delivery_tuning, fatigue_policy

logger = logging.getLogger(__name__)

T = TypeVar("T")

ALL_ROLES = ("orchestrator", "channels", "status", "replies")
LAG_EVERY_SECONDS = 15.0  # how often outreach_consumer_lag is measured


class PublishDeadLetters(Protocol):
    async def __call__(self, letters: Sequence[DeadLetter]) -> None: ...


@dataclass
class WorkerDependencies:
    settings: Settings
    store: Store
    clock: Clock
    channels: Mapping[str, ChannelWorker]
    builder: MessageBuilder
    sealer: DeadLetterSealer
    # The channels this worker was told to serve (``--channels``); None: every one loaded.
    channel_subset: tuple[str, ...] | None = None
    reply_handler: ReplyService | None = None
    # This process as its heartbeat and the sends it takes name it.
    process_id: str = "worker"
    ledger: SendLedger = field(default_factory=NoLedger)
    pacer: Pacer = field(default_factory=NoPacing)
    # Where the breakers' changes are posted for the console (``channels.breaker_board``).
    breaker_board: BreakerBoard = field(default_factory=NoBoard)
    metrics: Metrics = field(default_factory=Metrics)  # served by the command (serve_metrics)


def consumer_group_id(
    app_id: str, roles: Sequence[str], channel_subset: Sequence[str] | None = None
) -> str:
    """One consumer group per role set (and chosen channels): workers that consume the same
    topics share partitions.

    Faust's assignor expects every member of a group to consume the same topics, so a worker
    running only ``channels`` must not join the group of one running everything, nor one
    serving only SMS the group of one serving e-mail.
    """
    chosen = sorted(set(roles))
    group = app_id if chosen == sorted(ALL_ROLES) else f"{app_id}.{'+'.join(chosen)}"
    if channel_subset is not None and "channels" in chosen:
        group += "@" + "+".join(sorted(set(channel_subset)))
    return group


def build_worker_app(deps: WorkerDependencies, roles: Sequence[str] = ALL_ROLES) -> faust.App:
    settings = deps.settings
    bootstrap = settings.resolved_kafka_bootstrap()
    app = faust.App(
        consumer_group_id(settings.faust_app_id, roles, deps.channel_subset),
        broker=[f"kafka://{server}" for server in bootstrap.split(",")],
        value_serializer="raw",
        key_serializer="raw",
        store="memory://",
        web_enabled=False,
        topic_partitions=settings.kafka_partitions,
        consumer_auto_offset_reset="earliest",
        broker_session_timeout=settings.kafka_session_timeout_seconds,
        broker_rebalance_timeout=settings.kafka_rebalance_timeout_seconds,
        broker_heartbeat_interval=1.0,
        broker_commit_interval=1.0,
        stream_buffer_maxsize=16384,
        producer_acks=-1,
    )
    if settings.faust_prompt_delivery:
        check_upstream_drain()  # loud at start-up, never a silent fallback
        app.transport = PromptDeliveryTransport(app.conf.broker_consumer, app)
    db_pool = ThreadPoolExecutor(
        max_workers=settings.worker_db_threads, thread_name_prefix="outreach-db"
    )
    send_pool = ThreadPoolExecutor(
        max_workers=settings.send_threads, thread_name_prefix="outreach-send"
    )

    async def run_blocking(function: Callable[..., T], *args: Any) -> T:
        return await asyncio.get_running_loop().run_in_executor(db_pool, function, *args)

    runner = BatchRunner(
        run_blocking,
        RetrySchedule(settings.batch_attempts, settings.batch_retry_delay_seconds),
        deps.clock,
    )
    dlq_topic = app.topic(DLQ, value_serializer="raw", key_serializer="raw")
    outcomes_topic = app.topic(OUTCOMES, value_serializer="raw", key_serializer="raw")

    async def publish_dead_letters(letters: Sequence[DeadLetter]) -> None:
        for letter in letters:
            entry = deps.sealer.seal(letter)
            await dlq_topic.send(
                key=entry.key.encode() if entry.key else None,
                value=entry.model_dump_json().encode(),
                headers=correlation.kafka_headers(),
            )
        if letters:
            logger.warning("%d message(s) sent to %s", len(letters), DLQ)

    async def publish_outcomes(outcomes: Sequence[TypedOutcome]) -> None:
        for outcome in outcomes:
            await outcomes_topic.send(
                key=outcome.patient_id.encode() if outcome.patient_id else None,
                value=outcome.model_dump_json(exclude_unset=True).encode(),
                headers=correlation.kafka_headers(),
            )

    if "orchestrator" in roles:
        _orchestrator_agent(app, deps, runner, publish_dead_letters)
    if "channels" in roles:
        sender = JobSender(
            deps.store,
            deps.channels,
            deps.builder,
            pool=send_pool,
            clock=deps.clock,
            process_id=deps.process_id,
            ledger=deps.ledger,
            pacer=deps.pacer,
            breakers=ProviderBreakers(breaker_settings(settings), deps.breaker_board),
            tuning=delivery_tuning(settings),
            on_send=_send_observer(deps.metrics),
        )
        for channel_name in deps.channels:
            _send_agent(
                app,
                Channel(channel_name),
                sender,
                runner,
                publish_dead_letters,
                publish_outcomes,
                settings,
                deps.metrics,
            )
    if "status" in roles:
        _status_agent(app, deps, runner, publish_dead_letters)
    if "replies" in roles and deps.reply_handler is not None:
        register_replies_agent(
            app, deps.reply_handler, run_blocking, publish_dead_letters, settings, deps.clock
        )

    if "channels" in roles:

        @app.timer(settings.process_heartbeat_seconds)
        async def _heartbeat() -> None:
            # The scheduler recovers the sends of a worker that stops beating.
            await run_blocking(
                record_heartbeat, deps.store, deps.process_id, "worker", datetime.now(UTC)
            )

    @app.timer(LAG_EVERY_SECONDS)
    async def measure_lag() -> None:
        consumer = app.consumer
        for tp in consumer.assignment():
            position = await consumer.position(tp)
            highwater = consumer.highwater(tp)
            if position is not None and highwater is not None:
                deps.metrics.consumer_lag.labels(topic=tp.topic, partition=str(tp.partition)).set(
                    max(0, highwater - position)
                )

    @app.on_rebalance_complete.connect
    async def _announce_ready(sender: faust.App, **_kwargs: Any) -> None:
        # Tests, the demo and operators wait for this line: partitions are assigned.
        logger.info("worker ready: partitions assigned")

    return app


def _orchestrator_agent(
    app: faust.App,
    deps: WorkerDependencies,
    runner: BatchRunner,
    publish_dead_letters: PublishDeadLetters,
) -> None:
    settings = deps.settings
    planner = EventPlanner(
        deps.store,
        reminder_offsets=reminder_offsets_from_hours(settings.reminder_offsets_hours),
        clock=deps.clock,
        exploration_share=settings.ml_exploration_share,
        fatigue=fatigue_policy(settings),
    )
    poison = processing_dead_letter(CORE_EVENTS, "orchestrator.batch")
    core_topic = app.topic(CORE_EVENTS, value_serializer="raw", key_serializer="raw")

    async def handle_group(messages: list[KafkaMessage]) -> None:
        outcome = await runner.run(messages, planner.handle, what="core event batch", poison=poison)
        for result in outcome.results:
            deps.metrics.count_suppressions("plan", result.suppressions)
        await publish_dead_letters(
            [letter for result in outcome.results for letter in result.dead_letters]
            + outcome.dead_letters
        )

    async def handle_and_ack(stream: faust.StreamT, events: Sequence[Any]) -> None:
        # Each partition's events stay together and in order, in one transaction; groups of
        # different partitions share no patient, so their transactions may run side by side.
        groups = partition_groups(
            events, settings.orchestrator_partition_concurrency, lambda e: e.message.tp
        )
        with correlation.correlated(_batch_correlation(events)):
            await asyncio.gather(
                *(
                    handle_group([(e.message.key, e.message.value) for e in group])
                    for group in groups
                )
            )
        for event in events:
            await stream.ack(event)

    @app.agent(core_topic, name="outreach.orchestrate")
    async def orchestrate(stream: faust.StreamT) -> None:
        # Pipelined: while one batch is in its thread, the stream gathers the next one. The
        # next batch starts only once the previous one committed and was acknowledged, so
        # events still apply in order and an offset is never committed before its jobs.
        in_flight: asyncio.Future[None] | None = None
        try:
            async for events in stream.noack_take(
                settings.orchestrator_batch_size, within=settings.orchestrator_batch_within_seconds
            ):
                if in_flight is not None:
                    await in_flight
                in_flight = asyncio.ensure_future(handle_and_ack(stream, events))
        finally:
            if in_flight is not None and not in_flight.done():
                await asyncio.shield(in_flight)


def _batch_correlation(events: Sequence[Any]) -> str | None:
    """The batch's correlation id, from the headers its messages carried."""
    return correlation.batch_correlation_id(
        [correlation.from_kafka_headers(e.message.headers) for e in events]
    )


def _send_observer(metrics: Metrics) -> Callable[[str, float, str | None], None]:
    def observe(channel: str, seconds: float, error_code: str | None) -> None:
        metrics.send_seconds.labels(channel=channel).observe(seconds)
        if error_code is not None:
            metrics.provider_errors.labels(channel=channel, code=error_code).inc()

    return observe


def _send_agent(
    app: faust.App,
    channel: Channel,
    sender: JobSender,
    runner: BatchRunner,
    publish_dead_letters: PublishDeadLetters,
    publish_outcomes: Callable[[Sequence[TypedOutcome]], Any],
    settings: Settings,
    metrics: Metrics,
) -> None:
    topic_name = send_topic(channel)
    topic = app.topic(topic_name, value_serializer="raw", key_serializer="raw")

    async def send_channel(stream: faust.StreamT) -> None:
        async for events in stream.take_events(
            settings.send_batch_size, within=settings.send_batch_within_seconds
        ):
            with correlation.correlated(_batch_correlation(events)):
                outcome = await runner.parse_and_run(
                    [(e.message.key, e.message.value) for e in events],
                    SendRequest,
                    sender.handle,
                    topic=topic_name,
                    stage="channel",
                    what=f"{channel.value} send batch",
                )
                await publish_dead_letters(outcome.dead_letters)
                for result in outcome.results:
                    metrics.count_suppressions("send", result.suppressions)
                    await publish_dead_letters(result.dead_letters)
                    await publish_outcomes(result.outcomes)

    # Send requests are independent (take_sends makes each send exclusive), so two actors per
    # channel let one batch's database work overlap another's provider calls.
    app.agent(
        topic, name=f"outreach.send.{channel.value}", concurrency=settings.send_agent_concurrency
    )(send_channel)


def _status_agent(
    app: faust.App,
    deps: WorkerDependencies,
    runner: BatchRunner,
    publish_dead_letters: PublishDeadLetters,
) -> None:
    settings = deps.settings
    ingestor = StatusIngestor(deps.store, clock=deps.clock)
    outcomes_topic = app.topic(OUTCOMES, value_serializer="raw", key_serializer="raw")
    status_topic = app.topic(STATUS, value_serializer="raw", key_serializer="raw")

    @app.agent(status_topic, name="outreach.status")
    async def ingest_statuses(stream: faust.StreamT) -> None:
        async for events in stream.take_events(
            settings.status_batch_size, within=settings.status_batch_within_seconds
        ):
            with correlation.correlated(_batch_correlation(events)):
                outcome = await runner.parse_and_run(
                    [(e.message.key, e.message.value) for e in events],
                    StatusUpdate,
                    ingestor.handle,
                    topic=STATUS,
                    stage="status",
                    what="status batch",
                )
                await publish_dead_letters(outcome.dead_letters)
                for result in outcome.results:
                    for failed in result.outcomes:  # no channel left after a later failure
                        await outcomes_topic.send(
                            key=failed.patient_id.encode() if failed.patient_id else None,
                            value=failed.model_dump_json(exclude_unset=True).encode(),
                        )


def run_worker(deps: WorkerDependencies, roles: Sequence[str], *, loglevel: str = "INFO") -> None:
    """Run the faust worker in this process until SIGTERM/SIGINT."""
    from faust.worker import Worker

    from outreach.logging_config import RedactionFilter

    app = build_worker_app(deps, roles)
    worker = Worker(
        app, loglevel=loglevel.lower(), quiet=True, redirect_stdouts=False, override_logging=False
    )
    for handler in logging.getLogger().handlers:
        handler.addFilter(RedactionFilter())
    # A batch keeps thousands of objects alive at once; with CPython's default (700) they were
    # promoted into full collections that walked the whole heap, about a quarter of the
    # orchestrator's time in bench/pipeline.py. Only the youngest generation's threshold
    # changes, so garbage cycles are still collected.
    gc.set_threshold(deps.settings.worker_gc_threshold, *gc.get_threshold()[1:])
    started = datetime.now(UTC)
    logger.info("worker starting with roles %s at %s", ",".join(roles), started.isoformat())
    worker.execute_from_commandline()
