"""The send ledger: "this send started", one Redis write per message just before the provider
call, so that after a crash the scheduler knows which sends never started (sent again at once)
from those that may have reached the provider (asked about first).

One ``SET`` per message, on Redis, not the database: the hot path stays free of database round
trips. Keys expire after a day; what they record is only needed until the scheduler recovers a
stopped worker's sends, seconds later.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, datetime

import redis

from outreach.redis_store import KeySpace

KEEP_SECONDS = 24 * 3600


class RedisSendLedger:
    """Shared by every process of a deployment (a real Redis, or the demo's shared stand-in)."""

    shared = True

    def __init__(self, client: redis.Redis, keys: KeySpace) -> None:
        self._client = client
        self._keys = keys

    def _key(self, job_id: int, attempt: int) -> str:
        return self._keys.key("send-started", job_id, attempt)

    def mark_started(self, job_id: int, attempt: int, at: datetime) -> None:
        self._client.set(self._key(job_id, attempt), at.timestamp(), ex=KEEP_SECONDS)

    def started_at(self, sends: Sequence[tuple[int, int]]) -> dict[tuple[int, int], datetime]:
        """When each (job id, attempt) started, for those that did."""
        if not sends:
            return {}
        values = self._client.mget([self._key(job_id, attempt) for job_id, attempt in sends])
        return {
            send: datetime.fromtimestamp(float(value), UTC)
            for send, value in zip(sends, values, strict=True)
            if value is not None
        }


class UnsharedSendLedger:
    """For a process whose Redis nobody else sees (``OUTREACH_REDIS_URL=embedded``): nothing is
    recorded, so recovery treats every send of a stopped worker as possibly started and asks the
    provider first. Slower to recover, never a duplicate."""

    shared = False

    def mark_started(self, job_id: int, attempt: int, at: datetime) -> None:
        """Nothing to record: no other process could read it."""

    def started_at(self, sends: Sequence[tuple[int, int]]) -> dict[tuple[int, int], datetime]:
        return {}
