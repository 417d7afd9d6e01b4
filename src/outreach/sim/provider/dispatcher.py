"""Delivery of the simulator's webhooks to the API: a bounded queue drained by async workers.

Sends never wait for it: a slow or absent receiver fills the queue, and what no longer fits is
counted and dropped. Failed posts are retried a bounded number of times with backoff, re-signed
each time (as providers do).
"""

from __future__ import annotations

import asyncio
import logging
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import httpx

from outreach.sim.provider.transport import KeepAliveTransport
from outreach.sim.provider.webhooks import BATCHABLE_KINDS, signed_request

if TYPE_CHECKING:
    from outreach.sim.provider.state import SimState

logger = logging.getLogger(__name__)

# Statuses that say "try again later" to a provider; other 4xx (a refused signature) are final.
_RETRY_STATUSES = frozenset({408, 425, 429})


@dataclass(slots=True)
class CallbackJob:
    kind: str  # one of webhooks.*: how the item is encoded and signed
    url: str
    item: Any  # form fields, a SendGrid event, a Meta status or message
    group: str = ""  # batchable items share a POST only within a group (WhatsApp number id)
    attempt: int = 1


class CallbackDispatcher:
    """Timers for reports not yet due, a bounded queue of due ones, and workers posting them.

    Everything but ``post_now`` and the counters runs on the simulator's event loop.
    """

    def __init__(self, state: SimState):
        self._state = state
        self._queue: asyncio.Queue[CallbackJob] | None = None
        self._client: httpx.AsyncClient | None = None
        self._loop: asyncio.AbstractEventLoop | None = None
        self._workers: list[asyncio.Task] = []
        self._timers = 0  # scheduled but not yet fired
        self._in_flight = 0
        self.counters: Counter[str] = Counter()

    async def start(self) -> None:
        config = self._state.config
        self._loop = asyncio.get_running_loop()
        self._queue = asyncio.Queue(maxsize=config.callback_queue_size)
        connections = config.callback_concurrency
        self._client = httpx.AsyncClient(
            timeout=config.callback_timeout_s,
            transport=KeepAliveTransport(max_connections=connections),
        )
        self._workers = [
            asyncio.create_task(self._work(), name=f"sim-callback-{i}") for i in range(connections)
        ]

    async def stop(self) -> None:
        for worker in self._workers:
            worker.cancel()
        await asyncio.gather(*self._workers, return_exceptions=True)
        self._workers = []
        if self._client is not None:
            await self._client.aclose()
            self._client = None

    # ---- scheduling (event-loop thread only) ----

    def later(self, delay_s: float, action: Callable[..., None], *args: Any) -> None:
        """Run ``action`` after ``delay_s`` on the loop; bounded like the queue."""
        assert self._loop is not None, "dispatcher not started"
        if self._timers >= self._state.config.callback_queue_size:
            self._dropped()
            return
        self._timers += 1
        self._loop.call_later(delay_s, self._fire, action, args)

    def _fire(self, action: Callable[..., None], args: tuple) -> None:
        self._timers -= 1
        try:
            action(*args)
        except Exception:  # one bad report must not stop the others
            logger.exception("simulated report failed")

    def submit(self, job: CallbackJob, delay_s: float = 0.0) -> None:
        if delay_s > 0:
            self.later(delay_s, self.submit, job)
            return
        assert self._queue is not None, "dispatcher not started"
        try:
            self._queue.put_nowait(job)
        except asyncio.QueueFull:
            self._dropped()

    def _dropped(self) -> None:
        self.counters["dropped"] += 1
        dropped = self.counters["dropped"]
        if dropped == 1 or dropped % 1000 == 0:
            logger.warning("callback queue full: %d callbacks dropped so far", dropped)

    def pending(self) -> int:
        queued = self._queue.qsize() if self._queue is not None else 0
        return queued + self._timers + self._in_flight

    def stats(self) -> dict:
        return {"pending": self.pending(), **dict(self.counters)}

    # ---- delivery ----

    async def _work(self) -> None:
        assert self._queue is not None
        queue = self._queue
        while True:
            first = await queue.get()
            batch = [first]
            if first.kind in BATCHABLE_KINDS:
                limit = self._state.config.callback_batch_size
                while len(batch) < limit and not queue.empty():
                    batch.append(queue.get_nowait())
            self._in_flight += len(batch)
            try:
                for jobs in _group(batch):
                    try:
                        await self._deliver(jobs)
                    except Exception:  # one broken item must not stall its batch or the worker
                        self.counters["failed"] += len(jobs)
                        logger.exception("callback delivery failed unexpectedly")
            finally:
                self._in_flight -= len(batch)
                for _ in batch:
                    queue.task_done()

    async def _deliver(self, jobs: list[CallbackJob]) -> None:
        status = await self.post(jobs)
        n = len(jobs)
        if status is not None and 200 <= status < 300:
            self.counters["delivered"] += n
            return
        if status is not None and 400 <= status < 500 and status not in _RETRY_STATUSES:
            self.counters["rejected"] += n
            logger.debug("receiver refused %d callback(s) with HTTP %s", n, status)
            return
        config = self._state.config
        for job in jobs:
            if job.attempt >= config.callback_max_attempts:
                self.counters["failed"] += 1
                continue
            self.counters["retried"] += 1
            job.attempt += 1
            delay = config.callback_retry_backoff_ms / 1000 * 2 ** (job.attempt - 2)
            self.submit(job, delay_s=delay)

    async def post(self, jobs: list[CallbackJob]) -> int | None:
        """One signed POST carrying ``jobs``; the HTTP status, or None if no answer came."""
        assert self._client is not None, "dispatcher not started"
        first = jobs[0]
        state = self._state
        request = signed_request(
            first.kind,
            first.url,
            [job.item for job in jobs],
            state.config,
            state.sendgrid_key,
            first.group,
            # Signed on the clock the simulator lives in, as its events are stamped.
            signed_at=state.clock().timestamp(),
        )
        self.counters["posts"] += 1
        try:
            response = await self._client.post(
                request.url,
                content=request.body,
                headers=request.headers,
                timeout=state.config.callback_timeout_s,
            )
        except httpx.HTTPError as exc:
            logger.debug("callback post failed: %s", type(exc).__name__)
            return None
        return response.status_code

    async def post_now(self, job: CallbackJob) -> int | None:
        """Deliver one job at once with the configured retries; the last HTTP status."""
        config = self._state.config
        status = None
        for attempt in range(1, config.callback_max_attempts + 1):
            status = await self.post([job])
            if status is not None and status < 500 and status not in _RETRY_STATUSES:
                break
            if attempt < config.callback_max_attempts:
                await asyncio.sleep(config.callback_retry_backoff_ms / 1000 * 2 ** (attempt - 1))
        return status


def _group(batch: list[CallbackJob]) -> list[list[CallbackJob]]:
    """Batchable jobs grouped by kind, URL and group; every other job on its own."""
    groups: dict[tuple, list[CallbackJob]] = {}
    for index, job in enumerate(batch):
        key = (job.kind, job.url, job.group) if job.kind in BATCHABLE_KINDS else (index,)
        groups.setdefault(key, []).append(job)
    return list(groups.values())
