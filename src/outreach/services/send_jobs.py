"""Use case "send jobs": send requests -> rendered messages -> provider -> bookkeeping.

Per batch: one transaction takes the sends (so a redelivered request sends nothing) and re-checks
consent and the send window; messages go out concurrently on a thread pool (the SDKs block), and
one transaction records the results. Around each provider call, in its thread:

1. a send whose earlier attempt may have reached the provider asks the provider first (its own
   record, or for WhatsApp the statuses it reported) and is not sent twice;
2. the window is checked again (pacing may have held the job), the provider's circuit breaker
   is asked, and the sender's rate limit paced;
3. the send is marked started in the ledger, then the provider is called, with a timeout;
4. the error, if any, is read from ``delivery.provider_errors``: quick retries in the thread,
   then backoff through the queue, opt-outs recorded, fallback to the next allowed channel, and
   ``comm.failed`` only when no channel remains.
"""

from __future__ import annotations

import enum
import logging
import threading
import time
from collections import Counter
from collections.abc import Callable, Mapping, Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Protocol

from outreach.campaigns.states import CampaignState
from outreach.channels.base import (
    ChannelWorker,
    OutboundMessage,
    PermanentSendError,
    SendError,
    SendReceipt,
)
from outreach.channels.message_builder import MessageBuilder, MessageBuildError
from outreach.dead_letters import DeadLetter, dead_letter, describe_error
from outreach.delivery.circuit_breaker import BreakerSettings, BreakerState, CircuitBreaker
from outreach.delivery.fallback import may_fall_back
from outreach.delivery.provider_errors import ErrorAction, ErrorClass, classify_send_error
from outreach.delivery.retry_policy import DEFAULT_RETRY_POLICY, RetryPolicy
from outreach.delivery.send_window import Replan, SendNow, TooLate, check_send_window
from outreach.domain import Actor, AuditRecord, Channel, JobRecord, JobStatus, SuppressionReason
from outreach.events import CommFailedData, CommFailedOutcome, SendRequest, TypedOutcome
from outreach.preferences import (
    PatientDecisionInputs,
    Suppressed,
    address_for,
    choose_channel,
    recheck_at_send_time,
    resolve_patients,
)
from outreach.services.ingest_statuses import replay_statuses
from outreach.sql.job_repository import Requeue, SentJob
from outreach.sql.store import Repositories, Store
from outreach.topics import send_topic

logger = logging.getLogger(__name__)

# A provider's record may be stamped a little before our own clock said the send started.
LOOKUP_SKEW = timedelta(seconds=30)
_UNCONFIRMED = "unconfirmed: the provider may have it; asked once its record can show it"
_OUTSIDE_WINDOW = "re-planned: outside the send window (quiet hours or the legal floor)"
# Longest single sleep while pacing, so the window is checked again at least this often.
MAX_PACING_SLEEP_SECONDS = 5.0


class SendLedger(Protocol):
    """Where a send is marked started, just before the provider call (``channels.send_ledger``)."""

    shared: bool

    def mark_started(self, job_id: int, attempt: int, at: datetime) -> None: ...


class Pacer(Protocol):
    """Sender rate limits (``channels.rate_limiter``): 0 when a send may go, else seconds to
    wait."""

    def try_take(self, pacing_key: str, default_rate: float) -> float: ...


class NoPacing:
    def try_take(self, pacing_key: str, default_rate: float) -> float:
        return 0.0


class NoLedger:
    shared = False

    def mark_started(self, job_id: int, attempt: int, at: datetime) -> None:
        """Nothing recorded."""


class BreakerBoard(Protocol):
    """Where a worker posts its breakers' changes for others to see
    (``channels.breaker_board``)."""

    def post(
        self,
        provider: str,
        state: BreakerState,
        since: datetime,
        open_until: datetime | None = None,
    ) -> None: ...


