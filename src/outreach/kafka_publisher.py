"""Publishing to Kafka with aiokafka: one producer per process, batches awaited together."""

from __future__ import annotations

import asyncio
from collections.abc import Sequence

from aiokafka import AIOKafkaProducer

from outreach import correlation

Record = tuple[str, bytes | None, bytes]


class PublisherNotStarted(RuntimeError):
    """``publish`` was called before ``start`` (or after ``stop``)."""


class KafkaPublisher:
    """Started once by the process that owns it; ``publish_many`` returns when Kafka has all.

    The producer is created in ``start``: aiokafka binds it to the running event loop, which
    does not exist yet when the API app or the scheduler is being wired.
    """

    def __init__(
        self,
        bootstrap_servers: str,
        *,
        client_id: str = "outreach",
        request_timeout_ms: int = 15_000,
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
        # acks=all: a webhook answers 200 only when the broker holds the message. No idempotent
        # producer: tansu refuses InitProducerId; every consumer is idempotent instead.
        producer = AIOKafkaProducer(
            bootstrap_servers=self._bootstrap_servers,
            client_id=self._client_id,
            acks="all",
            linger_ms=2,
            max_batch_size=256 * 1024,
            request_timeout_ms=self._request_timeout_ms,
        )
        await producer.start()
        self._producer = producer

    async def stop(self) -> None:
        producer, self._producer = self._producer, None
        if producer is not None:
            await producer.stop()

    def _running(self) -> AIOKafkaProducer:
        if self._producer is None:
            raise PublisherNotStarted("the Kafka publisher is not started")
        return self._producer

    async def check_reachable(self) -> None:
        """Raise unless the broker answers a metadata request now."""
        await self._running().client.fetch_all_metadata()

    async def publish(self, topic: str, key: bytes | None, value: bytes) -> None:
        await self._running().send_and_wait(
            topic, value, key=key, headers=correlation.kafka_headers()
        )

    async def publish_many(self, records: Sequence[Record]) -> None:
        """Queue all in order (per-key order holds), then wait for every acknowledgement.

        Every record carries the current correlation id (``correlation.KAFKA_HEADER``)."""
        if not records:
            return
        producer = self._running()
        headers = correlation.kafka_headers()
        deliveries = [
            await producer.send(topic, value, key=key, headers=headers)
            for topic, key, value in records
        ]
        await asyncio.gather(*deliveries)
