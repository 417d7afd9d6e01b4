"""``outreach.status`` -> comm_status_events (once each) and job status (forward only).

A status may arrive before the channel worker recorded the provider message id (fast
providers): it is stored unattached, and ``job_repository.mark_sent`` replays it then.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable, Sequence
from datetime import UTC, datetime

from sqlalchemy import Engine, select

from outreach.events import StatusUpdate
from outreach.sql import job_repository

jobs = job_repository.jobs


class StatusBatchHandler:
    def __init__(
        self, engine: Engine, clock: Callable[[], datetime] = lambda: datetime.now(UTC)
    ) -> None:
        self.engine = engine
        self.clock = clock

    def handle(self, updates: Sequence[StatusUpdate]) -> Counter[str]:
        now = self.clock()
        applied: Counter[str] = Counter()
        if not updates:
            return applied
