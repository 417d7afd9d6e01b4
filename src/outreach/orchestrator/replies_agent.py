"""The ``outreach.inbound`` agent: Kafka values -> the replies service -> Kafka.

Thin on purpose: it parses the envelopes (a malformed one becomes a dead letter), runs the
service in a worker thread and publishes what it returns (outcomes, staff-inbox items, dead
letters). Offsets move on only after a batch was handled and its outputs published; a crash in
between redelivers the batch, and the stored message ids make the second run a no-op.
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable, Sequence
from datetime import datetime
from typing import TYPE_CHECKING

from outreach.dead_letters import DeadLetter
from outreach.events import InboundEnvelope
from outreach.orchestrator.batch_consumer import KafkaMessage, RunBlocking, parse_messages
from outreach.retrying import RetrySchedule, retry_async
from outreach.topics import INBOUND, OUTCOMES, STAFF_INBOX

if TYPE_CHECKING:
    import faust

    from outreach.config import Settings
    from outreach.services.receive_reply import ReplyBatchResult, ReplyService

logger = logging.getLogger(__name__)

# The first pause after a failure; each next one doubles, up to the configured maximum.
FIRST_RETRY_DELAY_SECONDS = 0.5


class _WaitingForDatabase(Exception):
    """Some of the batch is left because the database was unreachable."""


def parse_envelopes(
    messages: Sequence[KafkaMessage], now: datetime
) -> tuple[list[InboundEnvelope], list[DeadLetter]]:
    """Kafka values -> envelopes; one that does not parse becomes a dead letter with a PHI-free
    reason (field paths, never values)."""
    parsed, malformed = parse_messages(
        messages, InboundEnvelope, topic=INBOUND, stage="replies.parse", now=now
    )
    return [item.value for item in parsed], malformed


def _key(patient_id: str | None) -> bytes | None:
    return patient_id.encode() if patient_id else None


def register_replies_agent(
    app: faust.App,
    service: ReplyService,
    run_blocking: RunBlocking,
    publish_dead_letters: Callable[[Sequence[DeadLetter]], Awaitable[None]],
    settings: Settings,
    clock: Callable[[], datetime],
) -> None:
    """Add the ``outreach.inbound`` agent to the worker app.

    A database outage holds the partition (an opt-out must not be skipped): the messages the
    service left unprocessed are retried until they go through, as is publishing.
    """
    inbound_topic = app.topic(INBOUND, value_serializer="raw", key_serializer="raw")
    outcomes_topic = app.topic(OUTCOMES, value_serializer="raw", key_serializer="raw")
    staff_topic = app.topic(STAFF_INBOX, value_serializer="raw", key_serializer="raw")
    until_done = RetrySchedule(
        attempts=None,
        initial_delay=FIRST_RETRY_DELAY_SECONDS,
        max_delay=settings.replies_max_retry_delay_seconds,
    )

    async def publish(result: ReplyBatchResult) -> None:
        for outcome in result.outcomes:
            await outcomes_topic.send(
                key=_key(outcome.patient_id),
                value=outcome.model_dump_json(exclude_unset=True).encode(),
            )
        for item in result.staff_items:
            await staff_topic.send(key=_key(item.patient_id), value=item.model_dump_json().encode())
        await publish_dead_letters(result.dead_letters)

    async def receive(envelopes: list[InboundEnvelope]) -> None:
        remaining = envelopes

        async def attempt() -> None:
            nonlocal remaining
            result = await run_blocking(service.receive, remaining)
            # The database work is committed: only publishing is retried, never the handling.
            # A retry may repeat an outcome; the consumers are idempotent, a lost one is not.
            await retry_async(lambda: publish(result), until_done, what="publishing reply results")
            remaining = result.unprocessed
            if remaining:
                logger.warning("%d inbound message(s) wait for the database", len(remaining))
                raise _WaitingForDatabase

        await retry_async(attempt, until_done, what="inbound batch")

    async def handle_inbound(stream: faust.StreamT) -> None:
        async for events in stream.take_events(
            settings.replies_batch_size, within=settings.replies_batch_within_seconds
        ):
            envelopes, malformed = parse_envelopes(
                [(e.message.key, e.message.value) for e in events], clock()
            )
            await publish_dead_letters(malformed)
            if envelopes:
                await receive(envelopes)

    app.agent(inbound_topic, name="outreach.replies")(handle_inbound)
