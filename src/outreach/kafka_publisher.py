"""Publishing to Kafka with aiokafka: one producer per process, batches awaited together."""

from __future__ import annotations

import asyncio
from collections.abc import Sequence

from aiokafka import AIOKafkaProducer

Record = tuple[str, bytes | None, bytes]


class KafkaPublisher:
    """Started once by the process that owns it; ``publish_many`` returns when Kafka has all."""

    def __init__(self, bootstrap_servers: str, *, client_id: str = "outreach") -> None:
        # acks=all: a webhook answers 200 only when the broker holds the message.
        self._producer = AIOKafkaProducer(
            bootstrap_servers=bootstrap_servers,
            client_id=client_id,
            acks="all",
            linger_ms=5,
            max_batch_size=256 * 1024,
            request_timeout_ms=15000,
        )
        self.started = False

    async def start(self) -> None:
        await self._producer.start()
        self.started = True

    async def stop(self) -> None:
        if self.started:
            self.started = False
            await self._producer.stop()

    async def publish(self, topic: str, key: bytes | None, value: bytes) -> None:
        await self._producer.send_and_wait(topic, value, key=key)

    async def publish_many(self, records: Sequence[Record]) -> None:
        if not records:
            return
        deliveries = [
            await self._producer.send(topic, value, key=key) for topic, key, value in records
        ]
        await asyncio.gather(*deliveries)
