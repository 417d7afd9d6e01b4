"""Use case "send jobs": send requests -> rendered messages -> provider -> bookkeeping.

Per batch: one transaction takes the sends (so a redelivered request sends nothing), consent is
checked one last time, messages go out concurrently on a thread pool (the SDKs block), and one
transaction records the results. Retries follow ``scheduler.retry_policy``; a permanent provider
error marks the channel failed for the patient and falls back to the next allowed channel.
"""

from __future__ import annotations

import enum
import logging
import time
from collections import Counter
from collections.abc import Callable, Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import UTC, datetime

from outreach.channels.base import (
    ChannelWorker,
    OutboundMessage,
    PermanentSendError,
    SendError,
    SendReceipt,
)
from outreach.channels.message_builder import MessageBuilder, MessageBuildError
from outreach.dead_letters import DeadLetter, dead_letter, describe_error
from outreach.delivery.retry_policy import compute_backoff, should_retry
from outreach.domain import Actor, AuditRecord, Channel, JobRecord, JobStatus, SuppressionReason
from outreach.events import CommFailedData, CommFailedOutcome, SendRequest, TypedOutcome
from outreach.preferences import (
    PatientDecisionInputs,
    Suppressed,
    choose_channel,
    recheck_at_send_time,
    resolve_patients,
)
from outreach.services.ingest_statuses import replay_statuses
from outreach.sql.job_repository import SentJob
from outreach.sql.store import Repositories, Store
from outreach.topics import send_topic

logger = logging.getLogger(__name__)


class SendOutcome(enum.Enum):
    """How a job that did not go out ends this attempt."""

    SUPPRESS = "suppress"  # consent said no at the last moment
    RETRY = "retry"  # worth trying again later (transient provider error, not served here)
    PERMANENT = "permanent"  # the provider refused for good: mark the channel, fall back
    FAIL = "fail"  # it can never become a message (no template, policy refusal)


@dataclass(frozen=True, slots=True)
class Unsent:
    """A job that did not go out, how it ends, and why."""

    job: JobRecord
    outcome: SendOutcome
    reason: SuppressionReason | None = None  # for SUPPRESS
    error: BaseException | str | None = None  # for the others


@dataclass
class SendBatchResult:
    requested: int = 0
    taken: int = 0
    sent: int = 0
    retried: int = 0
    failed: int = 0
    suppressed: int = 0
    fell_back: int = 0
    suppressions: Counter[str] = field(default_factory=Counter)
    outcomes: list[TypedOutcome] = field(default_factory=list)
    dead_letters: list[DeadLetter] = field(default_factory=list)


# (channel, seconds the provider call took, the provider's error code or None)
SendObserver = Callable[[str, float, str | None], None]


