"""Following a schedule request from its acceptance to the job the orchestrator planned.

Nothing new is stored for a request: its id is the ``comm.requested`` event id, and the job the
orchestrator plans for it carries a key derived from that id (asked of the planner itself, so
the key's format lives in one place). The only state is a short-lived Redis marker, set when a
request is answered 202, that lets its status URL say "pending" instead of "unknown" until the
job exists. Without Redis (or once the marker expired) a request not planned yet answers 404.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Mapping
from datetime import UTC, datetime
from typing import Any
from urllib.parse import quote

from redis.exceptions import RedisError
from starlette.concurrency import run_in_threadpool

from outreach.api.delivery_estimate import estimated_delivery
from outreach.api.schedule_models import ScheduleAnswer
from outreach.domain import Purpose
from outreach.events import CommRequestData, CoreEvent
from outreach.planning import plan_comm_request
from outreach.redis_store import KeySpace
from outreach.sql.request_repository import RequestedJob
from outreach.sql.store import Store

logger = logging.getLogger(__name__)

COMM_REQUESTED = "comm.requested"
STATUS_PATH = "/api/v1/comm/requests/"
# The first look comes soon (the orchestrator often plans within tens of milliseconds), later
# ones less often: one indexed lookup each, a handful per request.
FIRST_POLL_SECONDS = 0.05
MAX_POLL_SECONDS = 0.25
_ANY_TIME = datetime(2000, 1, 1, tzinfo=UTC)


def status_url(request_id: str) -> str:
    """The path of a request's status (relative: the API may sit behind any proxy)."""
    return STATUS_PATH + quote(request_id, safe="")


def request_job_keys(request_id: str) -> dict[str, Purpose]:
    """The idempotency key the orchestrator gives the job of request ``request_id``, for each
    purpose the request may have had (a status lookup does not know it)."""
    probe = CoreEvent(
        event_id=request_id,
        type=COMM_REQUESTED,
        occurred_at=_ANY_TIME,
        org_id="-",
        patient_id="-",
    )
    return {
        plan_comm_request(probe, CommRequestData(purpose=purpose)).idempotency_key: purpose
        for purpose in Purpose
    }


def pending_answer(request_id: str) -> ScheduleAnswer:
    return ScheduleAnswer(
        request_id=request_id,
        status="pending",
        job_id=None,
        scheduled_at=None,
        channel=None,
        estimated_delivery=None,
        status_url=status_url(request_id),
    )


def job_answer(request_id: str, job: RequestedJob) -> ScheduleAnswer:
    return ScheduleAnswer(
        request_id=request_id,
        status=job.status,
        job_id=job.id,
        scheduled_at=job.scheduled_for if job.channel is not None else None,
        channel=job.channel,
        estimated_delivery=estimated_delivery(
            job.channel, job.status, job.scheduled_for, job.sent_at, job.delivered_at
        ),
        suppression_reason=job.suppression_reason,
        status_url=status_url(request_id),
    )


def _jobs(store: Store, keys: list[str]) -> dict[str, RequestedJob]:
    with store.reading() as repos:
        return repos.requests.jobs_by_keys(keys)


async def find_jobs(store: Store, keys: Mapping[str, Purpose]) -> dict[str, RequestedJob]:
    """The stored jobs among ``keys`` (one unique-index lookup, off the event loop)."""
    return await run_in_threadpool(_jobs, store, list(keys))


async def wait_for_jobs(
    store: Store, keys: Mapping[str, Purpose], wait_seconds: float
) -> dict[str, RequestedJob]:
    """Look for the jobs until one exists or ``wait_seconds`` passed; empty when none came."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + wait_seconds
    pause = FIRST_POLL_SECONDS
    while True:
        remaining = deadline - loop.time()
        if remaining <= 0:
            return {}
        await asyncio.sleep(min(pause, remaining))
        found = await find_jobs(store, keys)
        if found:
            return found
        pause = min(pause * 2, MAX_POLL_SECONDS)


class PendingRequests:
    """Markers for requests accepted but not planned yet, in Redis with a time to live.

    Best effort: without Redis, or when it fails, a pending request answers 404 on its status
    URL until it is planned, which the API documents.
    """

    def __init__(self, redis: Any | None, keys: KeySpace, ttl_seconds: int) -> None:
        self._redis = redis
        self._keys = keys
        self._ttl = ttl_seconds

    def _key(self, request_id: str) -> str:
        return self._keys.key("schedule", "pending", request_id)

    def mark(self, request_id: str, org_id: str) -> None:
        """Remember the request as pending, for its organisation only."""
        if self._redis is None:
            return
        try:
            self._redis.set(self._key(request_id), org_id, ex=self._ttl)
        except RedisError:
            logger.warning("pending-request marker not stored (Redis unavailable)")

    def is_pending(self, request_id: str, org_id: str) -> bool:
        if self._redis is None:
            return False
        try:
            marker = self._redis.get(self._key(request_id))
            if isinstance(marker, bytes):
                marker = marker.decode("utf-8", "replace")
            return marker == org_id
        except RedisError:
            logger.warning("pending-request marker not readable (Redis unavailable)")
            return False
