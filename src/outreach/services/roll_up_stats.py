"""Use case "roll up stats": what changed in jobs, provider statuses, replies and appointments ->
each touched job's funnel facts -> the rollup tables, idempotently; and the rebuild of a range.

The incremental path runs in the scheduler, every ``stats_rollup_every_seconds``. It reads the
jobs stamped since its watermark (minus a margin for transactions that committed late), works
out their facts from everything stored about them, and applies to the rollups only the
difference from the facts it counted last time. Seeing a job twice changes nothing, and a
report's order does not matter (``analytics.job_facts``), so the numbers equal a rebuild's.

Every transaction starts by taking the rollup's lock (``RollupRepository.lock``): sweeps of
several schedulers, and a rebuild, take turns instead of counting one change twice.
"""

from __future__ import annotations

import logging
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta

from outreach.analytics.job_facts import JobFacts, job_facts
from outreach.analytics.rollup import RollupChange, rollup_change
from outreach.sql.store import Repositories, Store

logger = logging.getLogger(__name__)

# A day of an organisation can start up to 14 h before or end 12 h after the UTC day.
_ZONE_SLACK = timedelta(hours=14)


@dataclass(frozen=True, slots=True)
class RollupRun:
    """What one sweep or rebuild did."""

    jobs_examined: int = 0
    jobs_changed: int = 0
    status_events: int = 0


def _chunks(ids: Sequence[int], size: int) -> Iterator[list[int]]:
    for start in range(0, len(ids), size):
        yield list(ids[start : start + size])


def _current_facts(repos: Repositories, job_ids: Sequence[int]) -> tuple[dict[int, JobFacts], int]:
    """The facts of each job as stored now, and how many provider reports they read."""
    sources, reports = repos.rollup.sources(job_ids)
    zones = repos.rollup.org_timezones(s.job.org_id for s in sources)
    facts = {s.job.job_id: job_facts(s, zones.get(s.job.org_id)) for s in sources}
    return facts, reports


def roll_up_jobs(store: Store, job_ids: Sequence[int], now: datetime) -> RollupRun:
    """Bring the rollups up to date for these jobs (one transaction, under the lock)."""
    with store.transaction() as repos:
        repos.rollup.lock(now)
        current, events = _current_facts(repos, job_ids)
        stored = repos.rollup.stored_facts(job_ids)
        after: dict[int, JobFacts | None] = {job_id: current.get(job_id) for job_id in job_ids}
        change = rollup_change(stored, after)
        changed = [f for job_id, f in current.items() if stored.get(job_id) != f]
        repos.rollup.save_facts(changed)
        repos.rollup.delete_facts([j for j in job_ids if j not in current and j in stored])
        repos.stats.apply(change)
    return RollupRun(len(job_ids), len(changed), events)


def roll_up_changes(
    store: Store,
    now: datetime,
    *,
    margin: timedelta,
    chunk_size: int = 2000,
    slice_length: timedelta = timedelta(days=1),
) -> RollupRun:
    """Roll up everything stamped since the watermark, less ``margin``, up to ``now``.

    The first sweep starts at the oldest change. Long stretches go a slice at a time, and the
    watermark moves after each slice, so an interrupted sweep resumes where it stopped.
    """
    with store.reading() as repos:
        through = repos.rollup.watermark()
        start = through - margin if through is not None else repos.rollup.earliest_change()
    if start is None:
        return RollupRun()
    examined = changed = events = 0
    while start < now:
        end = min(now, start + slice_length)
        with store.reading() as repos:
            job_ids = sorted(repos.rollup.changed_job_ids(start, end))
        for chunk in _chunks(job_ids, chunk_size):
            run = roll_up_jobs(store, chunk, now)
            examined += run.jobs_examined
            changed += run.jobs_changed
            events += run.status_events
        with store.transaction() as repos:
            repos.rollup.lock(now)
            repos.rollup.advance(end)
        start = end
    if changed:
        logger.info("stats rollup: %d job(s) examined, %d changed", examined, changed)
    return RollupRun(examined, changed, events)


def rebuild_stats(
    store: Store, first_day: date, last_day: date, now: datetime, *, chunk_size: int = 2000
) -> RollupRun:
    """Recompute the rollups of these days (each organisation's own days, both included) from
    the jobs, their provider statuses, replies and appointments, in one transaction.

    The result is what the incremental path reaches once it has seen every change; the
    scheduler's sweep waits for the lock meanwhile and carries on afterwards.
    """
    since = datetime.combine(first_day, time.min, UTC) - _ZONE_SLACK
    until = datetime.combine(last_day + timedelta(days=1), time.min, UTC) + _ZONE_SLACK
    examined = events = 0
    total = RollupChange()
    with store.transaction() as repos:
        repos.rollup.lock(now)
        job_ids = repos.rollup.job_ids_requested_between(since, until)
        repos.stats.delete_days(first_day, last_day)
        repos.rollup.delete_facts_of_days(first_day, last_day)
        for chunk in _chunks(job_ids, chunk_size):
            current, read = _current_facts(repos, chunk)
            in_range = [f for f in current.values() if first_day <= f.group.day <= last_day]
            repos.rollup.save_facts(in_range)
            for facts in in_range:
                total.add(facts)
            examined += len(in_range)
            events += read
        repos.stats.apply(total.pruned())
    logger.info("stats rebuilt for %s..%s: %d job(s)", first_day, last_day, examined)
    return RollupRun(examined, examined, events)