class JobSender:
    def __init__(
        self,
        store: Store,
        channels: Mapping[str, ChannelWorker],
        builder: MessageBuilder,
        *,
        pool: ThreadPoolExecutor,
        clock: Callable[[], datetime] = lambda: datetime.now(UTC),
        on_send: SendObserver | None = None,
    ) -> None:
        self.store = store
        self.channels = channels
        self.builder = builder
        self.pool = pool
        self.clock = clock
        self.on_send = on_send

    def handle(self, requests: Sequence[SendRequest]) -> SendBatchResult:
        now = self.clock()
        result = SendBatchResult(requested=len(requests))
        with self.store.transaction() as repos:
            owned = repos.jobs.take_sends([(r.job_id, r.attempt) for r in requests])
            jobs = repos.jobs.load(owned)
            patient_ids = {j.patient_id for j in jobs.values()}
            patients = resolve_patients(repos.patients.decision_layers(patient_ids))
            orgs = repos.orgs.clinic_contacts({j.org_id for j in jobs.values()})
            whatsapp_windows = repos.patients.last_inbound_whatsapp(patient_ids)
        result.taken = len(jobs)

        to_send = []
        unsent: list[Unsent] = []
        for job in jobs.values():
            patient = patients.get(job.patient_id)
            channel = channel_of(job)
            refusal = (
                recheck_at_send_time(job.purpose, channel, patient.consent, now)
                if patient
                else SuppressionReason.NO_CONSENT
            )
            if refusal is not None or patient is None:
                unsent.append(Unsent(job, SendOutcome.SUPPRESS, reason=refusal))
                continue
            if channel.value not in self.channels:
                unsent.append(
                    Unsent(job, SendOutcome.RETRY, error=f"channel {channel.value} not served here")
                )
                continue
            try:
                message, template_id = self.builder.build(
                    job,
                    patient,
                    orgs.get(job.org_id),
                    now,
                    last_inbound_whatsapp_at=whatsapp_windows.get(job.patient_id),
                )
            except MessageBuildError as error:
                unsent.append(Unsent(job, SendOutcome.FAIL, error=error))
                continue
            to_send.append((job, message, template_id))

        futures = [
            (
                job,
                template_id,
                self.pool.submit(self._send, self.channels[channel_of(job)], message),
            )
            for job, message, template_id in to_send
        ]
        sent: list[SentJob] = []
        for job, template_id, future in futures:
            try:
                receipt: SendReceipt = future.result()
            except SendError as error:
                outcome = (
                    SendOutcome.PERMANENT
                    if isinstance(error, PermanentSendError)
                    else SendOutcome.RETRY
                )
                unsent.append(Unsent(job, outcome, error=error))
                continue
            except Exception as error:  # an SDK bug or network oddity: treat as transient
                logger.warning("job %s: unexpected send error %s", job.id, type(error).__name__)
                unsent.append(Unsent(job, SendOutcome.RETRY, error=error))
                continue
            sent.append(SentJob(job.id, receipt.provider_message_id, template_id))

        done = self.clock()
        with self.store.transaction() as repos:
            repos.jobs.mark_sent(sent, done)
            repos.audit.record([_sent_audit(jobs[s.job_id], s, done) for s in sent])
            # Statuses that raced ahead of this bookkeeping (fast providers) are applied now.
            replay_statuses(repos, [s.provider_message_id for s in sent], done)
            result.sent = len(sent)
            for item in unsent:
                self._finish(repos, item, patients, done, result)
        return result

    def _send(self, worker: ChannelWorker, message: OutboundMessage) -> SendReceipt:
        """One provider call, its time and refusal reported to ``on_send`` (metrics)."""
        started = time.perf_counter()
        code: str | None = None
        try:
            return worker.send(message)
        except SendError as error:
            code = error.provider_code or type(error).__name__
            raise
        except Exception as error:
            code = type(error).__name__
            raise
        finally:
            if self.on_send is not None:
                self.on_send(worker.name, time.perf_counter() - started, code)

    def _finish(
        self,
        repos: Repositories,
        item: Unsent,
        patients: Mapping[str, PatientDecisionInputs],
        now: datetime,
        result: SendBatchResult,
    ) -> None:
        job = item.job
        if item.outcome is SendOutcome.SUPPRESS:
            reason = item.reason or SuppressionReason.NO_CONSENT
            if repos.jobs.end(job.id, JobStatus.SUPPRESSED, now, reason=reason.value):
                result.suppressed += 1
                result.suppressions[reason.value] += 1
            return
        error_text = describe_error(item.error or item.outcome.value)
        if item.outcome is SendOutcome.RETRY:
            if should_retry(job.attempt):
                run_at = now + compute_backoff(job.attempt)
                if repos.jobs.retry_later(job.id, run_at, error_text, now):
                    result.retried += 1
                return
            self._fail(
                repos, job, f"gave up after {job.attempt} attempts: {error_text}", now, result
            )
            return
        if item.outcome is SendOutcome.PERMANENT:
            channel = channel_of(job)
            repos.patients.mark_channel_failed(job.patient_id, channel)
            patient = patients.get(job.patient_id)
            if patient is not None:
                failed = patient.failed_channels | {channel}
                choice = choose_channel(job.purpose, patient.prefs, patient.consent, now, failed)
                if not isinstance(choice, Suppressed):
                    fallback, _address = choice
                    if repos.jobs.retry_later(job.id, now, error_text, now, channel=fallback):
                        result.fell_back += 1
                        return
        self._fail(repos, job, error_text, now, result)

    def _fail(
        self,
        repos: Repositories,
        job: JobRecord,
        error: str,
        now: datetime,
        result: SendBatchResult,
    ) -> None:
        if not repos.jobs.end(job.id, JobStatus.FAILED, now, error=error):
            return
        result.failed += 1
        result.outcomes.append(
            CommFailedOutcome(
                type="comm.failed",
                occurred_at=now,
                patient_id=job.patient_id,
                org_id=job.org_id,
                appointment_id=job.appointment_id,
                job_id=job.id,
                data=CommFailedData(
                    purpose=job.purpose, channel=channel_of(job), error=error[:300]
                ),
            )
        )
        result.dead_letters.append(
            dead_letter(
                source_topic=send_topic(channel_of(job)),
                stage="channel.send",
                kind="send",
                error=error,
                failed_at=now,
                original=SendRequest(job_id=job.id, attempt=job.attempt).model_dump_json(),
                key=job.patient_id,
            )
        )


SENDER = Actor("system:channels")


def _sent_audit(job: JobRecord, sent: SentJob, at: datetime) -> AuditRecord:
    """Every message a provider accepted is in the audit log (identifiers only)."""
    return SENDER.audit(
        "message_sent",
        at,
        patient_id=job.patient_id,
        org_id=job.org_id,
        detail={
            "job_id": job.id,
            "channel": channel_of(job).value,
            "purpose": job.purpose.value,
            "provider_message_id": sent.provider_message_id,
        },
    )


def channel_of(job: JobRecord) -> Channel:
    """The channel of a job on the send path (claimed jobs always have one)."""
    if job.channel is None:
        raise ValueError(f"job {job.id} has no channel")
    return job.channel
