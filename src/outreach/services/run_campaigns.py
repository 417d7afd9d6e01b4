"""Use case "run campaigns": enrol segments, end enrolments whose exit condition holds, and turn
due steps into jobs, set by set; the scheduler runs it on a timer, and recurring campaigns'
enrolment once a day.

Per active campaign, each round:

1. past its end date the campaign completes and its queued jobs are cancelled;
2. the first round after activation enrols the segment: one ``INSERT ... SELECT`` per chunk of
   patient ids, variant and hold-out computed in the statement (a rerun adds nothing: one
   enrolment per patient and campaign);
3. enrolments for which an exit condition holds end ``exited``, and their queued jobs are
   cancelled;
4. for each step, waiting enrolments whose wait timed out skip it, and due enrolments get their
   job, chunk by chunk: the patients' preferences and consent read in four queries, their
   recent messages (frequency caps) in one, ``preferences.decide`` for each, one bulk insert.
   A chunk is one transaction together with moving its enrolments on, so a crash leaves nothing
   half done and the job idempotency keys make a rerun insert nothing twice. With
   ``expansion_workers`` > 1, a step of several chunks is planned by as many worker processes,
   each taking whole chunks (ranges of enrolment ids): the same chunks, decided the same way;
5. a one-off campaign with nothing left to plan or send completes.

The daily run of a recurring campaign enrols whoever newly matches its segment; patients already
enrolled (even finished or exited) are not enrolled again.
"""

from __future__ import annotations

import itertools
import logging
import multiprocessing
import time
from collections import Counter
from collections.abc import Callable, Iterator, Sequence
from concurrent.futures import ProcessPoolExecutor, ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import UTC, datetime

from outreach.campaigns import (
    EXIT_PRECEDENCE,
    CampaignState,
    assignment_thresholds,
    plan_step_job,
    step_timing,
)
from outreach.campaigns.readiness import StepChannels, step_channels
from outreach.domain import Actor, JobStatus, SuppressionReason
from outreach.planning import PlannedJob
from outreach.preferences import resolve_patients
from outreach.retrying import retry_transient
from outreach.segments import Catalogue, RuleLimits
from outreach.services.plan_by_situation import CHUNK_ATTEMPTS, plan_step_by_situation
from outreach.services.plan_events import CAP_HISTORY_WINDOW, decide_job
from outreach.sql.campaign_repository import CampaignRecord, DueEnrolment
from outreach.sql.job_repository import JobDecision, NewJob
from outreach.sql.store import Store, StoreAddress
from outreach.templating import TemplateRecord

logger = logging.getLogger(__name__)

ACTOR = Actor("system:campaigns")


def never_transient(_error: BaseException) -> bool:
    """No error is worth trying a chunk again for (the default: tests see every error)."""
    return False


@dataclass
class CampaignRound:
    """What one round did, over every campaign it ran."""

    campaigns: int = 0
    enrolled: int = 0
    exited: Counter[str] = field(default_factory=Counter)
    skipped: int = 0
    jobs_created: int = 0
    by_situation: int = 0  # of the jobs created, those decided once for many patients
    by_status: Counter[str] = field(default_factory=Counter)
    suppressions: Counter[str] = field(default_factory=Counter)
    completed: list[int] = field(default_factory=list)

    def add(self, planned: PlannedChunks) -> None:
        self.jobs_created += planned.jobs_created
        self.by_status.update(planned.by_status)
        self.suppressions.update(planned.suppressions)


