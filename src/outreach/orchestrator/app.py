"""The faust worker: core events -> jobs, send requests -> providers, statuses -> jobs.

Every agent consumes in batches (``take_events``; the orchestrator ``noack_take``, acknowledging
itself) and hands the batch to a blocking handler in a thread, so the event loop keeps fetching
while SQL and provider calls run. Offsets are acknowledged only after the handler returns: a
crash redelivers the batch, and the handlers' idempotency (inbox, idempotency keys, conditional
updates) makes the second run change nothing.
"""

from __future__ import annotations

import asyncio
import gc
import json
import logging
from collections.abc import Awaitable, Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, TypeVar

import faust
from faust.transport.consumer import CONSUMER_FETCHING
from faust.transport.drivers import aiokafka as faust_kafka
from pydantic import ValidationError

from outreach.analytics.status_ingest import StatusBatchHandler
from outreach.channels.send_worker import SendBatchHandler
from outreach.config import Settings
from outreach.domain import Channel
from outreach.events import DlqEntry, Outcome, SendRequest, StatusUpdate
from outreach.orchestrator.batch import EventBatchHandler, dlq_for_processing_failure
from outreach.orchestrator.planning import reminder_offsets_from_hours
from outreach.topics import CORE_EVENTS, DLQ, OUTCOMES, STATUS, send_topic

logger = logging.getLogger(__name__)

T = TypeVar("T")

ALL_ROLES = ("orchestrator", "channels", "status", "replies")
# A failing batch is retried this many times before it is split to find the poison event.
BATCH_RETRIES = 3


@dataclass
class WorkerDependencies:
    settings: Settings
    engine: Any
    clock: Callable[[], datetime]
    channels: dict[str, Any]
    builder: Any
    reply_handler: Any | None = None


async def _with_retries(run: Callable[[], Awaitable[T]], what: str) -> T:
    delay = 0.5
    for attempt in range(1, BATCH_RETRIES + 1):
        try:
            return await run()
        except Exception as error:
            if attempt == BATCH_RETRIES:
                raise
            logger.warning(
                "%s failed (%s), retry %d in %.1fs", what, type(error).__name__, attempt, delay
            )
            await asyncio.sleep(delay)
            delay *= 2
    raise AssertionError("unreachable")


# The faust release whose consumer drain loop ``PromptDeliveryConsumer`` reproduces.
_DRAIN_LOOP_FAUST_VERSION = "0.15.3"


class PromptDeliveryConsumer(faust_kafka.Consumer):
    """faust's Kafka consumer, handing each fetched message to its stream without a race.

    faust 0.15's drain loop races every message's delivery against the flow-suspension event
    with ``wait_first`` (two tasks and an ``asyncio.wait`` per message), which measured more
    CPU than the rest of faust's per-message work together and, in a worker whose batch
    handlers need the GIL, was the largest single limit on events/s. Here the race happens
    only while the flow is suspended (a rebalance); otherwise the message is delivered
    directly. A delivery blocked when a rebalance begins is cancelled with the fetcher, as
    faust's own stop does, and its uncommitted offset is read again after the rebalance.
    The loop is otherwise faust 0.15.3's ``Consumer._drain_messages``.
    """

    async def _drain_messages(self, fetcher: Any) -> None:  # pragma: no cover
        callback = self.callback
        getmany = self.getmany
        consumer_should_stop = self._stopped.is_set
        fetcher_should_stop = fetcher._stopped.is_set
        get_read_offset = self._read_offset.__getitem__
        set_read_offset = self._read_offset.__setitem__
        set_flag = self.diag.set_flag
        unset_flag = self.diag.unset_flag
        commit_every = self._commit_every
        acks_enabled_for = self.app.topics.acks_enabled_for
        suspended = self.suspend_flow.is_set
        yield_every = 100
        num_since_yield = 0
        try:
            while not (consumer_should_stop() or fetcher_should_stop()):
                set_flag(CONSUMER_FETCHING)
                records = getmany(timeout=1.0)
                # getmany may return at once, again and again: let the loop breathe.
                await self.sleep(0)
                if not self.should_stop:
                    async for tp, message in records:
                        num_since_yield += 1
                        if num_since_yield > yield_every:
                            await asyncio.sleep(0)
                            num_since_yield = 0
                        offset = message.offset
                        read_offset = get_read_offset(tp)
                        if read_offset is None or offset >= read_offset:
                            gap = offset - (read_offset or 0)
                            if gap > 1 and read_offset and acks_enabled_for(message.topic):
                                await self._add_gap(tp, read_offset + 1, offset)
                            if commit_every is not None and self._n_acked >= commit_every:
                                self._n_acked = 0
                                await self.commit()
                            if suspended():
                                await self.wait_first(callback(message), self.suspend_flow.wait())
                            else:
                                await callback(message)
                            set_read_offset(tp, offset)
                    unset_flag(CONSUMER_FETCHING)
        except self.consumer_stopped_errors:
            if self.transport.app.should_stop:
                self.log.info("Broker stopped consumer, shutting down...")
                return
            raise
        except asyncio.CancelledError:
            if self.transport.app.should_stop:
                self.log.info("Consumer shutting down for user cancel.")
                return
            raise
        except Exception as exc:
            self.log.exception("Drain messages raised: %r", exc)
            raise
        finally:
            unset_flag(CONSUMER_FETCHING)


