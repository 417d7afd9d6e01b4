"""The channel worker's loop body: send requests -> rendered messages -> provider -> bookkeeping.

Per batch: one transaction takes the sends (so a redelivered request sends nothing), consent is
checked one last time, messages go out concurrently on a thread pool (the SDKs block), and one
transaction records the results. Retries follow ``scheduler.retry_policy``; a permanent provider
error marks the channel failed for the patient and falls back to the next allowed channel.
"""

from __future__ import annotations

import logging
from collections import Counter
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import Engine, select, update

from outreach.channels.base import ChannelWorker, PermanentSendError, SendError, SendReceipt
from outreach.channels.message_builder import MessageBuilder, MessageBuildError, OrgInfo
from outreach.domain import Channel, JobStatus, Purpose, SuppressionReason
from outreach.events import DlqEntry, Outcome, SendRequest
from outreach.preferences import Suppressed, choose_channel, recheck_at_send_time
from outreach.scheduler.retry_policy import compute_backoff, should_retry
from outreach.sql import job_repository, patient_repository
from outreach.sql.models import OrgCommPrefs, PatientCommPrefs

logger = logging.getLogger(__name__)

org_prefs = OrgCommPrefs.__table__
patient_prefs = PatientCommPrefs.__table__


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
    outcomes: list[Outcome] = field(default_factory=list)
    dead_letters: list[DlqEntry] = field(default_factory=list)


def load_orgs(connection: Any, org_ids: set[str]) -> dict[str, OrgInfo]:
    if not org_ids:
        return {}
    rows = connection.execute(select(org_prefs).where(org_prefs.c.org_id.in_(org_ids)))
    return {
        row.org_id: OrgInfo(row.org_id, row.name, row.clinic_phone, row.booking_url, row.language)
        for row in rows
    }


