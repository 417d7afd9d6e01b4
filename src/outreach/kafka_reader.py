"""Reading a whole topic, from its start to its current end, without a consumer group: what the
dead-letter commands need (nothing is committed, nothing moves for anyone else)."""

from __future__ import annotations

import time

from aiokafka import AIOKafkaConsumer
from aiokafka.structs import ConsumerRecord, TopicPartition


async def read_topic(
    bootstrap_servers: str, topic: str, timeout: float = 30.0
) -> list[ConsumerRecord]:
    """Every record on ``topic`` now, partition by partition, oldest first."""
    consumer = AIOKafkaConsumer(bootstrap_servers=bootstrap_servers, enable_auto_commit=False)
    await consumer.start()
    try:
        await consumer.topics()  # loads the metadata
        numbers = consumer.partitions_for_topic(topic) or set()
        partitions = [TopicPartition(topic, n) for n in sorted(numbers)]
        if not partitions:
            return []
        consumer.assign(partitions)
        await consumer.seek_to_beginning(*partitions)
        ends = await consumer.end_offsets(partitions)
        records: list[ConsumerRecord] = []
        deadline = time.monotonic() + timeout
        for partition in partitions:
            while await consumer.position(partition) < ends[partition]:
                if time.monotonic() > deadline:
                    raise TimeoutError(f"reading {topic} took over {timeout:.0f}s")
                batch = await consumer.getmany(partition, timeout_ms=200)
                records.extend(batch.get(partition, []))
        return records
    finally:
        await consumer.stop()
