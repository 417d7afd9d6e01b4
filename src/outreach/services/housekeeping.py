"""Use cases the scheduler runs on a timer: recover lost claims, close the status race, audit
expiring consents."""

from __future__ import annotations

import logging
from datetime import datetime, timedelta

from outreach.domain import AuditRecord
from outreach.preferences import consents_expiring
from outreach.sql.store import Store

logger = logging.getLogger(__name__)

CONSENT_EXPIRING = "consent_expiring"


def recover_stale_claims(
    store: Store, now: datetime, *, stale_after: timedelta, lost_after: timedelta
) -> int:
    """Requeue claims whose send request was lost; fail sends whose worker died mid-send.
    Returns how many were requeued."""
    with store.transaction() as repos:
        count = repos.jobs.requeue_stale_claims(now - stale_after, now)
        lost = repos.jobs.fail_lost_sends(now - lost_after, now)
    if count:
        logger.warning("requeued %d job(s) whose send request was lost", count)
    if lost:
        logger.error("%d job(s) failed: their channel worker stopped mid-send", lost)
    return count


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