class NoBoard:
    def post(
        self,
        provider: str,
        state: BreakerState,
        since: datetime,
        open_until: datetime | None = None,
    ) -> None:
        """Nothing posted."""


class ProviderBreakers:
    """One circuit breaker per provider, shared by a worker's sending threads; each change of
    state is logged and posted to the ``board`` (a failed post is logged, never in the way of
    a send)."""

    def __init__(self, settings: BreakerSettings, board: BreakerBoard | None = None) -> None:
        self._settings = settings
        self._board = board or NoBoard()
        self._lock = threading.Lock()
        self._breakers: dict[str, CircuitBreaker] = {}

    def _of(self, provider: str) -> CircuitBreaker:
        breaker = self._breakers.get(provider)
        if breaker is None:
            breaker = self._breakers[provider] = CircuitBreaker(self._settings)
        return breaker

    def _changed(self, provider: str, before: BreakerState, now: datetime) -> None:
        """Called under the lock, so the board sees the changes in their order."""
        breaker = self._of(provider)
        after = breaker.state
        if after == before:
            return
        logger.warning("circuit breaker for %s: %s -> %s", provider, before, after)
        open_until = (
            breaker.opened_at + self._settings.open_for
            if after is BreakerState.OPEN and breaker.opened_at is not None
            else None
        )
        try:
            self._board.post(provider, after, now, open_until)
        except Exception as error:  # the board is for people; sending goes on without it
            logger.warning(
                "circuit breaker for %s: not posted (%s)", provider, type(error).__name__
            )

    def allow(self, provider: str, now: datetime) -> datetime | None:
        """None when a call may go now, else when to try again."""
        with self._lock:
            breaker = self._of(provider)
            before = breaker.state
            allowed = breaker.allow(now)
            self._changed(provider, before, now)
            return None if allowed else breaker.retry_at(now)

    def record(self, provider: str, now: datetime, *, failed: bool) -> None:
        with self._lock:
            before = self._of(provider).state
            self._of(provider).record(now, failed=failed)
            self._changed(provider, before, now)

    def state(self, provider: str) -> str:
        with self._lock:
            return self._of(provider).state.value


class Fate(enum.Enum):
    """How a job that did not go out ends this attempt."""

    SUPPRESS = "suppress"  # consent or the window said no for good
    WAIT = "wait"  # not a failure: back in the queue for later, no retry spent
    CANCEL = "cancel"  # its campaign ended while it was on its way
    RETRY = "retry"  # a transient failure: back off through the queue (or fall back when spent)
    FALL_BACK = "fall_back"  # refused for good on this channel: the next allowed channel
    FAIL = "fail"  # it can never become a message (no template, policy refusal)


@dataclass(frozen=True, slots=True)
class Unsent:
    """A job that did not go out, how it ends, and why."""

    job: JobRecord
    fate: Fate
    reason: SuppressionReason | None = None  # SUPPRESS
    until: datetime | None = None  # WAIT
    error: BaseException | str | None = None
    error_class: ErrorClass | None = None  # RETRY / FALL_BACK: what the provider said
    started_at: datetime | None = None  # the send may have reached the provider from then on


@dataclass(frozen=True, slots=True)
class Sent:
    job: JobRecord
    receipt: SendReceipt
    template_id: int | None
    found: bool = False  # the provider had it already: found, not sent again
    at: datetime | None = None  # the pipeline's time of the last check before the call


@dataclass
class SendBatchResult:
    requested: int = 0
    taken: int = 0
    sent: int = 0
    found_at_provider: int = 0
    waited: int = 0
    retried: int = 0
    failed: int = 0
    suppressed: int = 0
    fell_back: int = 0
    cancelled: int = 0
    suppressions: Counter[str] = field(default_factory=Counter)
    outcomes: list[TypedOutcome] = field(default_factory=list)
    dead_letters: list[DeadLetter] = field(default_factory=list)


# (channel, seconds the provider call took, the provider's error code or None)
SendObserver = Callable[[str, float, str | None], None]


