"""Use case "ingest statuses": provider reports -> comm_status_events (once each), job status
(forward only), and what a failure reported later calls for.

A status may arrive before the channel worker recorded the provider message id (fast
providers): it is stored unattached, and ``replay_statuses`` applies it once the send's
bookkeeping knows the id (right after ``mark_sent``, and in the scheduler's reconcile sweep).

A report that ends a sent job (``failed``, ``bounced``) is read from ``delivery.provider_errors``:
an opt-out held by the provider becomes the patient's opt-out on that channel, an address that
cannot be reached is marked failed, and the message falls back to the next allowed channel as a
new job when its purpose allows. ``comm.failed`` goes to the core platform only when no channel
remains. A provider's compliance report (SendGrid spam report, unsubscribe) is an opt-out too.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta

from outreach.delivery.fallback import may_fall_back
from outreach.delivery.provider_errors import ErrorAction, classify_delivery_failure
from outreach.domain import JobRecord, JobStatus
from outreach.events import CommFailedData, CommFailedOutcome, StatusUpdate
from outreach.preferences import Suppressed, choose_channel, resolve_patients
from outreach.sql.job_repository import ReportedStatus
from outreach.sql.status_repository import StoredStatus
from outreach.sql.store import Repositories, Store

UNSUBSCRIBED = "unsubscribed"  # a provider's compliance report: the recipient opted out through it


@dataclass
class StatusBatchResult:
    applied: Counter[str] = field(default_factory=Counter)
    fell_back: int = 0
    opted_out: int = 0
    outcomes: list[CommFailedOutcome] = field(default_factory=list)


def job_status_from_provider(value: str) -> JobStatus | None:
    """A normalised provider status as a job status (None for ones that change no job)."""
    try:
        status = JobStatus(value)
    except ValueError:
        return None
    return None if status in (JobStatus.QUEUED, JobStatus.PROCESSING) else status


def apply_reports(
    repos: Repositories, reports: Sequence[tuple[str, ReportedStatus]], now: datetime
) -> StatusBatchResult:
    """Move jobs to the reported statuses (``(provider, report)`` pairs) and act on the failures
    that end a sent job."""
    result = StatusBatchResult()
    plain = [report for _, report in reports]
    providers = {report.provider_message_id: provider for provider, report in reports}
    failing = repos.jobs.failing(plain)
    result.applied.update(repos.jobs.apply_statuses(plain, now))
    for job, report in failing:
        act_on_delivery_failure(
            repos, job, providers[report.provider_message_id], report, now, result
        )
    return result


def act_on_delivery_failure(
    repos: Repositories,
    job: JobRecord,
    provider: str,
    report: ReportedStatus,
    now: datetime,
    result: StatusBatchResult,
) -> None:
    """A sent job ended failed or bounced: record what it says of the patient, fall back to the
    next allowed channel (a new job) or tell the core platform it failed."""
    channel = job.channel
    if channel is None:
        return
    kind = classify_delivery_failure(provider, report.status.value, report.error_code)
    if kind.action is ErrorAction.OPT_OUT:
        result.opted_out += repos.opt_outs.record(
            [job.patient_id], [channel], now, source=f"{provider}:{report.error_code or 'report'}"
        )
    elif kind.action is ErrorAction.ADDRESS_FAILED:
        repos.patients.mark_channel_failed(job.patient_id, channel)
    if may_fall_back(job.purpose):
        patient = resolve_patients(repos.patients.decision_layers([job.patient_id])).get(
            job.patient_id
        )
        if patient is not None:
            # A deadline that passed is the claim's to catch (suppressed with the reason).
            choice = choose_channel(
                job.purpose,
                patient.prefs,
                patient.consent,
                now,
                patient.failed_channels | job.tried_channels | {channel},
            )
            if not isinstance(choice, Suppressed):
                if repos.jobs.insert_fallback(job, choice[0], now, now) is not None:
                    result.fell_back += 1
                return
    error = f"{report.status.value} reported by {provider}: {report.error_code or 'no code'}"
    result.outcomes.append(
        CommFailedOutcome(
            type="comm.failed",
            occurred_at=now,
            patient_id=job.patient_id,
            org_id=job.org_id,
            appointment_id=job.appointment_id,
            job_id=job.id,
            data=CommFailedData(purpose=job.purpose, channel=channel, error=error[:300]),
        )
    )


def replay_statuses(
    repos: Repositories, provider_message_ids: Sequence[str], now: datetime
) -> StatusBatchResult:
    """Apply stored statuses of messages whose job learnt its provider id only now, and attach
    them to their job."""
    owners = repos.jobs.ids_by_provider_message(provider_message_ids)
    waiting = repos.statuses.unattached(owners)
    result = apply_reports(
        repos,
        [
            (s.provider, ReportedStatus(s.provider_message_id, status, s.occurred_at, s.error_code))
            for s in waiting
            if (status := job_status_from_provider(s.status)) is not None
        ],
        now,
    )
    waiting_ids = {s.provider_message_id for s in waiting}
    repos.statuses.attach({p: owners[p] for p in waiting_ids})
    return result


class StatusIngestor:
    def __init__(
        self, store: Store, clock: Callable[[], datetime] = lambda: datetime.now(UTC)
    ) -> None:
        self.store = store
        self.clock = clock

    def handle(self, updates: Sequence[StatusUpdate]) -> StatusBatchResult:
        """Store each report once, move its job forward and act on failures."""
        now = self.clock()
        if not updates:
            return StatusBatchResult()
        with self.store.transaction() as repos:
            owners = repos.jobs.ids_by_provider_message(u.provider_message_id for u in updates)
            repos.statuses.record(
                [
                    StoredStatus(
                        provider=u.provider,
                        provider_message_id=u.provider_message_id,
                        status=u.status,
                        occurred_at=u.occurred_at,
                        error_code=u.error_code,
                        job_id=owners.get(u.provider_message_id),
                        raw=u.raw,
                        price=u.price,
                        price_unit=u.price_unit,
                    )
                    for u in updates
                ],
                received_at=now,
            )
            reports: list[tuple[str, ReportedStatus]] = []
            ignored = unmatched = 0
            opt_outs: list[StatusUpdate] = []
            for update in updates:
                status = job_status_from_provider(update.status)
                if update.status == UNSUBSCRIBED:
                    opt_outs.append(update)
                elif status is None:
                    ignored += 1
                elif update.provider_message_id not in owners:
                    unmatched += 1  # kept; the send's bookkeeping replays it
                else:
                    reports.append(
                        (
                            update.provider,
                            ReportedStatus(
                                update.provider_message_id,
                                status,
                                update.occurred_at,
                                update.error_code,
                            ),
                        )
                    )
            result = apply_reports(repos, reports, now)
            result.applied["ignored"] += ignored
            result.applied["unmatched"] += unmatched
            result.opted_out += self._record_opt_outs(repos, opt_outs, owners, now)
        return result

    @staticmethod
    def _record_opt_outs(
        repos: Repositories,
        updates: Sequence[StatusUpdate],
        owners: dict[str, int],
        now: datetime,
    ) -> int:
        """A provider's report that the recipient opted out (spam report, unsubscribe): the
        patient's opt-out on the job's channel."""
        job_ids = [
            owners[u.provider_message_id] for u in updates if u.provider_message_id in owners
        ]
        recorded = 0
        for job in repos.jobs.load(job_ids).values():
            if job.channel is not None:
                recorded += repos.opt_outs.record(
                    [job.patient_id], [job.channel], now, source="provider:complaint"
                )
        return recorded


def reconcile_unattached_statuses(
    store: Store, now: datetime, window: timedelta
) -> StatusBatchResult:
    """Apply statuses stored before their job knew its provider message id.

    A status and the send's own bookkeeping can commit at the same moment, each unable to see
    the other (READ COMMITTED); this sweep, run every few seconds, closes that window.
    """
    with store.transaction() as repos:
        pending = repos.statuses.unattached_with_known_job(now - window)
        return replay_statuses(repos, pending, now) if pending else StatusBatchResult()
