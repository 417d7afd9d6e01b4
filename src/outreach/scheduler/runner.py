"""The ``outreach scheduler`` process: the due-job loop plus periodic housekeeping and campaign
runs (APScheduler).

Several schedulers may run at once: claims are exclusive (SKIP LOCKED), so each job goes once.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import socket
from datetime import UTC, datetime, timedelta

from apscheduler.schedulers.asyncio import AsyncIOScheduler

from outreach import wiring
from outreach.clock import Clock
from outreach.config import Settings
from outreach.correlation import correlated
from outreach.kafka_publisher import KafkaPublisher
from outreach.metrics import Metrics
from outreach.services.dispatch_due_jobs import DueJobDispatcher
from outreach.services.housekeeping import audit_expiring_consents, recover_stale_claims
from outreach.services.ingest_statuses import reconcile_unattached_statuses
from outreach.services.run_campaigns import CampaignRunner
from outreach.sql.store import Store

logger = logging.getLogger(__name__)


def claimer_id() -> str:
    return f"{socket.gethostname()}:{os.getpid()}"[:64]


def housekeeping_jobs(
    cron: AsyncIOScheduler, store: Store, clock: Clock, settings: Settings
) -> None:
    """Add the timed housekeeping to ``cron``: each runs in a thread (blocking SQL), one at a
    time, and a run missed while the previous one was busy is dropped, not queued."""

    def every(seconds: float, name: str, function: object, *args: object) -> None:
        cron.add_job(
            asyncio.to_thread,
            "interval",
            args=[function, *args],
            seconds=seconds,
            id=name,
            max_instances=1,
            coalesce=True,
        )

    stale_after = timedelta(seconds=settings.stale_claim_after_seconds)
    lost_after = timedelta(seconds=settings.lost_send_after_seconds)
    every(
        settings.requeue_stale_every_seconds,
        "requeue-stale-claims",
        lambda: recover_stale_claims(
            store, clock(), stale_after=stale_after, lost_after=lost_after
        ),
    )
    window = timedelta(seconds=settings.reconcile_statuses_window_seconds)
    every(
        settings.reconcile_statuses_every_seconds,
        "reconcile-statuses",
        lambda: reconcile_unattached_statuses(store, clock(), window),
    )
    campaigns = CampaignRunner(
        store,
        settings.segment_catalogue(),
        settings.segment_rule_limits(),
        enrol_chunk_size=settings.campaign_enrol_chunk_size,
        plan_chunk_size=settings.campaign_plan_chunk_size,
        clock=clock,
    )
    every(settings.campaign_round_every_seconds, "campaign-round", campaigns.run_round)
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
    stop: asyncio.Event | None = None,
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
    housekeeping_jobs(cron, store, clock, settings)
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
