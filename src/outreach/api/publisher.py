"""Handing messages to Kafka: the ``EventPublisher`` protocol the routes use, and an aiokafka one.

A route answers success only once the broker holds the message (acks=all): a webhook that said
200 for a status it never handed over would lose it, because the provider does not retry a 200.
Any failure or timeout becomes ``PublishFailed``, which the routes answer with 503.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Sequence
from typing import Protocol, runtime_checkable

logger = logging.getLogger(__name__)

# (topic, key, value)
OutgoingRecord = tuple[str, bytes | None, bytes]

# A webhook provider waits 10-15 s; answer well before, so its retry comes sooner.
DEFAULT_PUBLISH_TIMEOUT_SECONDS = 5.0


@runtime_checkable
class EventPublisher(Protocol):
    """What the API needs from Kafka; ``outreach.kafka_publisher.KafkaPublisher`` is the real one
    (tests may pass another)."""

    @property
    def started(self) -> bool: ...

    async def start(self) -> None: ...

    async def stop(self) -> None: ...

    async def publish(self, topic: str, key: bytes | None, value: bytes) -> None: ...

    async def publish_many(self, records: Sequence[OutgoingRecord]) -> None: ...

    async def check_reachable(self) -> None:
        """Raise unless the broker answers now (readiness)."""


class PublishFailed(Exception):
    """The broker did not acknowledge a message in time; nothing may be answered as accepted."""


async def hand_over(
    publisher: EventPublisher,
    records: Sequence[OutgoingRecord],
    timeout: float = DEFAULT_PUBLISH_TIMEOUT_SECONDS,
) -> None:
    """Publish ``records`` or raise ``PublishFailed``; never half-silently."""
    if not records:
        return
    try:
        if len(records) == 1:
            topic, key, value = records[0]
            await asyncio.wait_for(publisher.publish(topic, key, value), timeout)
        else:
            await asyncio.wait_for(publisher.publish_many(records), timeout)
    except PublishFailed:
        raise
    except Exception as exc:  # KafkaError, timeouts, a stopped producer: all mean "not handed"
        logger.warning("publishing %d record(s) failed: %s", len(records), type(exc).__name__)
        raise PublishFailed(type(exc).__name__) from None
