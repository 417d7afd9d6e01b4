"""The ``outreach scheduler`` process: the due-job loop plus periodic housekeeping (APScheduler).

Several schedulers may run at once: claims are exclusive (SKIP LOCKED), so each job goes once.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import socket
from datetime import timedelta

from apscheduler.schedulers.asyncio import AsyncIOScheduler
from sqlalchemy import Engine, select

from outreach.clock import Clock
from outreach.kafka_publisher import KafkaPublisher
from outreach.preferences import ConsentState, consents_expiring
from outreach.scheduler.dispatcher import DueJobDispatcher
from outreach.sql import job_repository
from outreach.sql.models import CommAuditLog, PatientCommPrefs
from outreach.sql.preference_rows import consent_from_row

logger = logging.getLogger(__name__)

CONSENT_WARNING_WINDOW = timedelta(days=30)


def claimer_id() -> str:
    return f"{socket.gethostname()}:{os.getpid()}"[:64]


def requeue_stale(engine: Engine, clock: Clock) -> int:
    now = clock()
    with engine.begin() as connection:
        count = job_repository.requeue_stale_claims(
            connection, now - job_repository.STALE_CLAIM_AFTER, now
        )
        lost = job_repository.fail_lost_sends(connection, now - job_repository.LOST_SEND_AFTER, now)
    if count:
        logger.warning("requeued %d job(s) whose send request was lost", count)
    if lost:
        logger.error("%d job(s) failed: their channel worker stopped mid-send", lost)
    return count


def reconcile_statuses(engine: Engine, clock: Clock) -> int:
    now = clock()
    with engine.begin() as connection:
        return job_repository.reconcile_unattached_statuses(
            connection, now - timedelta(hours=1), now
        )


def audit_expiring_consents(engine: Engine, clock: Clock) -> int:
    """Daily: flag consents that expire within 30 days (once per patient and expiry date)."""
    now = clock()
    prefs = PatientCommPrefs.__table__
    audit = CommAuditLog.__table__
    with engine.begin() as connection:
        rows = (
            connection.execute(
                select(prefs).where(
                    prefs.c.contact_consent.is_(True),
                    prefs.c.consent_expires_at <= now + CONSENT_WARNING_WINDOW,
                )
            )
            .mappings()
            .all()
        )
        consents: list[tuple[str, ConsentState]] = [
            (r["patient_id"], consent_from_row(r)) for r in rows
        ]
        expiring = consents_expiring(consents, now, CONSENT_WARNING_WINDOW)
        already = {
            (r.patient_id, (r.detail or {}).get("expires_at"))
            for r in connection.execute(
                select(audit.c.patient_id, audit.c.detail).where(
                    audit.c.action == "consent_expiring",
                    audit.c.patient_id.in_([e.consent_id for e in expiring] or [""]),
                )
            )
        }
        entries = [
            {
                "occurred_at": now,
                "actor": "scheduler:consent-audit",
                "patient_id": e.consent_id,
                "action": "consent_expiring",
                "detail": {"expires_at": e.expires_at.isoformat()},
            }
            for e in expiring
            if (e.consent_id, e.expires_at.isoformat()) not in already
        ]
        if entries:
            connection.execute(audit.insert(), entries)
    logger.info(
        "consent audit: %d expiring within %s, %d newly flagged",
        len(expiring),
        CONSENT_WARNING_WINDOW,
        len(entries),
    )
    return len(entries)


async def run_scheduler(
    engine: Engine,
    bootstrap_servers: str,
    clock: Clock,
    *,
    poll_seconds: float,
    batch_size: int,
    stop: asyncio.Event | None = None,
) -> None:
    stop = stop or asyncio.Event()
    publisher = KafkaPublisher(bootstrap_servers, client_id="outreach-scheduler")
    await publisher.start()
    dispatcher = DueJobDispatcher(
        engine, publisher.publish_many, claimer=claimer_id(), batch_size=batch_size, clock=clock
    )
    cron = AsyncIOScheduler(timezone="UTC")
    cron.add_job(
        asyncio.to_thread,
        "interval",
        args=[requeue_stale, engine, clock],
        minutes=1,
        id="requeue-stale-claims",
        max_instances=1,
        coalesce=True,
    )
    cron.add_job(
        asyncio.to_thread,
        "interval",
        args=[reconcile_statuses, engine, clock],
        seconds=5,
        id="reconcile-statuses",
        max_instances=1,
        coalesce=True,
    )
    cron.add_job(
        asyncio.to_thread,
        "cron",
        args=[audit_expiring_consents, engine, clock],
        hour=3,
        minute=0,
        id="consent-expiry-audit",
        max_instances=1,
        coalesce=True,
    )
    cron.start()
    logger.info("scheduler %s polling every %.2fs", dispatcher.claimer, poll_seconds)
    try:
        while not stop.is_set():
            try:
                round_ = await dispatcher.run_once()
            except Exception as error:  # the database or broker blinked: try again shortly
                logger.warning("dispatch round failed: %s", type(error).__name__)
                round_ = None
            if round_ is None or round_.claimed < batch_size:
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(stop.wait(), poll_seconds)
    finally:
        cron.shutdown(wait=False)
        await publisher.stop()
