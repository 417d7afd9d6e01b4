"""Use case "plan events": a batch of core events -> patients upserted, appointment facts kept,
jobs planned, decided and stored, atomically.

Runs in a worker thread (the faust agent hands it each batch): every database round trip is per
batch, not per event. The whole batch commits in one transaction together with the inbox rows, so
a crash mid-batch leaves nothing behind and the redelivered batch redoes it.
"""

from __future__ import annotations

import dataclasses
import logging
from collections import Counter
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta

from pydantic import ValidationError

from outreach.dead_letters import DeadLetter, dead_letter
from outreach.domain import AuditRecord, JobStatus, Purpose, SuppressionReason
from outreach.events import CoreEvent, MalformedEvent, parse_core_event
from outreach.planning import EventPlan, PlannedJob, plan_event
from outreach.preferences import (
    CommRequest,
    ConsentState,
    FatiguePolicy,
    PatientDecisionInputs,
    Scheduled,
    SentRecord,
    consent_changes,
    consent_update_from_record,
    decide,
    exploration_for,
    resolve_patients,
)
from outreach.sql.job_repository import JobDecision, NewJob
from outreach.sql.patient_repository import PatientUpsert
from outreach.sql.store import Repositories, Store
from outreach.topics import CORE_EVENTS

logger = logging.getLogger(__name__)

CAP_HISTORY_WINDOW = timedelta(days=8)
# Purposes whose decision depends on what else the patient got lately.
_CAPPED_PURPOSES = frozenset({Purpose.CAMPAIGN_EDUCATION, Purpose.APPT_REMINDER})


@dataclass
class BatchResult:
    events: int = 0
    duplicates: int = 0
    ignored: int = 0
    jobs_created: int = 0
    jobs_cancelled: int = 0
    patients_upserted: int = 0
    appointments_recorded: int = 0
    by_status: Counter[str] = field(default_factory=Counter)
    suppressions: Counter[str] = field(default_factory=Counter)
    dead_letters: list[DeadLetter] = field(default_factory=list)


_NO_CONSENT = ConsentState()


def decide_job(
    job: PlannedJob,
    inputs: PatientDecisionInputs | None,
    history: Sequence[SentRecord],
    now: datetime,
    exploration_share: float = 0.0,
) -> JobDecision:
    """Queued on a channel at a time, or suppressed with why.

    A share ``exploration_share`` of flexible jobs goes at a random allowed hour; which ones is
    drawn from the idempotency key, so a replay decides the same.
    """
    if inputs is None:
        return JobDecision(
            status=JobStatus.SUPPRESSED,
            scheduled_for=max(job.requested_at, now),
            suppression_reason=SuppressionReason.NO_CONSENT,
            detail="patient unknown when the event was planned",
        )
    prefs = inputs.prefs
    if job.channel_hint is not None:
        # An explicit channel request narrows the choice; consent rules still apply in decide().
        prefs = dataclasses.replace(
            prefs,
            allowed_channels=prefs.allowed_channels & {job.channel_hint},
            preferred_channel=job.channel_hint,
        )
    elif job.channel_choices is not None and not prefs.allowed_channels <= job.channel_choices:
        # Campaign steps: only the channels the step's templates cover (copied only if narrower).
        prefs = dataclasses.replace(
            prefs, allowed_channels=prefs.allowed_channels & job.channel_choices
        )
    decision = decide(
        CommRequest(job.purpose, job.requested_at, job.deadline),
        prefs,
        inputs.consent,
        history,
        now,
        inputs.failed_channels,
        exploration_for(job.idempotency_key, exploration_share) if exploration_share else None,
    )
    if isinstance(decision, Scheduled):
        return JobDecision(
            status=JobStatus.QUEUED,
            scheduled_for=decision.send_at,
            channel=decision.channel,
            language=decision.language,
            send_time_source=decision.send_time_source,
            send_time_propensity=decision.send_time_propensity,
        )
    return JobDecision(
        status=JobStatus.SUPPRESSED,
        scheduled_for=max(job.requested_at, now),
        suppression_reason=decision.reason,
        detail=decision.detail,
    )


def _parse_event(value: bytes) -> CoreEvent:
    """``parse_core_event``, validating straight from JSON (faster) when the value is valid.

    Anything that fails takes the general path again, so a malformed event gets the same reason.
    """
    try:
        return CoreEvent.model_validate_json(value)
    except ValidationError:
        return parse_core_event(value)


