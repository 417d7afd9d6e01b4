"""Use cases the scheduler runs on a timer: recover the claims and sends of processes that
stopped, close the status race, audit expiring consents."""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Protocol

from outreach.domain import AuditRecord
from outreach.preferences import consents_expiring
from outreach.sql.store import Store

logger = logging.getLogger(__name__)

CONSENT_EXPIRING = "consent_expiring"


class StartedSends(Protocol):
    """The send ledger as recovery reads it (``channels.send_ledger``)."""

    shared: bool

    def started_at(self, sends: Sequence[tuple[int, int]]) -> dict[tuple[int, int], datetime]: ...


def record_heartbeat(store: Store, process_id: str, role: str, now: datetime) -> None:
    """Say this process runs; claims and sends of a process silent for long are recovered."""
    with store.transaction() as repos:
        repos.heartbeats.beat(process_id, role, now)


@dataclass
class Recovery:
    requeued_claims: int = 0  # claimed, never taken: sent again at once
    never_started: int = 0  # taken by a stopped worker, never started: sent again at once
    unconfirmed: int = 0  # may have reached the provider: the next attempt asks it first


def recover_stopped_work(
    store: Store,
    ledger: StartedSends,
    now: datetime,
    *,
    real_now: datetime,
    dead_after: timedelta,
    stale_after: timedelta,
) -> Recovery:
    """Put back in the queue what stopped processes held.

    - A job claimed but never taken by a channel worker: at once if its scheduler stopped
      (between its claim and its publish), else after ``stale_after`` (its request was lost).
    - A send taken by a worker that stopped: at once if the ledger shows it never started; if it
      started (or the ledger is not shared, so nobody can tell), marked unconfirmed: the next
      attempt asks the provider, and sends again only if the provider has no trace.
    """
    recovery = Recovery()
    with store.transaction() as repos:
        # Liveness is in real time (heartbeats, taken_at); schedules in the pipeline's clock.
        alive = repos.heartbeats.alive_since(real_now - dead_after)
        recovery.requeued_claims = repos.jobs.requeue_stale_claims(
            now - stale_after, now, alive=alive
        )
        # A send taken moments ago may belong to a worker whose first heartbeat is on its way.
        stopped = repos.jobs.stopped_sends(alive, real_now - dead_after)
        started = ledger.started_at([(s.job_id, s.attempt) for s in stopped])
        for send in stopped:
            began = started.get((send.job_id, send.attempt))
            if began is None and ledger.shared:
                moved = repos.jobs.requeue_stopped_send(send.job_id, send.attempt, now, now, None)
                recovery.never_started += moved
            else:
                began = began or send.taken_at
                moved = repos.jobs.requeue_stopped_send(send.job_id, send.attempt, now, now, began)
                recovery.unconfirmed += moved
    if recovery.requeued_claims:
        logger.warning(
            "requeued %d job(s) whose send request was lost or whose scheduler stopped",
            recovery.requeued_claims,
        )
    if recovery.never_started or recovery.unconfirmed:
        logger.warning(
            "recovered the sends of a stopped worker: %d never started (sent again), "
            "%d unconfirmed (the provider is asked first)",
            recovery.never_started,
            recovery.unconfirmed,
        )
    return recovery


def audit_expiring_consents(store: Store, now: datetime, *, warning: timedelta) -> int:
    """Flag consents that expire within ``warning`` (once per patient and expiry date).
    Returns how many were newly flagged."""
    with store.transaction() as repos:
        consents = repos.patients.consents_granted_expiring_by(now + warning)
        expiring = consents_expiring(consents, now, warning)
        already = {
            (patient_id, detail.get("expires_at"))
            for patient_id, detail in repos.audit.details_of(
                CONSENT_EXPIRING, (e.consent_id for e in expiring)
            )
        }
        entries = [
            AuditRecord(
                occurred_at=now,
                actor="scheduler:consent-audit",
                action=CONSENT_EXPIRING,
                patient_id=e.consent_id,
                detail={"expires_at": e.expires_at.isoformat()},
            )
            for e in expiring
            if (e.consent_id, e.expires_at.isoformat()) not in already
        ]
        repos.audit.record(entries)
    logger.info(
        "consent audit: %d expiring within %s, %d newly flagged",
        len(expiring),
        warning,
        len(entries),
    )
    return len(entries)