class PromptDeliveryTransport(faust_kafka.Transport):
    Consumer = PromptDeliveryConsumer


def partition_groups(events: Sequence[Any], ways: int) -> list[list[Any]]:
    """Split a batch into at most ``ways`` groups of whole partitions, each in arrival order.

    Core events are keyed by patient, so a patient's events are all in one partition: groups
    never share a patient, and each keeps its partitions' events in order.
    """
    by_partition: dict[Any, list[Any]] = {}
    for event in events:
        by_partition.setdefault(event.message.tp, []).append(event)
    groups: list[list[Any]] = [[] for _ in range(max(1, min(ways, len(by_partition))))]
    for partition_events in sorted(by_partition.values(), key=len, reverse=True):
        min(groups, key=len).extend(partition_events)
    return [group for group in groups if group]


def consumer_group_id(app_id: str, roles: Sequence[str]) -> str:
    """One consumer group per role set: workers with the same roles share partitions.

    Faust's assignor expects every member of a group to consume the same topics, so a worker
    running only ``channels`` must not join the group of one running everything.
    """
    chosen = sorted(set(roles))
    if chosen == sorted(ALL_ROLES):
        return app_id
    return f"{app_id}.{'+'.join(chosen)}"


def build_worker_app(deps: WorkerDependencies, roles: Sequence[str] = ALL_ROLES) -> faust.App:
    settings = deps.settings
    bootstrap = settings.resolved_kafka_bootstrap()
    app = faust.App(
        consumer_group_id(settings.faust_app_id, roles),
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
        if faust.__version__ == _DRAIN_LOOP_FAUST_VERSION:
            app.transport = PromptDeliveryTransport(app.conf.broker_consumer, app)
        else:
            logger.warning(
                "faust %s is not %s: using its stock consumer",
                faust.__version__,
                _DRAIN_LOOP_FAUST_VERSION,
            )
    db_pool = ThreadPoolExecutor(max_workers=4, thread_name_prefix="outreach-db")
    send_pool = ThreadPoolExecutor(
        max_workers=settings.send_threads, thread_name_prefix="outreach-send"
    )
    loop_run = asyncio.get_event_loop

    async def run_blocking(function: Callable[..., T], *args: Any) -> T:
        return await loop_run().run_in_executor(db_pool, function, *args)

    dlq_topic = app.topic(DLQ, value_serializer="raw", key_serializer="raw")
    outcomes_topic = app.topic(OUTCOMES, value_serializer="raw", key_serializer="raw")

    async def publish_dead_letters(entries: Sequence[DlqEntry]) -> None:
        for entry in entries:
            await dlq_topic.send(
                key=(entry.key or "").encode() or None, value=entry.model_dump_json().encode()
            )
        if entries:
            logger.warning("%d message(s) sent to %s", len(entries), DLQ)

    async def publish_outcomes(outcomes: Sequence[Outcome]) -> None:
        for outcome in outcomes:
            await outcomes_topic.send(
                key=(outcome.patient_id or "").encode() or None,
                value=outcome.model_dump_json().encode(),
            )

    if "orchestrator" in roles:
        handler = EventBatchHandler(
            deps.engine,
            reminder_offsets=reminder_offsets_from_hours(settings.reminder_offsets_hours),
            clock=deps.clock,
        )
        core_topic = app.topic(CORE_EVENTS, value_serializer="raw", key_serializer="raw")

        async def handle_core_batch(messages: list[tuple[bytes | None, bytes]]) -> None:
            try:
                result = await _with_retries(
                    lambda: run_blocking(handler.handle, messages), "core event batch"
                )
                await publish_dead_letters(result.dead_letters)
                return
            except Exception as error:
                if len(messages) == 1:
                    logger.error("core event failed for good: %s", type(error).__name__)
                    await publish_dead_letters(
                        dlq_for_processing_failure(messages, error, deps.clock())
                    )
                    return
            # Split the batch: the good events go through, the poison one reaches the DLQ.
            middle = len(messages) // 2
            await handle_core_batch(messages[:middle])
            await handle_core_batch(messages[middle:])

        async def handle_and_ack(stream: faust.StreamT, events: Sequence[Any]) -> None:
            # Each partition's events stay together and in order, in one transaction; groups of
            # different partitions share no patient, so their transactions may run side by side.
            groups = partition_groups(events, settings.orchestrator_partition_concurrency)
            await asyncio.gather(
                *(
                    handle_core_batch([(e.message.key, e.message.value) for e in group])
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
                async for events in stream.noack_take(settings.orchestrator_batch_size, within=0.2):
                    if in_flight is not None:
                        await in_flight
                    in_flight = asyncio.ensure_future(handle_and_ack(stream, events))
            finally:
                if in_flight is not None and not in_flight.done():
                    await asyncio.shield(in_flight)

    if "channels" in roles:
        sender = SendBatchHandler(
            deps.engine, deps.channels, deps.builder, pool=send_pool, clock=deps.clock
        )
        for channel_name in deps.channels:
            _register_send_agent(
                app,
                Channel(channel_name),
                sender,
                run_blocking,
                publish_dead_letters,
                publish_outcomes,
                settings,
                deps.clock,
            )

    if "status" in roles:
        status_handler = StatusBatchHandler(deps.engine, clock=deps.clock)
        status_topic = app.topic(STATUS, value_serializer="raw", key_serializer="raw")

        @app.agent(status_topic, name="outreach.status")
        async def ingest_statuses(stream: faust.StreamT) -> None:
            async for events in stream.take_events(1000, within=0.2):
                updates: list[StatusUpdate] = []
                bad: list[DlqEntry] = []
                for event in events:
                    try:
                        updates.append(StatusUpdate.model_validate_json(event.message.value))
                    except ValidationError as error:
                        bad.append(
                            _malformed(STATUS, "status.parse", event.message, error, deps.clock())
                        )
                await publish_dead_letters(bad)
                await _with_retries(
                    lambda u=updates: run_blocking(status_handler.handle, u), "status batch"
                )

    if "replies" in roles and deps.reply_handler is not None:
        from outreach.orchestrator.replies_agent import register_replies_agent

        register_replies_agent(
            app, deps.reply_handler, run_blocking, publish_dead_letters, settings, deps.clock
        )

    @app.on_rebalance_complete.connect
    async def _announce_ready(sender: faust.App, **_kwargs: Any) -> None:
        # Tests, the demo and operators wait for this line: partitions are assigned.
        logger.info("worker ready: partitions assigned")

    return app


def _malformed(topic: str, stage: str, message: Any, error: Exception, now: datetime) -> DlqEntry:
    raw = message.value if isinstance(message.value, bytes) else json.dumps(message.value).encode()
    return DlqEntry(
        source_topic=topic,
        stage=stage,
        error=str(error)[:1000],
        failed_at=now,
        original=raw.decode("utf-8", "replace")[:100_000],
        key=message.key.decode("utf-8", "replace") if message.key else None,
    )


def _register_send_agent(
    app: faust.App,
    channel: Channel,
    sender: SendBatchHandler,
    run_blocking: Callable[..., Awaitable[Any]],
    publish_dead_letters: Callable[[Sequence[DlqEntry]], Awaitable[None]],
    publish_outcomes: Callable[[Sequence[Outcome]], Awaitable[None]],
    settings: Settings,
    clock: Callable[[], datetime],
) -> None:
    topic = app.topic(send_topic(channel), value_serializer="raw", key_serializer="raw")

    async def send_channel(stream: faust.StreamT) -> None:
        async for events in stream.take_events(settings.send_batch_size, within=0.05):
            requests: list[SendRequest] = []
            bad: list[DlqEntry] = []
            for event in events:
                try:
                    requests.append(SendRequest.model_validate_json(event.message.value))
                except ValidationError as error:
                    bad.append(
                        _malformed(
                            topic.get_topic_name(), "channel.parse", event.message, error, clock()
                        )
                    )
            await publish_dead_letters(bad)
            result = await _with_retries(
                lambda r=requests: run_blocking(sender.handle, r), f"{channel.value} send batch"
            )
            await publish_dead_letters(result.dead_letters)
            await publish_outcomes(result.outcomes)

    # Send requests are independent (take_sends makes each send exclusive), so two actors per
    # channel let one batch's database work overlap another's provider calls.
    app.agent(
        topic, name=f"outreach.send.{channel.value}", concurrency=settings.send_agent_concurrency
    )(send_channel)


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