class CampaignRunner:
    def __init__(
        self,
        store: Store,
        catalogue: Catalogue,
        limits: RuleLimits,
        *,
        enrol_chunk_size: int = 20_000,
        plan_chunk_size: int = 2_000,
        expansion_workers: int = 1,
        plan_by_situation: bool = True,
        situation_chunk_size: int = 50_000,
        is_transient: Callable[[BaseException], bool] = never_transient,
        clock: Callable[[], datetime] = lambda: datetime.now(UTC),
    ) -> None:
        """``expansion_workers`` > 1: a step with more than one chunk due is planned by that
        many worker processes, each with its own connections, chunk by chunk (on a database
        that takes several writers). ``is_transient`` says which errors a chunk is tried again
        after (a deadlock between them)."""
        self.store = store
        self.catalogue = catalogue
        self.limits = limits
        self.enrol_chunk_size = enrol_chunk_size
        self.plan_chunk_size = plan_chunk_size
        self.expansion_workers = expansion_workers
        self.plan_by_situation = plan_by_situation
        self.situation_chunk_size = situation_chunk_size
        self.is_transient = is_transient
        self.clock = clock

    def run_round(self) -> CampaignRound:
        """One round over every active (or paused, for its end date) campaign."""
        now = self.clock()
        result = CampaignRound()
        with self.store.reading() as repos:
            running = repos.campaigns.in_states([CampaignState.ACTIVE, CampaignState.PAUSED])
        for record in running:
            self._advance(record, now, result)
        if result.enrolled or result.jobs_created or result.exited or result.completed:
            logger.info(
                "campaigns: %d run, %d enrolled, %d jobs (%s), exits %s, completed %s",
                result.campaigns,
                result.enrolled,
                result.jobs_created,
                dict(result.by_status),
                dict(result.exited),
                result.completed,
            )
        return result

    def expand(self, campaign_id: int) -> CampaignRound:
        """One round for one campaign: on a newly active one, its whole expansion into
        enrolments and first jobs."""
        now = self.clock()
        result = CampaignRound()
        with self.store.reading() as repos:
            record = repos.campaigns.get(campaign_id)
        if record is not None:
            self._advance(record, now, result)
        return result

    def enrol_new_matches(self) -> CampaignRound:
        """The daily run: each active recurring campaign enrols whoever newly matches, then
        plans what is due."""
        now = self.clock()
        result = CampaignRound()
        with self.store.reading() as repos:
            active = repos.campaigns.in_states([CampaignState.ACTIVE])
        for record in active:
            if record.definition.recurring and self._started(record, now):
                self._enrol(record, now, result)
                self._advance(record, now, result, enrolled=True)
        logger.info("recurring campaigns: %d newly enrolled", result.enrolled)
        return result

    # ---- one campaign ----

    @staticmethod
    def _started(record: CampaignRecord, now: datetime) -> bool:
        starts_at = record.definition.starts_at
        return starts_at is None or starts_at <= now

    def _advance(
        self,
        record: CampaignRecord,
        now: datetime,
        result: CampaignRound,
        *,
        enrolled: bool = False,
    ) -> None:
        definition = record.definition
        if definition.ends_at is not None and now >= definition.ends_at:
            self._complete(record, now, result, cancel_queued=True)
            return
        if record.state is not CampaignState.ACTIVE or not self._started(record, now):
            return
        result.campaigns += 1
        if record.enrolled_through is None and not enrolled:
            started, before = time.perf_counter(), result.enrolled
            self._enrol(record, now, result)
            logger.info(
                "campaign %d: %d enrolled in %.1f s",
                record.id,
                result.enrolled - before,
                time.perf_counter() - started,
            )
        self._exit(record, now, result)
        with self.store.reading() as repos:
            templates = repos.templates.active_in_families(
                definition.org_id, definition.purpose, definition.template_families
            )
        for index in range(len(definition.steps)):
            started, before = time.perf_counter(), result.jobs_created
            self._plan_step(record, index, templates, now, result)
            if result.jobs_created > before:
                logger.info(
                    "campaign %d step %d: %d jobs in %.1f s",
                    record.id,
                    index,
                    result.jobs_created - before,
                    time.perf_counter() - started,
                )
        if not definition.recurring:
            with self.store.reading() as repos:
                active, pending = repos.campaigns.unfinished(record.id)
            if active == 0 and pending == 0:
                self._complete(record, now, result, cancel_queued=False)

    def _complete(
        self, record: CampaignRecord, now: datetime, result: CampaignRound, *, cancel_queued: bool
    ) -> None:
        with self.store.transaction() as repos:
            if not repos.campaigns.move(record.id, record.state, CampaignState.COMPLETED, now):
                return
            if cancel_queued:
                repos.campaigns.cancel_queued(record.id, now)
            repos.audit.record(
                [
                    ACTOR.audit(
                        "campaign_completed",
                        now,
                        detail={"campaign_id": record.id},
                        org_id=record.definition.org_id,
                    )
                ]
            )
        result.completed.append(record.id)

    def _enrol(self, record: CampaignRecord, now: datetime, result: CampaignRound) -> None:
        definition = record.definition
        thresholds = assignment_thresholds(definition.variants, definition.holdout_percent)
        with self.store.reading() as repos:
            members = repos.campaigns.segment_members(
                definition.segment_id, definition.org_id, self.catalogue, self.limits, now
            )

        def enrol(bounds: tuple[str | None, str | None]) -> int:
            with self.store.transaction() as repos:
                return repos.campaigns.enrol_range(
                    record.id,
                    definition.org_id,
                    members,
                    thresholds,
                    now,
                    after=bounds[0],
                    through=bounds[1],
                )

        chunks = self._enrol_chunks(definition.org_id)
        if self.expansion_workers > 1 and self.store.address() is not None:
            # The statements run in the database: threads, each with its own connection, keep
            # as many of them going at once.
            with ThreadPoolExecutor(self.expansion_workers) as threads:
                result.enrolled += sum(threads.map(enrol, chunks))
        else:
            result.enrolled += sum(map(enrol, chunks))
        with self.store.transaction() as repos:
            repos.campaigns.mark_enrolled(record.id, now)

    def _enrol_chunks(self, org_id: str) -> Iterator[tuple[str | None, str | None]]:
        """(after, through) patient ids of the enrolment chunks, the last one open."""
        after: str | None = None
        while True:
            with self.store.reading() as repos:
                through = repos.campaigns.enrol_chunk_end(org_id, after, self.enrol_chunk_size)
            yield after, through
            if through is None:
                return
            after = through

    def _exit(self, record: CampaignRecord, now: datetime, result: CampaignRound) -> None:
        conditions = [c for c in EXIT_PRECEDENCE if c in record.definition.exit_on]
        if not conditions:
            return
        with self.store.transaction() as repos:
            exited = 0
            for condition in conditions:
                count = repos.campaigns.exit_where(record.id, condition, now)
                if count:
                    result.exited[condition.value] += count
                    exited += count
            if exited:
                repos.campaigns.cancel_queued_of_exited(record.id, now)

    def _plan_step(
        self,
        record: CampaignRecord,
        index: int,
        templates: Sequence[TemplateRecord],
        now: datetime,
        result: CampaignRound,
    ) -> None:
        definition = record.definition
        step = definition.steps[index]
        timing = step_timing(definition, index, now)
        channels = step_channels(definition, index, templates)
        if step.wait_until is not None and timing.timed_out_if_enrolled_by is not None:
            with self.store.transaction() as repos:
                result.skipped += repos.campaigns.skip_timed_out(
                    record.id,
                    index,
                    step.wait_until,
                    timing.timed_out_if_enrolled_by,
                    len(definition.steps),
                    now,
                )
        if self.plan_by_situation and channels.usable:
            self._plan_step_by_situation(
                record, index, channels, now, timing.due_if_enrolled_by, result
            )
        task = StepPlan(record, index, channels, now, self.plan_chunk_size)
        ranges = self._chunk_ranges(task, timing.due_if_enrolled_by)
        first = next(ranges)
        second = next(ranges, None)
        address = self.store.address() if self.expansion_workers > 1 else None
        if second is None or address is None:
            # One chunk, or nowhere for workers: plan every due enrolment here, chunk by chunk.
            result.add(plan_step_range(self.store, task, 0, None, self.is_transient))
            return
        tasks = itertools.chain((first, second), ranges)
        # Not a fork of this process (it runs threads): a fork of a fresh server process that
        # imported this module once, so each pool starts in milliseconds, not an import's time.
        context = multiprocessing.get_context("forkserver")
        context.set_forkserver_preload([__name__])
        with ProcessPoolExecutor(
            self.expansion_workers,
            mp_context=context,
            initializer=_open_worker_store,
            initargs=(address,),
        ) as pool:
            futures = [
                pool.submit(_plan_step_range_in_worker, task, after, through, self.is_transient)
                for after, through in tasks
            ]
            for future in futures:
                result.add(future.result())
        logger.info(
            "campaign %d step %d planned by %d processes, %d chunks",
            record.id,
            index,
            self.expansion_workers,
            len(futures),
        )

    def _plan_step_by_situation(
        self,
        record: CampaignRecord,
        index: int,
        channels: StepChannels,
        now: datetime,
        due_by: datetime,
        result: CampaignRound,
    ) -> None:
        started = time.perf_counter()
        planning = plan_step_by_situation(
            self.store,
            record.definition,
            record.id,
            index,
            channels.usable,
            now,
            due_by,
            self.situation_chunk_size,
            # Threads, not processes: the statements run in the database. SQLite has one writer.
            threads=self.expansion_workers if self.store.address() is not None else 1,
            is_transient=self.is_transient,
        )
        planned = PlannedChunks()
        planned.jobs_created = planning.created
        for (status, reason), count in planning.outcomes.items():
            planned.by_status[status.value] += count
            if reason is not None:
                planned.suppressions[reason.value] += count
        result.by_situation += planned.jobs_created
        result.add(planned)
        if planning.situations:
            logger.info(
                "campaign %d step %d: %d jobs from %d situations in %.1f s "
                "(%d situations left to patient-by-patient decisions)",
                record.id,
                index,
                planned.jobs_created,
                planning.situations,
                time.perf_counter() - started,
                planning.left_to_patients,
            )

    def _chunk_ranges(
        self, task: StepPlan, enrolled_by: datetime
    ) -> Iterator[tuple[int, int | None]]:
        """(after, through) enrolment ids of the step's chunks in order, the last one open
        (None: every due enrolment after ``after``); read lazily as the ranges are handed out."""
        after = 0
        while True:
            with self.store.reading() as repos:
                through = repos.campaigns.due_chunk_end(
                    task.record.id,
                    task.step_index,
                    enrolled_by,
                    after_id=after,
                    size=task.chunk_size,
                )
            yield after, through
            if through is None:
                return
            after = through