class EventPlanner:
    """Turns raw ``core.events`` values into stored jobs: pure planning and decisions in the
    middle, one transaction of the store around them."""

    def __init__(
        self,
        store: Store,
        *,
        reminder_offsets: Sequence[timedelta],
        clock: Callable[[], datetime] = lambda: datetime.now(UTC),
        exploration_share: float = 0.0,
        fatigue: FatiguePolicy | None = None,
    ) -> None:
        self.store = store
        self.reminder_offsets = tuple(reminder_offsets)
        self.clock = clock
        self.exploration_share = exploration_share
        self.fatigue = fatigue

    def parse_and_plan(
        self, messages: Sequence[tuple[bytes | None, bytes]], now: datetime, result: BatchResult
    ) -> list[EventPlan]:
        plans: list[EventPlan] = []
        seen: set[str] = set()
        for key, value in messages:
            try:
                event = _parse_event(value)
                plan = plan_event(event, reminder_offsets=self.reminder_offsets)
            except MalformedEvent as error:
                result.dead_letters.append(
                    dead_letter(
                        source_topic=CORE_EVENTS,
                        stage="orchestrator.parse",
                        error=error,
                        failed_at=now,
                        original=value,
                        key=key,
                    )
                )
                continue
            if event.event_id in seen:
                result.duplicates += 1
                continue
            seen.add(event.event_id)
            plans.append(plan)
        return plans

    def handle(self, messages: Sequence[tuple[bytes | None, bytes]]) -> BatchResult:
        now = self.clock()
        result = BatchResult(events=len(messages))
        plans = self.parse_and_plan(messages, now, result)
        with self.store.transaction() as repos:
            done = repos.inbox.already_processed(p.event.event_id for p in plans)
            if done:
                result.duplicates += len(done)
                plans = [p for p in plans if p.event.event_id not in done]
            result.ignored = sum(1 for p in plans if p.ignored)
            result.patients_upserted = _upsert_patients(repos, plans, now)

            # Apply the batch in event order: a cancellation drops jobs planned earlier in the
            # same batch and cancels queued ones already stored.
            planned: list[PlannedJob] = []
            # Appointment -> how many jobs were planned before its last cancellation.
            cancelled_before: dict[str, int] = {}
            for plan in plans:
                for appointment_id in plan.cancel_appointment_ids:
                    cancelled_before[appointment_id] = len(planned)
                planned.extend(plan.jobs)
            pending = [
                job
                for position, job in enumerate(planned)
                if job.appointment_id is None
                or position >= cancelled_before.get(job.appointment_id, 0)
            ]
            result.jobs_cancelled = repos.jobs.cancel_queued_for_appointments(
                set(cancelled_before), now
            )

            facts = [p.appointment for p in plans if p.appointment is not None]
            repos.patients.ensure_exist(
                {(j.patient_id, j.org_id) for j in pending}
                | {(f.patient_id, f.org_id) for f in facts}
            )
            repos.appointments.record(facts, now)
            result.appointments_recorded = len(facts)
            inputs = resolve_patients(
                repos.patients.decision_layers(j.patient_id for j in pending), self.fatigue
            )
            capped = {j.patient_id for j in pending if j.purpose in _CAPPED_PURPOSES}
            history = repos.jobs.recent_history(capped, now - CAP_HISTORY_WINDOW)

            new_jobs = []
            for job in pending:
                decision = decide_job(
                    job,
                    inputs.get(job.patient_id),
                    history.get(job.patient_id, ()),
                    now,
                    self.exploration_share,
                )
                new_jobs.append(NewJob(job, decision))
                if decision.channel is not None and job.purpose in _CAPPED_PURPOSES:
                    # Later jobs of this batch see this one in the patient's history.
                    history.setdefault(job.patient_id, []).append(
                        SentRecord(decision.channel, job.purpose, decision.scheduled_for)
                    )
            result.jobs_created = repos.jobs.insert(new_jobs, now)
            for new_job in new_jobs:
                result.by_status[new_job.decision.status.value] += 1
                if new_job.decision.suppression_reason is not None:
                    result.suppressions[new_job.decision.suppression_reason.value] += 1
            repos.inbox.record_processed((p.event for p in plans), now)
        return result


def _upsert_patients(repos: Repositories, plans: Sequence[EventPlan], now: datetime) -> int:
    """Store the patient records of the batch; every consent change is audited."""
    updates: list[PatientUpsert] = []
    event_ids: list[str] = []
    for plan in plans:
        if plan.patient is None:
            continue
        event, record = plan.event, plan.patient
        consent = consent_update_from_record(
            record.contact_consent,
            record.consent_granted_at,
            record.marketing_opt_in,
            record.whatsapp_opt_in,
            event.occurred_at,
        )
        updates.append(
            PatientUpsert(event.patient_id, event.org_id, event.provider_id, record, consent)
        )
        event_ids.append(event.event_id)
    if not updates:
        return 0
    stored = repos.patients.stored_consents(u.patient_id for u in updates)
    audits: list[AuditRecord] = []
    for update, event_id in zip(updates, event_ids, strict=True):
        changes = consent_changes(stored.get(update.patient_id, _NO_CONSENT), update.consent)
        if changes:
            audits.append(
                AuditRecord(
                    occurred_at=now,
                    actor=f"core:{event_id}",
                    action="consent_changed",
                    patient_id=update.patient_id,
                    detail=changes,
                )
            )
    count = repos.patients.upsert(updates, stored, now)
    repos.audit.record(audits)
    return count
