"""The ``outreach scheduler`` process: the due-job loop plus periodic housekeeping and campaign
runs (APScheduler).

Several schedulers may run at once: claims are exclusive (SKIP LOCKED), so each job goes once.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime, timedelta

from apscheduler.schedulers.asyncio import AsyncIOScheduler

from outreach import wiring
from outreach.analytics.small_cells import CellPolicy
from outreach.clock import Clock, system_clock
from outreach.config import Settings
from outreach.correlation import correlated
from outreach.kafka_publisher import KafkaPublisher
from outreach.metrics import Metrics
from outreach.services.console_sessions import forget_expired_sessions
from outreach.services.dispatch_due_jobs import DueJobDispatcher, PublishMany
from outreach.services.housekeeping import (
    StartedSends,
    audit_expiring_consents,
    record_heartbeat,
    recover_stopped_work,
)
from outreach.services.ingest_statuses import reconcile_unattached_statuses
from outreach.services.roll_up_stats import roll_up_changes
from outreach.services.run_campaigns import CampaignRunner
from outreach.services.weekly_reports import ReportMailer, send_weekly_reports
from outreach.sql.errors import is_transient_database_error
from outreach.sql.store import Store
from outreach.topics import OUTCOMES

SESSIONS_KEPT_FOR = timedelta(days=30)  # expired console sessions, then forgotten

logger = logging.getLogger(__name__)


def claimer_id() -> str:
    from outreach.wiring import process_id

    return process_id()


def housekeeping_jobs(
    cron: AsyncIOScheduler,
    store: Store,
    clock: Clock,
    settings: Settings,
    report_mailer: ReportMailer | None = None,
    *,
    claimer: str,
    ledger: StartedSends,
    publish_many: PublishMany,
) -> None:
    """Add the timed housekeeping to ``cron``: each runs one at a time, blocking SQL in a thread,
    and a run missed while the previous one was busy is dropped, not queued."""

    def every(seconds: float, name: str, job: Callable[[], Awaitable[object]]) -> None:
        cron.add_job(job, "interval", seconds=seconds, id=name, max_instances=1, coalesce=True)

    def in_thread(function: Callable[[], object]) -> Callable[[], Awaitable[object]]:
        async def run() -> object:
            return await asyncio.to_thread(function)

        return run

    async def heartbeat() -> None:
        # Real time: a claim of a scheduler that stops beating goes back to the queue at once.
        await asyncio.to_thread(record_heartbeat, store, claimer, "scheduler", datetime.now(UTC))

    stale_after = timedelta(seconds=settings.stale_claim_after_seconds)
    dead_after = timedelta(seconds=settings.process_dead_after_seconds)

    async def recover() -> None:
        await asyncio.to_thread(
            lambda: recover_stopped_work(
                store,
                ledger,
                clock(),
                real_now=datetime.now(UTC),
                dead_after=dead_after,
                stale_after=stale_after,
            )
        )

    window = timedelta(seconds=settings.reconcile_statuses_window_seconds)

    async def reconcile_statuses() -> None:
        result = await asyncio.to_thread(
            lambda: reconcile_unattached_statuses(store, clock(), window)
        )
        await publish_many(
            [
                (
                    OUTCOMES,
                    outcome.patient_id.encode() if outcome.patient_id else None,
                    outcome.model_dump_json(exclude_unset=True).encode(),
                )
                for outcome in result.outcomes
            ]
        )

    every(settings.process_heartbeat_seconds, "heartbeat", heartbeat)
    every(settings.requeue_stale_every_seconds, "recover-stopped-work", recover)
    every(settings.reconcile_statuses_every_seconds, "reconcile-statuses", reconcile_statuses)
    campaigns = CampaignRunner(
        store,
        settings.segment_catalogue(),
        settings.segment_rule_limits(),
        enrol_chunk_size=settings.campaign_enrol_chunk_size,
        plan_chunk_size=settings.campaign_plan_chunk_size,
        plan_by_situation=settings.campaign_plan_by_situation,
        situation_chunk_size=settings.campaign_situation_chunk_size,
        expansion_workers=settings.campaign_expansion_workers,
        is_transient=is_transient_database_error,
        clock=clock,
    )
    every(settings.campaign_round_every_seconds, "campaign-round", in_thread(campaigns.run_round))
    cron.add_job(
        asyncio.to_thread,
        "cron",
        args=[campaigns.enrol_new_matches],
        hour=settings.recurring_enrolment_hour_utc,
        minute=0,
        id="recurring-campaign-enrolment",
        max_instances=1,
        coalesce=True,
    )
    margin = timedelta(seconds=settings.stats_rollup_margin_seconds)
    # The rollup runs here, not in the status agent: the numbers also move with new jobs,
    # sends, replies and visits, and one sweep sees every writer without slowing any of them.
    every(
        settings.stats_rollup_every_seconds,
        "stats-rollup",
        in_thread(
            lambda: roll_up_changes(
                store, clock(), margin=margin, chunk_size=settings.stats_rollup_chunk_size
            )
        ),
    )
    if report_mailer is not None:
        policy = CellPolicy(settings.report_cell_threshold())
        # Every quarter hour on the wall clock: 08:00 falls on one in every time zone (their
        # offsets are whole quarter hours), and a missed Monday is caught up at the next run.
        cron.add_job(
            asyncio.to_thread,
            "cron",
            args=[lambda: send_weekly_reports(store, report_mailer, clock(), policy=policy)],
            minute="0,15,30,45",
            id="weekly-reports",
            max_instances=1,
            coalesce=True,
        )
    warning = timedelta(days=settings.consent_warning_days)
    cron.add_job(
        asyncio.to_thread,
        "cron",
        args=[lambda: audit_expiring_consents(store, clock(), warning=warning)],
        hour=3,
        minute=0,
        id="consent-expiry-audit",
        max_instances=1,
        coalesce=True,
    )
    cron.add_job(
        asyncio.to_thread,
        "cron",
        # Console sessions run on the wall clock (api/console/auth.py), so their sweep does too.
        args=[lambda: forget_expired_sessions(store, system_clock(), kept_for=SESSIONS_KEPT_FOR)],
        hour=3,
        minute=20,
        id="console-session-sweep",
        max_instances=1,
        coalesce=True,
    )
    if settings.ml_nightly_hour_utc >= 0:
        cron.add_job(
            asyncio.to_thread,
            "cron",
            args=[lambda: learn_send_times(store, clock(), settings)],
            hour=settings.ml_nightly_hour_utc,
            minute=30,
            id="send-time-learning",
            max_instances=1,
            coalesce=True,
        )


def learn_send_times(store: Store, now: datetime, settings: Settings) -> None:
    """The nightly send-time work: train (promoting only a model that does no worse), then give
    every patient the best hour of the model in use and a fresh fatigue score."""
    from outreach.services.assign_send_times import assign_send_times
    from outreach.services.train_send_time_model import train_send_time_model

    learning = wiring.send_time_learning(settings)
    train_send_time_model(store, now, learning)
    assign_send_times(store, now, learning, wiring.fatigue_policy(settings))


def count_jobs(store: Store, metrics: Metrics) -> None:
    """Refresh ``outreach_jobs`` from the job table."""
    with store.reading() as repos:
        metrics.set_jobs(repos.counts.jobs_by_channel_and_status())


async def run_scheduler(
    store: Store,
    settings: Settings,
    clock: Clock,
    *,
    ledger: StartedSends,
    stop: asyncio.Event | None = None,
    report_mailer: ReportMailer | None = None,
    metrics: Metrics | None = None,
) -> None:
    stop = stop or asyncio.Event()
    metrics = metrics or Metrics()
    publisher = KafkaPublisher(settings.resolved_kafka_bootstrap(), client_id="outreach-scheduler")
    await publisher.start()
    batch_size = settings.scheduler_batch_size
    dispatcher = DueJobDispatcher(
        store, publisher.publish_many, claimer=claimer_id(), batch_size=batch_size, clock=clock
    )
    cron = AsyncIOScheduler(timezone="UTC")
    housekeeping_jobs(
        cron,
        store,
        clock,
        settings,
        report_mailer,
        claimer=dispatcher.claimer,
        ledger=ledger,
        publish_many=publisher.publish_many,
    )
    await asyncio.to_thread(
        record_heartbeat, store, dispatcher.claimer, "scheduler", datetime.now(UTC)
    )
    cron.add_job(
        asyncio.to_thread,
        "interval",
        args=[count_jobs, store, metrics],
        seconds=settings.jobs_gauge_refresh_seconds,
        id="count-jobs",
        max_instances=1,
        coalesce=True,
        next_run_time=datetime.now(UTC),
    )
    cron.start()
    logger.info(
        "scheduler %s polling every %.2fs", dispatcher.claimer, settings.scheduler_poll_seconds
    )
    try:
        while not stop.is_set():
            # Each round has a correlation id, carried by the send requests it publishes.
            with correlated(None):
                try:
                    round_ = await dispatcher.run_once()
                    metrics.count_suppressions("claim", round_.suppressions)
                except Exception as error:  # the database or broker blinked: try again shortly
                    logger.warning("dispatch round failed: %s", type(error).__name__)
                    round_ = None
            if round_ is None or round_.claimed < batch_size:
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(stop.wait(), settings.scheduler_poll_seconds)
    finally:
        cron.shutdown(wait=False)
        await publisher.stop()