@dataclass(frozen=True, slots=True)
class DeliveryTuning:
    retry: RetryPolicy = DEFAULT_RETRY_POLICY
    reconcile_after: timedelta = timedelta(minutes=3)
    recipient_backoff: timedelta = timedelta(seconds=6)


class JobSender:
    def __init__(
        self,
        store: Store,
        channels: Mapping[str, ChannelWorker],
        builder: MessageBuilder,
        *,
        pool: ThreadPoolExecutor,
        clock: Callable[[], datetime] = lambda: datetime.now(UTC),
        real_clock: Callable[[], datetime] = lambda: datetime.now(UTC),
        process_id: str = "worker",
        ledger: SendLedger | None = None,
        pacer: Pacer | None = None,
        breakers: ProviderBreakers | None = None,
        tuning: DeliveryTuning | None = None,
        sleep: Callable[[float], None] = time.sleep,
        on_send: SendObserver | None = None,
    ) -> None:
        self.store = store
        self.channels = channels
        self.builder = builder
        self.pool = pool
        # ``clock`` is the pipeline's time (send windows, schedules; shifted in the demo);
        # ``real_clock`` the providers' and the processes' (breakers, liveness, provider records).
        self.clock = clock
        self.real_clock = real_clock
        self.process_id = process_id
        self.ledger = ledger or NoLedger()
        self.pacer = pacer or NoPacing()
        self.breakers = breakers or ProviderBreakers(BreakerSettings())
        self.tuning = tuning or DeliveryTuning()
        self.sleep = sleep
        self.on_send = on_send

    def handle(self, requests: Sequence[SendRequest]) -> SendBatchResult:
        now = self.clock()
        result = SendBatchResult(requested=len(requests))
        with self.store.transaction() as repos:
            owned = repos.jobs.take_sends(
                [(r.job_id, r.attempt) for r in requests], self.process_id, self.real_clock()
            )
            jobs = repos.jobs.load(owned)
            patient_ids = {j.patient_id for j in jobs.values()}
            patients = resolve_patients(repos.patients.decision_layers(patient_ids))
            orgs = repos.orgs.clinic_contacts({j.org_id for j in jobs.values()})
            whatsapp_windows = repos.patients.last_inbound_whatsapp(patient_ids)
            campaign_states = repos.campaigns.states_of(
                j.campaign_id for j in jobs.values() if j.campaign_id is not None
            )
            # WhatsApp has no lookup: its statuses tell whether an unconfirmed send went out.
            reported = repos.statuses.first_reported_to(
                [
                    (j.id, self._provider_of(j), address, j.unconfirmed_since - LOOKUP_SKEW)
                    for j in jobs.values()
                    if j.unconfirmed_since is not None
                    and not self._finds_accepted(j)
                    and (patient := patients.get(j.patient_id)) is not None
                    and (address := address_for(channel_of(j), patient.prefs)) is not None
                ]
            )
        result.taken = len(jobs)

        futures: list[Future[Sent | Unsent] | _Resolved] = []
        unsent: list[Unsent] = []
        for job in jobs.values():
            held = _held_by_campaign(job, campaign_states, now)
            if held is not None:
                unsent.append(held)
                continue
            channel = channel_of(job)
            patient = patients.get(job.patient_id)
            refusal = (
                recheck_at_send_time(job.purpose, channel, patient.consent, now)
                if patient
                else SuppressionReason.NO_CONSENT
            )
            if refusal is not None or patient is None:
                unsent.append(Unsent(job, Fate.SUPPRESS, reason=refusal))
                continue
            verdict = check_send_window(
                job.purpose,
                job.deadline,
                channel,
                address_for(channel, patient.prefs),
                patient.prefs,
                now,
            )
            if isinstance(verdict, Replan):
                unsent.append(Unsent(job, Fate.WAIT, until=verdict.at, error=_OUTSIDE_WINDOW))
                continue
            if isinstance(verdict, TooLate):
                unsent.append(Unsent(job, Fate.SUPPRESS, reason=verdict.reason))
                continue
            worker = self.channels.get(channel.value)
            if worker is None:
                unsent.append(Unsent(job, Fate.WAIT, until=now, error="channel not served here"))
                continue
            if job.unconfirmed_since is not None:
                known = reported.get(job.id)
                if known is not None:  # its statuses say it went (providers with no lookup)
                    receipt = SendReceipt(worker.provider, known, now)
                    futures.append(_done(Sent(job, receipt, None, found=True)))
                    continue
                # The provider may still be taking it, or its record or statuses may lag: ask
                # only once OUTREACH_SEND_RECONCILE_AFTER_SECONDS have passed since it started.
                remaining = job.unconfirmed_since + self.tuning.reconcile_after - self.real_clock()
                if remaining > timedelta(0):
                    unsent.append(Unsent(job, Fate.WAIT, until=now + remaining, error=_UNCONFIRMED))
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
                unsent.append(Unsent(job, Fate.FAIL, error=error))
                continue
            futures.append(
                self.pool.submit(self._deliver, worker, job, patient, message, template_id)
            )

        sent: list[Sent] = []
        for future in futures:
            outcome = future.result()
            if isinstance(outcome, Sent):
                sent.append(outcome)
            else:
                unsent.append(outcome)

        done = self.clock()
        with self.store.transaction() as repos:
            repos.jobs.mark_sent(
                [
                    SentJob(s.job.id, s.receipt.provider_message_id, s.template_id, s.at)
                    for s in sent
                ],
                done,
            )
            repos.audit.record([_sent_audit(s.job, s.receipt, done) for s in sent])
            # Statuses that raced ahead of this bookkeeping (fast providers) are applied now.
            replayed = replay_statuses(repos, [s.receipt.provider_message_id for s in sent], done)
            result.outcomes.extend(replayed.outcomes)
            result.sent = sum(not s.found for s in sent)
            result.found_at_provider = sum(s.found for s in sent)
            for item in unsent:
                self._finish(repos, item, patients, done, result)
        return result

    # ---- in a sending thread ----

    def _deliver(
        self,
        worker: ChannelWorker,
        job: JobRecord,
        patient: PatientDecisionInputs,
        message: OutboundMessage,
        template_id: int | None,
    ) -> Sent | Unsent:
        provider = worker.provider
        if job.unconfirmed_since is not None and worker.finds_accepted:
            try:
                found = worker.find_accepted(message, job.unconfirmed_since - LOOKUP_SKEW)
            except SendError as error:  # the provider cannot be asked now: ask again later
                return Unsent(
                    job, Fate.WAIT, until=self.clock() + self.tuning.recipient_backoff, error=error
                )
            if found is not None:
                return Sent(job, found, template_id, found=True)
            if not self.tuning.retry.may_retry(job.retries):
                return Unsent(job, Fate.FAIL, error="unconfirmed and out of retries: not resent")
        quick_tries = 0
        while True:
            now = self.clock()
            verdict = check_send_window(
                job.purpose, job.deadline, channel_of(job), message.to, patient.prefs, now
            )
            if isinstance(verdict, Replan):
                return Unsent(job, Fate.WAIT, until=verdict.at, error=_OUTSIDE_WINDOW)
            if isinstance(verdict, TooLate):
                return Unsent(job, Fate.SUPPRESS, reason=verdict.reason)
            assert isinstance(verdict, SendNow)
            real_now = self.real_clock()
            closed_until = self.breakers.allow(provider, real_now)
            if closed_until is not None:
                until = now + (closed_until - real_now)
                return Unsent(job, Fate.WAIT, until=until, error=f"{provider} circuit open")
            wait = self.pacer.try_take(worker.pacing_key, worker.default_rate_per_sec)
            if wait > 0:
                self.sleep(min(wait, MAX_PACING_SLEEP_SECONDS))
                continue
            started_at = self.real_clock()
            self.ledger.mark_started(job.id, job.attempt, started_at)
            try:
                receipt = self._send(worker, message)
            except SendError as error:
                kind = classify_send_error(
                    provider, error.provider_code, final=isinstance(error, PermanentSendError)
                )
                self.breakers.record(provider, self.real_clock(), failed=kind.trips_breaker)
                if kind.uncertain:
                    return Unsent(
                        job, Fate.RETRY, error=error, error_class=kind, started_at=started_at
                    )
                if kind.is_final:
                    return Unsent(job, Fate.FALL_BACK, error=error, error_class=kind)
                if (
                    kind.action in (ErrorAction.BACK_OFF, ErrorAction.RATE_LIMITED)
                    and quick_tries < self.tuning.retry.quick_retries
                ):
                    quick_tries += 1
                    self.sleep(self.tuning.retry.quick_delay_for(quick_tries))
                    continue
                return Unsent(job, Fate.RETRY, error=error, error_class=kind)
            except Exception as error:  # an SDK bug or network oddity: it may have gone out
                logger.warning("job %s: unexpected send error %s", job.id, type(error).__name__)
                self.breakers.record(provider, self.real_clock(), failed=True)
                kind = classify_send_error(provider, "timeout")
                return Unsent(job, Fate.RETRY, error=error, error_class=kind, started_at=started_at)
            self.breakers.record(provider, self.real_clock(), failed=False)
            return Sent(job, receipt, template_id, at=now)

    # ---- bookkeeping ----

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
        if item.fate is Fate.SUPPRESS:
            reason = item.reason or SuppressionReason.NO_CONSENT
            if repos.jobs.end(job.id, JobStatus.SUPPRESSED, now, reason=reason.value):
                result.suppressed += 1
                result.suppressions[reason.value] += 1
            return
        error_text = describe_error(item.error or item.fate.value)
        if item.fate is Fate.CANCEL:
            if repos.jobs.end(job.id, JobStatus.CANCELLED, now, error=error_text):
                result.cancelled += 1
            return
        if item.fate is Fate.WAIT:
            if repos.jobs.requeue(job.id, item.until or now, now, Requeue(note=error_text)):
                result.waited += 1
            return
        if item.fate is Fate.FAIL:
            self._fail(repos, job, error_text, now, result)
            return
        kind = item.error_class
        assert kind is not None
        if item.fate is Fate.RETRY:
            if kind.action is ErrorAction.RECIPIENT_BACK_OFF:
                run_at = now + self.tuning.recipient_backoff
            else:
                run_at = now + self.tuning.retry.backoff(job.retries + 1)
            if self.tuning.retry.may_retry(job.retries):
                change = Requeue(
                    note=error_text, retries=job.retries + 1, unconfirmed_since=item.started_at
                )
                if repos.jobs.requeue(job.id, run_at, now, change):
                    result.retried += 1
                return
            if item.started_at is not None:
                # It may have gone out: ask the provider once more instead of falling back.
                change = Requeue(note=error_text, unconfirmed_since=item.started_at)
                if repos.jobs.requeue(job.id, run_at, now, change):
                    result.retried += 1
                return
            error_text = f"gave up after {job.retries + 1} attempts: {error_text}"
        elif kind.action is ErrorAction.OPT_OUT:
            repos.opt_outs.record(
                [job.patient_id], [channel_of(job)], now, source=f"provider:{kind.action.value}"
            )
        elif kind.action is ErrorAction.ADDRESS_FAILED:
            repos.patients.mark_channel_failed(job.patient_id, channel_of(job))
        if self._fall_back(repos, job, item, patients, error_text, now):
            result.fell_back += 1
            return
        if kind.action is ErrorAction.OPT_OUT:
            if repos.jobs.end(
                job.id, JobStatus.SUPPRESSED, now, reason=SuppressionReason.OPTED_OUT.value
            ):
                result.suppressed += 1
                result.suppressions[SuppressionReason.OPTED_OUT.value] += 1
            return
        self._fail(repos, job, error_text, now, result)

    def _fall_back(
        self,
        repos: Repositories,
        job: JobRecord,
        item: Unsent,
        patients: Mapping[str, PatientDecisionInputs],
        error_text: str,
        now: datetime,
    ) -> bool:
        """The same job on the next allowed channel, if its purpose allows and one remains."""
        patient = patients.get(job.patient_id)
        if patient is None or not may_fall_back(job.purpose):
            return False
        channel = channel_of(job)
        consent = patient.consent
        if item.error_class is not None and item.error_class.action is ErrorAction.OPT_OUT:
            consent = consent.with_opt_out(channel)
        tried = job.tried_channels | {channel}
        choice = choose_channel(
            job.purpose, patient.prefs, consent, now, patient.failed_channels | tried
        )
        if isinstance(choice, Suppressed):
            return False
        fallback, _address = choice
        change = Requeue(
            note=error_text, channel=fallback, retries=0, confirmed_unsent=True, tried=tried
        )
        return repos.jobs.requeue(job.id, now, now, change)

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
        result.outcomes.append(comm_failed(job, error, now))
        result.dead_letters.append(
            dead_letter(
                source_topic=send_topic(channel_of(job)),
                stage="channel.send",
                kind="send",
                error=error,
                failed_at=now,
                original=SendRequest(job_id=job.id, attempt=job.attempt).model_dump_json(),
                key=job.patient_id,
                org_id=job.org_id,
            )
        )

    def _finds_accepted(self, job: JobRecord) -> bool:
        worker = self.channels.get(channel_of(job).value)
        return worker is not None and worker.finds_accepted

    def _provider_of(self, job: JobRecord) -> str:
        worker = self.channels.get(channel_of(job).value)
        return worker.provider if worker is not None else channel_of(job).value


