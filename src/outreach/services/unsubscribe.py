"""Use case "unsubscribe": a one-click unsubscribe link (RFC 8058) -> an e-mail opt-out.

The token names the patient, the channel and the campaign and job whose e-mail carried it. In
one transaction the channel is opted out, the patient's queued jobs on it are cancelled (urgent
ones spared, as after a STOP), their enrolment in that campaign ends (``exited``,
``unsubscribed``), and the audit log records it. The core platform hears ``patient.opted_out``
on ``outreach.outcomes`` (``via: unsubscribe_link``): it is published before the transaction
commits, so a failed publish undoes the opt-out and the mail client's retry does it all again
(the other way round, a commit failing after the publish, the retry publishes a second copy:
at least once). A click that changes nothing publishes nothing.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime

from outreach.domain import Actor
from outreach.events import OptedOutData, PatientOptedOutOutcome
from outreach.sql.store import Store
from outreach.templating import UnsubscribeClaim

ACTOR = Actor("patient:unsubscribe-link")
UNSUBSCRIBED = "unsubscribed"  # the exit reason of the campaign enrolment


@dataclass(frozen=True, slots=True)
class Unsubscribed:
    patient_known: bool
    changed: bool
    jobs_cancelled: int
    outcome: PatientOptedOutOutcome | None


def unsubscribe(
    store: Store,
    claim: UnsubscribeClaim,
    *,
    now: datetime,
    publish: Callable[[PatientOptedOutOutcome], None],
) -> Unsubscribed:
    """Opt the patient out of ``claim.channel``; ``publish`` hands the outcome to Kafka (and
    raises when it could not)."""
    with store.transaction() as repos:
        layers = repos.patients.decision_layers([claim.patient_id])
        if not layers:
            return Unsubscribed(False, False, 0, None)
        org_id = layers[0].org_id
        changed = repos.replies.set_opted_out([claim.patient_id], [claim.channel], True, now) > 0
        cancelled = repos.jobs.cancel_pending_for_patient(claim.patient_id, [claim.channel], now)
        exited = claim.campaign_id is not None and repos.campaigns.exit_patient(
            claim.campaign_id, claim.patient_id, UNSUBSCRIBED, now
        )
        detail = {
            "channel": claim.channel.value,
            "via": "unsubscribe_link",
            "campaign_id": str(claim.campaign_id) if claim.campaign_id is not None else "",
            "job_id": str(claim.job_id) if claim.job_id is not None else "",
            "jobs_cancelled": str(cancelled),
            "enrolment_exited": str(exited).lower(),
        }
        repos.audit.record(
            [
                ACTOR.audit(
                    "opt_out" if changed else "opt_out_repeated",
                    now,
                    patient_id=claim.patient_id,
                    detail=detail,
                    org_id=org_id,
                )
            ]
        )
        outcome: PatientOptedOutOutcome | None = None
        if changed:
            outcome = PatientOptedOutOutcome(
                type="patient.opted_out",
                occurred_at=now,
                patient_id=claim.patient_id,
                org_id=org_id,
                job_id=claim.job_id,
                data=OptedOutData(
                    channels=[claim.channel],
                    stop_all=False,
                    channel=claim.channel,
                    via="unsubscribe_link",
                    campaign_id=claim.campaign_id,
                ),
            )
            publish(outcome)
    return Unsubscribed(True, changed, cancelled, outcome)
