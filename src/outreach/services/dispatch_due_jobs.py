"""Use case "dispatch due jobs": due jobs -> ``outreach.send.<channel>``, each claimed by exactly
one dispatcher.

Claiming and the consent re-check run in a worker thread (blocking SQL); publishing is async.
A job claimed but whose send request never reached Kafka stays ``processing`` until the
housekeeping requeues it: nothing is lost, and nothing is sent twice.
"""

from __future__ import annotations

import asyncio
import logging
from collections import Counter
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime

from outreach.domain import JobStatus
from outreach.events import SendRequest
from outreach.preferences import recheck_at_send_time, resolve_patients
from outreach.sql.job_repository import ClaimedJob
from outreach.sql.store import Store
from outreach.topics import send_topic

logger = logging.getLogger(__name__)

# Sends (topic, key, value) records and returns once Kafka holds them all.
PublishMany = Callable[[list[tuple[str, bytes | None, bytes]]], Awaitable[None]]


@dataclass
class DispatchRound:
    claimed: int = 0
    published: int = 0
    suppressed: int = 0
    suppressions: Counter[str] = field(default_factory=Counter)  # by reason


class DueJobDispatcher:
    def __init__(
        self,
        store: Store,
        publish_many: PublishMany,
        *,
        claimer: str,
        batch_size: int = 500,
        clock: Callable[[], datetime] = lambda: datetime.now(UTC),
    ) -> None:
        self.store = store
        self.publish_many = publish_many
        self.claimer = claimer
        self.batch_size = batch_size
        self.clock = clock

    def _claim_and_recheck(self) -> tuple[list[ClaimedJob], Counter[str]]:
        now = self.clock()
        # The claim commits on its own: a job is this dispatcher's before anything else happens.
        with self.store.transaction() as repos:
            claimed = repos.jobs.claim_due(now, self.batch_size, self.claimer)
        if not claimed:
            return [], Counter()
        suppressed: Counter[str] = Counter()
        ready: list[ClaimedJob] = []
        with self.store.transaction() as repos:
            inputs = resolve_patients(repos.patients.decision_layers(c.patient_id for c in claimed))
            for job in claimed:
                patient = inputs.get(job.patient_id)
                refusal = (
                    recheck_at_send_time(job.purpose, job.channel, patient.consent, now)
                    if patient
                    else None
                )
                if refusal is not None:
                    repos.jobs.end(job.job_id, JobStatus.SUPPRESSED, now, reason=refusal.value)
                    suppressed[refusal.value] += 1
                else:
                    ready.append(job)
        return ready, suppressed

    async def run_once(self) -> DispatchRound:
        ready, suppressed = await asyncio.to_thread(self._claim_and_recheck)
        count = sum(suppressed.values())
        round_ = DispatchRound(
            claimed=len(ready) + count, suppressed=count, suppressions=suppressed
        )
        await self.publish_many(
            [
                (
                    send_topic(job.channel),
                    job.patient_id.encode(),
                    SendRequest(job_id=job.job_id, attempt=job.attempt).model_dump_json().encode(),
                )
                for job in ready
            ]
        )
        round_.published = len(ready)
        return round_