class SendBatchHandler:
    def __init__(
        self,
        engine: Engine,
        channels: dict[str, ChannelWorker],
        builder: MessageBuilder,
        *,
        pool: ThreadPoolExecutor,
        clock: Callable[[], datetime] = lambda: datetime.now(UTC),
    ) -> None:
        self.engine = engine
        self.channels = channels
        self.builder = builder
        self.pool = pool
        self.clock = clock

    def handle(self, requests: Sequence[SendRequest]) -> SendBatchResult:
        now = self.clock()
        result = SendBatchResult(requested=len(requests))
        with self.engine.begin() as connection:
            owned = job_repository.take_sends(connection, [(r.job_id, r.attempt) for r in requests])
            jobs = job_repository.load_jobs(connection, owned)
            patients = patient_repository.load_decision_inputs(
                connection, (j["patient_id"] for j in jobs.values())
            )
            orgs = load_orgs(connection, {j["org_id"] for j in jobs.values()})
            whatsapp_windows = (
                dict(
                    connection.execute(
                        select(
                            patient_prefs.c.patient_id, patient_prefs.c.last_inbound_whatsapp_at
                        ).where(
                            patient_prefs.c.patient_id.in_([j["patient_id"] for j in jobs.values()])
                        )
                    ).all()
                )
                if jobs
                else {}
            )
        result.taken = len(jobs)

        to_send: list[tuple[dict[str, Any], Any, int | None]] = []
        finals: list[tuple[dict[str, Any], str, Any]] = []  # (job, action, detail)
        for job in jobs.values():
            patient = patients.get(job["patient_id"])
            channel = Channel(job["channel"])
            purpose = Purpose(job["purpose"])
            refusal = (
                recheck_at_send_time(purpose, channel, patient.consent, now)
                if patient
                else SuppressionReason.NO_CONSENT
            )
            if refusal is not None:
                finals.append((job, "suppress", refusal))
                continue
            if channel.value not in self.channels:
                finals.append((job, "retry", f"channel {channel.value} not served here"))
                continue
            try:
                message, template_id = self.builder.build(
                    job,
                    patient,
                    orgs.get(job["org_id"]),
                    now,
                    last_inbound_whatsapp_at=whatsapp_windows.get(job["patient_id"]),
                )
            except MessageBuildError as error:
                finals.append((job, "fail", str(error)))
                continue
            to_send.append((job, message, template_id))

        futures = [
            (job, template_id, self.pool.submit(self.channels[job["channel"]].send, message))
            for job, message, template_id in to_send
        ]
        sent: list[dict[str, Any]] = []
        for job, template_id, future in futures:
            try:
                receipt: SendReceipt = future.result()
            except SendError as error:
                action = "permanent" if isinstance(error, PermanentSendError) else "retry"
                finals.append((job, action, error))
                continue
            except Exception as error:  # an SDK bug or network oddity: treat as transient
                logger.warning("job %s: unexpected send error %s", job["id"], type(error).__name__)
                finals.append((job, "retry", error))
                continue
            sent.append(
                {
                    "job_id": job["id"],
                    "provider_message_id": receipt.provider_message_id,
                    "template_id": template_id,
                }
            )

        done = self.clock()
        with self.engine.begin() as connection:
            job_repository.mark_sent(connection, sent, done)
            result.sent = len(sent)
            for job, action, detail in finals:
                self._finish(connection, job, action, detail, patients, done, result)
        return result

    def _finish(
        self,
        connection: Any,
        job: dict[str, Any],
        action: str,
        detail: Any,
        patients: dict[str, patient_repository.PatientDecisionInputs],
        now: datetime,
        result: SendBatchResult,
    ) -> None:
        job_id = job["id"]
        if action == "suppress":
            if job_repository.end_job(
                connection,
                job_id,
                JobStatus.SUPPRESSED,
                now,
                reason=SuppressionReason(detail).value,
            ):
                result.suppressed += 1
                result.suppressions[SuppressionReason(detail).value] += 1
            return
        error_text = _error_text(detail)
        if action == "retry":
            if should_retry(job["attempt"]):
                run_at = now + compute_backoff(job["attempt"])
                if job_repository.retry_later(connection, job_id, run_at, error_text, now):
                    result.retried += 1
                return
            self._fail(
                connection,
                job,
                f"gave up after {job['attempt']} attempts: {error_text}",
                now,
                result,
            )
            return
        if action == "permanent":
            channel = Channel(job["channel"])
            _mark_channel_failed(connection, job["patient_id"], channel)
            patient = patients.get(job["patient_id"])
            if patient is not None:
                failed = patient.failed_channels | {channel}
                choice = choose_channel(
                    Purpose(job["purpose"]), patient.prefs, patient.consent, now, failed
                )
                if not isinstance(choice, Suppressed):
                    fallback, _address = choice
                    if job_repository.retry_later(
                        connection, job_id, now, error_text, now, channel=fallback
                    ):
                        result.fell_back += 1
                        return
            self._fail(connection, job, error_text, now, result)
            return
        self._fail(connection, job, error_text, now, result)

    def _fail(
        self,
        connection: Any,
        job: dict[str, Any],
        error: str,
        now: datetime,
        result: SendBatchResult,
    ) -> None:
        if not job_repository.end_job(connection, job["id"], JobStatus.FAILED, now, error=error):
            return
        result.failed += 1
        result.outcomes.append(
            Outcome(
                type="comm.failed",
                occurred_at=now,
                patient_id=job["patient_id"],
                org_id=job["org_id"],
                appointment_id=job.get("appointment_id"),
                job_id=job["id"],
                data={"purpose": job["purpose"], "channel": job["channel"], "error": error[:300]},
            )
        )
        result.dead_letters.append(
            DlqEntry(
                source_topic=f"outreach.send.{job['channel']}",
                stage="channel.send",
                kind="send",
                error=error[:1000],
                failed_at=now,
                original=SendRequest(job_id=job["id"], attempt=job["attempt"]).model_dump_json(),
                key=job["patient_id"],
            )
        )


def _error_text(detail: Any) -> str:
    if isinstance(detail, SendError):
        return f"{type(detail).__name__} {detail.provider_code}"
    if isinstance(detail, Exception):
        return type(detail).__name__
    return str(detail)


def _mark_channel_failed(connection: Any, patient_id: str, channel: Channel) -> None:
    """Remember a permanently failed address so the next decision skips that channel."""
    row = connection.execute(
        select(patient_prefs.c.failed_channels).where(patient_prefs.c.patient_id == patient_id)
    ).first()
    if row is None:
        return
    failed = set(row.failed_channels or [])
    if channel.value not in failed:
        failed.add(channel.value)
        connection.execute(
            update(patient_prefs)
            .where(patient_prefs.c.patient_id == patient_id)
            .values(failed_channels=sorted(failed))
        )
