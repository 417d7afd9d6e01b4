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

from aiokafka import AIOKafkaProducer

logger = logging.getLogger(__name__)

# (topic, key, value)
OutgoingRecord = tuple[str, bytes | None, bytes]

# A webhook provider waits 10-15 s; answer well before, so its retry comes sooner.
DEFAULT_PUBLISH_TIMEOUT_SECONDS = 5.0


@runtime_checkable
class EventPublisher(Protocol):
    """What the API needs from Kafka. ``outreach.kafka_publisher.KafkaPublisher`` fits too."""

    @property
    def started(self) -> bool: ...

    async def start(self) -> None: ...

    async def stop(self) -> None: ...

    async def publish(self, topic: str, key: bytes | None, value: bytes) -> None: ...

    async def publish_many(self, records: Sequence[OutgoingRecord]) -> None: ...


class PublishFailed(Exception):
    """The broker did not acknowledge a message in time; nothing may be answered as accepted."""


class KafkaEventPublisher:
    """One aiokafka producer for the API process, started and stopped by the app's lifespan."""

    def __init__(
        self,
        bootstrap_servers: str,
        *,
        client_id: str = "outreach-api",
        request_timeout_ms: int = 10_000,
    ) -> None:
        self._bootstrap_servers = bootstrap_servers
        self._client_id = client_id
        self._request_timeout_ms = request_timeout_ms
        self._producer: AIOKafkaProducer | None = None

    @property
    def started(self) -> bool:
        return self._producer is not None

    async def start(self) -> None:
        if self._producer is not None:
            return
        # No idempotent producer: tansu refuses InitProducerId. Duplicates on retry are fine,
        # every consumer is idempotent.
        producer = AIOKafkaProducer(
            bootstrap_servers=self._bootstrap_servers,
            client_id=self._client_id,
            acks="all",
            linger_ms=2,
            request_timeout_ms=self._request_timeout_ms,
        )
        await producer.start()
        self._producer = producer
        logger.info("api publisher connected to kafka")

    async def stop(self) -> None:
        producer, self._producer = self._producer, None
        if producer is not None:
            await producer.stop()

    def _running(self) -> AIOKafkaProducer:
        if self._producer is None:
            raise PublishFailed("publisher not started")
        return self._producer

    async def publish(self, topic: str, key: bytes | None, value: bytes) -> None:
        await self._running().send_and_wait(topic, value, key=key)

    async def publish_many(self, records: Sequence[OutgoingRecord]) -> None:
        """Queue all in order (per-key order holds), then wait for every acknowledgement."""
        producer = self._running()
        deliveries = [await producer.send(topic, value, key=key) for topic, key, value in records]
        await asyncio.gather(*deliveries)


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
