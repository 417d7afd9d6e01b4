"""One batch of core events -> patients upserted, jobs planned, decided and stored, atomically.

Runs in a worker thread (the faust agent hands it each ``stream.take`` batch): every database
round trip is per batch, not per event. The whole batch commits in one transaction together with
the inbox rows, so a crash mid-batch leaves nothing behind and the redelivered batch redoes it.
"""

from __future__ import annotations

import dataclasses
import logging
from collections import Counter
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

from pydantic import ValidationError
from sqlalchemy import Engine

from outreach.domain import Channel, JobStatus, Purpose, SuppressionReason
from outreach.events import CoreEvent, DlqEntry, MalformedEvent, parse_core_event
from outreach.orchestrator.planning import EventPlan, PlannedJob, plan_event
from outreach.preferences import CommRequest, Scheduled, SentRecord, decide
from outreach.sql import inbox, job_repository, patient_repository
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
    by_status: Counter[str] = field(default_factory=Counter)
    suppressions: Counter[str] = field(default_factory=Counter)
    dead_letters: list[DlqEntry] = field(default_factory=list)


# Enum values read per job: a member's ``.value`` is a Python-level descriptor call.
_QUEUED = JobStatus.QUEUED.value
_SUPPRESSED = JobStatus.SUPPRESSED.value
_NO_CONSENT = SuppressionReason.NO_CONSENT.value


def decide_job(
    job: PlannedJob,
    inputs: patient_repository.PatientDecisionInputs | None,
    history: Sequence[Any],
    now: datetime,
) -> dict[str, Any]:
    """A planned job as a comm_jobs row: queued on a channel at a time, or suppressed with why."""
    row: dict[str, Any] = {
        "idempotency_key": job.idempotency_key,
        "org_id": job.org_id,
        "patient_id": job.patient_id,
        "provider_id": job.provider_id,
        "appointment_id": job.appointment_id,
        "source_event_id": job.source_event_id,
        "campaign_id": job.campaign_id,
        "variant": job.variant,
        "purpose": job.purpose.value,
        "requested_at": job.requested_at,
        "deadline": job.deadline,
        "context": job.context,
        "attempt": 0,
        "language": None,
        "created_at": now,
        "updated_at": now,
    }
    if inputs is None:
        row["channel"] = None
        row["status"] = _SUPPRESSED
        row["suppression_reason"] = _NO_CONSENT
        row["scheduled_for"] = max(job.requested_at, now)
        row["last_error"] = "patient unknown when the event was planned"
        return row
    prefs = inputs.prefs
    if job.channel_hint is not None:
        # An explicit channel request narrows the choice; consent rules still apply in decide().
        prefs = dataclasses.replace(
            prefs,
            allowed_channels=prefs.allowed_channels & {job.channel_hint},
            preferred_channel=job.channel_hint,
        )
    decision = decide(
        CommRequest(job.purpose, job.requested_at, job.deadline),
        prefs,
        inputs.consent,
        history,
        now,
        inputs.failed_channels,
    )
    if isinstance(decision, Scheduled):
        row["channel"] = decision.channel.value
        row["status"] = _QUEUED
        row["suppression_reason"] = None
        row["scheduled_for"] = decision.send_at
        row["language"] = decision.language
        row["last_error"] = None
    else:
        row["channel"] = None
        row["status"] = _SUPPRESSED
        row["suppression_reason"] = decision.reason.value
        row["scheduled_for"] = max(job.requested_at, now)
        row["last_error"] = decision.detail[:500]
    return row


def _parse_event(value: bytes) -> CoreEvent:
    """``parse_core_event``, validating straight from JSON (faster) when the value is valid.

    Anything that fails takes the general path again, so a malformed event gets the same reason.
    """
    try:
        return CoreEvent.model_validate_json(value)
    except ValidationError:
        return parse_core_event(value)


class EventBatchHandler:
    """Turns raw ``core.events`` values into stored jobs; pure logic in, SQL at the edges."""

    def __init__(
        self,
        engine: Engine,
        *,
        reminder_offsets: Sequence[timedelta],
        clock: Callable[[], datetime] = lambda: datetime.now(UTC),
    ) -> None:
        self.engine = engine
        self.reminder_offsets = tuple(reminder_offsets)
        self.clock = clock

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
                    DlqEntry(
                        source_topic=CORE_EVENTS,
                        stage="orchestrator.parse",
                        error=str(error),
                        failed_at=now,
                        original=value.decode("utf-8", "replace")[:100_000],
                        key=key.decode("utf-8", "replace") if key else None,
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
        with self.engine.begin() as connection:
            done = inbox.already_processed(connection, (p.event.event_id for p in plans))
            if done:
                result.duplicates += len(done)
                plans = [p for p in plans if p.event.event_id not in done]
            result.ignored = sum(1 for p in plans if p.ignored)
            upserts = [(p.event, p.patient) for p in plans if p.patient is not None]
            result.patients_upserted = patient_repository.upsert_patients(connection, upserts, now)

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
            cancelled_appointments = set(cancelled_before)
            result.jobs_cancelled = job_repository.cancel_queued_for_appointments(
                connection, cancelled_appointments, now
            )

            patient_repository.ensure_patients_exist(
                connection, {(j.patient_id, j.org_id) for j in pending}
            )
            inputs = patient_repository.load_decision_inputs(
                connection, (j.patient_id for j in pending)
            )
            capped = {j.patient_id for j in pending if j.purpose in _CAPPED_PURPOSES}
            history = job_repository.recent_history(connection, capped, now - CAP_HISTORY_WINDOW)

            rows = []
            for job in pending:
                row = decide_job(
                    job, inputs.get(job.patient_id), history.get(job.patient_id, ()), now
                )
                rows.append(row)
                if row["status"] == _QUEUED and job.purpose in _CAPPED_PURPOSES:
                    # Later jobs of this batch see this one in the patient's history.
                    history.setdefault(job.patient_id, []).append(
                        SentRecord(Channel(row["channel"]), job.purpose, row["scheduled_for"])
                    )
            result.jobs_created = job_repository.insert_jobs(connection, rows)
            for row in rows:
                result.by_status[row["status"]] += 1
                if row["suppression_reason"]:
                    result.suppressions[row["suppression_reason"]] += 1
            inbox.record_processed(connection, (p.event for p in plans), now)
        return result


def dlq_for_processing_failure(
    messages: Sequence[tuple[bytes | None, bytes]], error: Exception, now: datetime
) -> list[DlqEntry]:
    """When a whole batch keeps failing, each of its events goes to the DLQ with the error."""
    return [
        DlqEntry(
            source_topic=CORE_EVENTS,
            stage="orchestrator.batch",
            kind="processing",
            error=f"{type(error).__name__}: {error}"[:1000],
            failed_at=now,
            original=value.decode("utf-8", "replace")[:100_000],
            key=key.decode("utf-8", "replace") if key else None,
        )
        for key, value in messages
    ]
