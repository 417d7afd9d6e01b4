"""aiokafka produces to and consumes from the tansu broker, with consumer groups and commits."""

from __future__ import annotations

import asyncio
import json

from aiokafka import AIOKafkaConsumer, AIOKafkaProducer
from aiokafka.structs import TopicPartition

from outreach.topics import all_topics, ensure_topics


async def test_produce_and_consume_through_tansu(kafka_bootstrap: str, unique_topic: str) -> None:
    # tansu 0.6 answers InitProducerId with an error: no idempotent producer. Exactly-once
    # comes from the consumers (idempotency keys), not the broker.
    producer = AIOKafkaProducer(bootstrap_servers=kafka_bootstrap, acks="all")
    await producer.start()
    try:
        for n in range(20):
            value = json.dumps({"event_id": f"e{n}", "n": n}).encode()
            await producer.send_and_wait(unique_topic, value, key=f"patient-{n % 3}".encode())
    finally:
        await producer.stop()

    consumer = AIOKafkaConsumer(
        unique_topic,
        bootstrap_servers=kafka_bootstrap,
        group_id=f"g-{unique_topic}",
        auto_offset_reset="earliest",
        enable_auto_commit=False,
    )
    await consumer.start()
    try:
        received: list[dict] = []
        while len(received) < 20:
            batch = await asyncio.wait_for(consumer.getmany(timeout_ms=1000), 20)
            for messages in batch.values():
                received.extend(json.loads(m.value) for m in messages)
        await consumer.commit()
        committed = sum([await consumer.committed(tp) or 0 for tp in consumer.assignment()])
    finally:
        await consumer.stop()
    assert sorted(r["n"] for r in received) == list(range(20))
    assert committed == 20  # the group's offsets cover every message


async def test_committed_offsets_resume_the_group(kafka_bootstrap: str, unique_topic: str) -> None:
    """A second consumer in the same group starts after what the first committed."""
    producer = AIOKafkaProducer(bootstrap_servers=kafka_bootstrap)
    await producer.start()
    for n in range(10):
        await producer.send_and_wait(unique_topic, str(n).encode(), partition=0)
    await producer.stop()

    group = f"g-{unique_topic}"
    first = AIOKafkaConsumer(
        bootstrap_servers=kafka_bootstrap,
        group_id=group,
        enable_auto_commit=False,
        auto_offset_reset="earliest",
    )
    await first.start()
    tp = TopicPartition(unique_topic, 0)
    first.assign([tp])
    taken = []
    while len(taken) < 4:
        message = await asyncio.wait_for(first.getone(), 10)
        taken.append(int(message.value))
    await first.commit({tp: 4})
    await first.stop()

    second = AIOKafkaConsumer(
        bootstrap_servers=kafka_bootstrap,
        group_id=group,
        enable_auto_commit=False,
        auto_offset_reset="earliest",
    )
    await second.start()
    second.assign([tp])
    message = await asyncio.wait_for(second.getone(), 10)
    await second.stop()
    assert taken == [0, 1, 2, 3]
    assert int(message.value) == 4


async def test_ensure_topics_is_idempotent(kafka_bootstrap: str) -> None:
    from aiokafka.admin import AIOKafkaAdminClient

    await ensure_topics(kafka_bootstrap, partitions=2)
    await ensure_topics(kafka_bootstrap, partitions=2)
    admin = AIOKafkaAdminClient(bootstrap_servers=kafka_bootstrap)
    await admin.start()
    try:
        assert set(all_topics()) <= set(await admin.list_topics())
    finally:
        await admin.close()
