"""The clock every process reads: the real one, or the demo's shared simulated one.

The pure cores take ``now`` as a parameter; only process edges call a clock. The demo shifts
time for all its processes at once through one Redis key, so reminders fall due in seconds.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from datetime import UTC, datetime, timedelta

import redis

Clock = Callable[[], datetime]


def system_clock() -> datetime:
    return datetime.now(UTC)


class SharedShiftedClock:
    """Real time plus an offset that one process (the demo) sets for every other process."""

    def __init__(self, client: redis.Redis, key: str, refresh_seconds: float = 0.1) -> None:
        self._client = client
        self._key = key
        self._refresh = refresh_seconds
        self._offset = 0.0
        self._read_at = -1e9

    def offset(self) -> timedelta:
        if time.monotonic() - self._read_at > self._refresh:
            value = self._client.get(self._key)
            self._offset = float(value) if value else 0.0
            self._read_at = time.monotonic()
        return timedelta(seconds=self._offset)

    def set_offset(self, offset: timedelta) -> None:
        self._client.set(self._key, str(offset.total_seconds()))
        self._offset = offset.total_seconds()
        self._read_at = time.monotonic()

    def set_now(self, simulated_now: datetime) -> None:
        self.set_offset(simulated_now - datetime.now(UTC))

    def __call__(self) -> datetime:
        return datetime.now(UTC) + self.offset()