@dataclass(frozen=True, slots=True)
class StepPlan:
    """One campaign step to turn into jobs at ``now``: what a worker process needs."""

    record: CampaignRecord
    step_index: int
    channels: StepChannels
    now: datetime
    chunk_size: int


@dataclass
class PlannedChunks:
    """What planning some chunks of a step did."""

    jobs_created: int = 0
    by_status: Counter[str] = field(default_factory=Counter)
    suppressions: Counter[str] = field(default_factory=Counter)


def plan_step_range(
    store: Store,
    task: StepPlan,
    after: int,
    through: int | None,
    is_transient: Callable[[BaseException], bool] = never_transient,
) -> PlannedChunks:
    """Jobs for the step's due enrolments with ids in (``after``, ``through``] (``None``: no
    upper bound), chunk by chunk.

    Each chunk is one transaction: the patients' preferences and consent read in four queries,
    their recent messages (frequency caps) in one, ``preferences.decide`` for each, one bulk
    insert, and the enrolments moved on. A crash leaves nothing half done and the job
    idempotency keys make a rerun insert nothing twice. A chunk that meets a transient database
    error (a deadlock between processes) is tried again, up to three times in all.
    """
    definition = task.record.definition
    index, now, channels = task.step_index, task.now, task.channels
    step = definition.steps[index]
    due_by = step_timing(definition, index, now).due_if_enrolled_by
    planned_chunks = PlannedChunks()

    def plan_chunk() -> tuple[list[DueEnrolment], list[NewJob], int]:
        """The next chunk's jobs and how many were new; an empty chunk when none is due."""
        with store.transaction() as repos:
            due = repos.campaigns.due_for_step(
                task.record.id,
                index,
                due_by,
                waiting_for=step.wait_until,
                after_id=after,
                through_id=through,
                limit=task.chunk_size,
            )
            if not due:
                return [], [], 0
            planned = [
                plan_step_job(definition, index, item.enrolment, now, channels.usable)
                for item in due
            ]
            patient_ids = [job.patient_id for job in planned]
            inputs = resolve_patients(repos.patients.decision_layers(patient_ids))
            history = repos.jobs.recent_history(patient_ids, now - CAP_HISTORY_WINDOW)
            new_jobs = []
            for job in planned:
                if channels.usable:
                    decision = decide_job(
                        job, inputs.get(job.patient_id), history.get(job.patient_id, ()), now
                    )
                else:
                    decision = _refused(job, channels, step.template_family, now)
                new_jobs.append(NewJob(job, decision))
            created = repos.jobs.insert(new_jobs, now)
            repos.campaigns.advance(
                [item.enrolment_id for item in due], index, len(definition.steps), now
            )
        return due, new_jobs, created

    while True:
        due, new_jobs, created = retry_transient(
            plan_chunk,
            is_transient,
            attempts=CHUNK_ATTEMPTS,
            what=f"campaign {task.record.id} step {index} chunk after enrolment {after}",
        )
        if not due:
            return planned_chunks
        planned_chunks.jobs_created += created
        for new_job in new_jobs:
            planned_chunks.by_status[new_job.decision.status.value] += 1
            if new_job.decision.suppression_reason is not None:
                planned_chunks.suppressions[new_job.decision.suppression_reason.value] += 1
        after = due[-1].enrolment_id


# The worker process's own store, opened once when the process starts.
_worker_store: Store | None = None


def _open_worker_store(address: StoreAddress) -> None:
    global _worker_store
    _worker_store = address.open()


def _plan_step_range_in_worker(
    task: StepPlan,
    after: int,
    through: int | None,
    is_transient: Callable[[BaseException], bool],
) -> PlannedChunks:
    assert _worker_store is not None, "the pool's initializer opens the store"
    return plan_step_range(_worker_store, task, after, through, is_transient)


def _refused(job: PlannedJob, channels: StepChannels, family: str, now: datetime) -> JobDecision:
    """No template of the step's family may be used: the job is suppressed with why."""
    if channels.refused:
        reason = SuppressionReason.PHI_POLICY
        detail = f"every usable template of family {family!r} breaks the PHI policy"
    else:
        reason = SuppressionReason.NO_REACHABLE_CHANNEL
        detail = f"family {family!r} has no active template for the step's channel"
    return JobDecision(
        status=JobStatus.SUPPRESSED,
        scheduled_for=max(job.requested_at, now),
        suppression_reason=reason,
        detail=detail,
    )