def _held_by_campaign(
    job: JobRecord, states: Mapping[int, CampaignState], now: datetime
) -> Unsent | None:
    """A campaign paused after its job was claimed holds the job (queued again: the scheduler
    skips a paused campaign's jobs until it resumes); one completed or archived meanwhile
    cancels it, as completing cancels the queued ones."""
    if job.campaign_id is None:
        return None
    state = states.get(job.campaign_id)
    if state is CampaignState.PAUSED:
        return Unsent(job, Fate.WAIT, until=now, error="campaign paused")
    if state in (CampaignState.COMPLETED, CampaignState.ARCHIVED):
        return Unsent(job, Fate.CANCEL, error=f"campaign {state.value}")
    return None


def comm_failed(job: JobRecord, error: str, now: datetime) -> CommFailedOutcome:
    """The core platform's notice that a job ended without reaching the patient on any channel."""
    return CommFailedOutcome(
        type="comm.failed",
        occurred_at=now,
        patient_id=job.patient_id,
        org_id=job.org_id,
        appointment_id=job.appointment_id,
        job_id=job.id,
        data=CommFailedData(purpose=job.purpose, channel=channel_of(job), error=error[:300]),
    )


def _done(value: Sent | Unsent) -> _Resolved:
    return _Resolved(value)


@dataclass(frozen=True, slots=True)
class _Resolved:
    """A result known without a provider call, beside the futures of those that need one."""

    value: Sent | Unsent

    def result(self) -> Sent | Unsent:
        return self.value


SENDER = Actor("system:channels")


def _sent_audit(job: JobRecord, receipt: SendReceipt, at: datetime) -> AuditRecord:
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
            "provider_message_id": receipt.provider_message_id,
        },
    )


def channel_of(job: JobRecord) -> Channel:
    """The channel of a job on the send path (claimed jobs always have one)."""
    if job.channel is None:
        raise ValueError(f"job {job.id} has no channel")
    return job.channel
