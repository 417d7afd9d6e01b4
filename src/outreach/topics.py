"""Kafka topic names and their creation: the one place that knows them (DESIGN.md)."""

from __future__ import annotations

import hashlib
import logging
import re

from outreach.domain import Channel

logger = logging.getLogger(__name__)

CORE_EVENTS = "core.events"
STATUS = "outreach.status"
INBOUND = "outreach.inbound"
OUTCOMES = "outreach.outcomes"
DLQ = "outreach.dlq"
STAFF_INBOX = "outreach.staff_inbox"
SEND_PREFIX = "outreach.send."


# Senders per partition key on outreach.inbound: enough buckets to spread load over any number of
# partitions, few enough that each holds a great many addresses and identifies nobody.
INBOUND_KEY_BUCKETS = 1 << 16


def inbound_key(address: str) -> bytes:
    """The ``outreach.inbound`` key of a sender: one sender's messages share a partition (so a
    STOP and the START after it stay in order) without the address itself reaching Kafka."""
    address = address.strip()
    canonical = address.lower() if "@" in address else re.sub(r"\D", "", address)
    digest = hashlib.sha256(canonical.encode("utf-8")).digest()
    return f"sender-{int.from_bytes(digest[:4], 'big') % INBOUND_KEY_BUCKETS:05d}".encode()


def send_topic(channel: Channel | str) -> str:
    return SEND_PREFIX + Channel(channel).value


def all_topics() -> list[str]:
    return [CORE_EVENTS, STATUS, INBOUND, OUTCOMES, DLQ, STAFF_INBOX] + [
        send_topic(channel) for channel in Channel
    ]


async def ensure_topics(
    bootstrap_servers: str, partitions: int = 4, replication_factor: int = 1
) -> list[str]:
    """Create the outreach topics that do not exist yet (idempotent); returns those created."""
    from aiokafka.admin import AIOKafkaAdminClient, NewTopic

    admin = AIOKafkaAdminClient(bootstrap_servers=bootstrap_servers)
    await admin.start()
    try:
        existing = set(await admin.list_topics())
        wanted = [
            NewTopic(name, num_partitions=partitions, replication_factor=replication_factor)
            for name in all_topics()
            if name not in existing
        ]
        if wanted:
            await admin.create_topics(wanted)
            logger.info("created %d topics", len(wanted))
        return [topic.name for topic in wanted]
    finally:
        await admin.close()
