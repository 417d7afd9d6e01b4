"""A scheduler and channel workers, in this process, driving jobs to the simulator under faults.

The real use cases (``DueJobDispatcher``, ``JobSender``, ``recover_stopped_work``,
``StatusIngestor``) run against MariaDB and the simulator through the real SDKs; only time is
compressed: the pipeline's clock is real time plus an offset that jumps ahead when nothing is
due, so a ten-minute outage passes in seconds. Provider-side time (breakers, the send ledger,
liveness) stays real, as providers see it.

A "worker" killed mid-batch is a ``JobSender`` whose channel raises ``WorkerKilled`` after the
provider took a message (as a SIGKILL would leave it: the provider has it, our books do not);
it never beats again, and a new worker takes over. A "scheduler" killed between claim and
publish claims and never publishes.
"""

from __future__ import annotations

import asyncio
import itertools
import time
import uuid
from collections import Counter
from collections.abc import Callable, Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
from sqlalchemy import Engine, select

from outreach.channels import ChannelWorker, OutboundMessage, SendReceipt
from outreach.delivery.circuit_breaker import BreakerSettings
from outreach.delivery.retry_policy import RetryPolicy
from outreach.events import SendRequest, StatusUpdate
from outreach.services.dispatch_due_jobs import DueJobDispatcher
from outreach.services.housekeeping import recover_stopped_work
from outreach.services.ingest_statuses import StatusIngestor
from outreach.services.send_jobs import DeliveryTuning, JobSender, ProviderBreakers
from outreach.services.template_versions import seed_shipped_templates
from outreach.sim.deployment import daytime_zone
from outreach.sim.provider.recorder import WebhookRecorder
from outreach.sim.provider.store import address_key
from outreach.sql.models import CommJob
from outreach.sql.store import Store
from outreach.wiring import message_builder
from tests.factories import consenting_prefs_row, insert_rows, job_row, patient_row

jobs = CommJob.__table__
# Every job ends in one of these: it left us, or it was stopped for a reason on record.
TERMINAL = {"sent", "delivered", "opened", "clicked", "failed", "bounced", "suppressed"}


class WorkerKilled(BaseException):
    """SIGKILL: nothing after it runs (not an ``Exception``: no handler catches it)."""


class PipelineClock:
    """Real time plus an offset the harness moves forward when nothing is due."""

    def __init__(self) -> None:
        self.offset = timedelta(0)

    def __call__(self) -> datetime:
        return datetime.now(UTC) + self.offset

    def advance(self, delta: timedelta) -> None:
        self.offset += delta


class MemoryLedger:
    """The send ledger, shared by every worker of the harness (Redis stands in production)."""

    shared = True

    def __init__(self) -> None:
        self.started: dict[tuple[int, int], datetime] = {}

    def mark_started(self, job_id: int, attempt: int, at: datetime) -> None:
        self.started[(job_id, attempt)] = at

    def started_at(self, sends: Sequence[tuple[int, int]]) -> dict[tuple[int, int], datetime]:
        return {send: self.started[send] for send in sends if send in self.started}


class CrashingChannel(ChannelWorker):
    """A channel that kills its worker right after the provider took the ``crash_after``-th
    message: the provider has it, the worker's books never will."""

    def __init__(self, inner: ChannelWorker, crash_after: int) -> None:
        self._inner = inner
        self._left = crash_after
        self.name = inner.name  # type: ignore[misc]
        self.provider = inner.provider  # type: ignore[misc]
        self.default_rate_per_sec = inner.default_rate_per_sec  # type: ignore[misc]
        self.finds_accepted = inner.finds_accepted  # type: ignore[misc]

    @classmethod
    def from_settings(cls, settings: Any) -> CrashingChannel:
        raise NotImplementedError

    @property
    def pacing_key(self) -> str:
        return self._inner.pacing_key

    def send(self, message: OutboundMessage) -> SendReceipt:
        receipt = self._inner.send(message)
        self._left -= 1
        if self._left == 0:
            raise WorkerKilled
        return receipt

    def find_accepted(self, message: OutboundMessage, since: datetime) -> SendReceipt | None:
        return self._inner.find_accepted(message, since)

    def verify(self, request: Any) -> None:
        self._inner.verify(request)

    def parse_status(self, request: Any) -> list:
        return self._inner.parse_status(request)

    def parse_inbound(self, request: Any) -> list:
        return self._inner.parse_inbound(request)


@dataclass
class Outage:
    start: timedelta  # after the run starts, in pipeline time
    length: timedelta
    channels: list[str] | None = None


@dataclass
class Harness:
    engine: Engine
    channels: Mapping[str, ChannelWorker]
    settings: Any
    sim: httpx.Client
    recorder: WebhookRecorder
    clock: PipelineClock = field(default_factory=PipelineClock)
    ledger: MemoryLedger = field(default_factory=MemoryLedger)
    tuning: DeliveryTuning = field(
        default_factory=lambda: DeliveryTuning(
            retry=RetryPolicy(
                base_delay=timedelta(seconds=2),
                max_delay=timedelta(seconds=60),
                max_retries=12,
                quick_retries=1,
                quick_delay=timedelta(milliseconds=5),
            ),
            reconcile_after=timedelta(seconds=1),
            recipient_backoff=timedelta(seconds=6),
        )
    )
    breaker: BreakerSettings = field(
        default_factory=lambda: BreakerSettings(
            window=timedelta(seconds=5),
            error_ratio=0.1,
            min_calls=8,
            open_for=timedelta(milliseconds=300),
            probes=2,
        )
    )
    dead_after: timedelta = timedelta(seconds=1)
    # Per job, the patient's address on each channel (every patient has their own).
    contacts: dict[int, dict[str, str]] = field(default_factory=dict)
    published: int = 0
    worker_generation: itertools.count = field(default_factory=itertools.count)
    # Each patient a number of their own (the simulator is fresh for each test).
    phone_numbers: itertools.count = field(default_factory=lambda: itertools.count(1000))

    def __post_init__(self) -> None:
        seed_shipped_templates(Store(self.engine))
        self.pool = ThreadPoolExecutor(8)
        self.builder = message_builder(self.settings, self.engine)
        self.store = Store(self.engine)
        self.breakers = ProviderBreakers(self.breaker)
        self.start = self.clock()
        self.worker = self.new_worker()

    # ---- the deployment ----

    def new_worker(self, channels: Mapping[str, ChannelWorker] | None = None) -> JobSender:
        self.worker_id = f"worker-{next(self.worker_generation)}"
        return JobSender(
            self.store,
            channels or self.channels,
            self.builder,
            pool=self.pool,
            clock=self.clock,
            process_id=self.worker_id,
            ledger=self.ledger,
            breakers=self.breakers,
            tuning=self.tuning,
            sleep=time.sleep,
        )

    def beat(self, process_id: str) -> None:
        with self.store.transaction() as repos:
            repos.heartbeats.beat(process_id, "test", datetime.now(UTC))

    def add_jobs(self, per_channel: Mapping[str, int], purpose: str = "appt_confirm") -> list[int]:
        """Consenting patients in a daytime zone, one due job each on the given channels."""
        now = self.clock()
        zone = daytime_zone(now)
        patients, prefs, rows, contacts = [], [], [], []
        for channel, count in per_channel.items():
            for _ in range(count):
                tag = uuid.uuid4().hex[:10]
                patient_id = f"h-{tag}"
                phone = f"+1212555{next(self.phone_numbers) % 10_000:04d}"
                email = f"{tag}@example.com"
                contacts.append({"sms": phone, "whatsapp": phone, "email": email, "rcs": phone})
                patients.append(patient_row(patient_id, org_id="org-h", first_name="Ana"))
                prefs.append(
                    consenting_prefs_row(
                        patient_id,
                        now,
                        phone=phone,
                        email=email,
                        whatsapp_opt_in=True,
                        # Mid-morning there whenever the suite runs: the legal window stays
                        # open through the run's compressed hours.
                        timezone=zone,
                        quiet_hours_start=None,
                    )
                )
                rows.append(
                    job_row(
                        f"h:{tag}",
                        patient_id,
                        now,
                        org_id="org-h",
                        purpose=purpose,
                        channel=channel,
                        language="en",
                        context={
                            "appointment_id": f"a-{tag}",
                            "appointment_starts_at": (now + timedelta(days=2)).isoformat(),
                        },
                    )
                )
        ids = insert_rows(self.engine, patients=patients, prefs=prefs, jobs=rows)
        self.contacts.update(zip(ids, contacts, strict=True))
        return ids

    # ---- one round ----

    def dispatch(self, *, scheduler: str = "scheduler-1", die_before_publish: bool = False):
        requests: list[SendRequest] = []

        async def publish(records: Sequence[tuple[str, bytes | None, bytes]]) -> None:
            if die_before_publish:
                raise WorkerKilled  # the scheduler dies between its claim and its publish
            requests.extend(SendRequest.model_validate_json(value) for _, _, value in records)

        dispatcher = DueJobDispatcher(self.store, publish, claimer=scheduler, clock=self.clock)
        try:
            asyncio.run(dispatcher.run_once())
        except WorkerKilled:
            return []
        self.published += len(requests)
        return requests

    def run(
        self,
        *,
        outages: Sequence[Outage] = (),
        until: timedelta = timedelta(hours=2),
        step: timedelta = timedelta(seconds=2),
        between_rounds: Callable[[Harness], None] | None = None,
        statuses: bool = False,
        real_limit_seconds: float = 120.0,
    ) -> Counter[str]:
        """Rounds until no job is queued or processing (or ``until`` in pipeline time)."""
        real_deadline = time.monotonic() + real_limit_seconds
        outage_on: Outage | None = None
        while True:
            elapsed = self.clock() - self.start
            current = next((o for o in outages if o.start <= elapsed < o.start + o.length), None)
            if current is not outage_on:
                self._set_outage(current)
                outage_on = current
            self.beat("scheduler-1")
            self.beat(self.worker_id)
            requests = self.dispatch()
            if requests:
                try:
                    self.worker.handle(requests)
                except WorkerKilled:
                    self.worker = self.new_worker()  # the old one never beats again
            recover_stopped_work(
                self.store,
                self.ledger,
                self.clock(),
                real_now=datetime.now(UTC),
                dead_after=self.dead_after,
                stale_after=timedelta(minutes=5),
            )
            if statuses:
                self.ingest_statuses()
            if between_rounds is not None:
                between_rounds(self)
            open_jobs = self.open_jobs()
            if not open_jobs and (not outages or outage_on is None):
                break
            if elapsed > until or time.monotonic() > real_deadline:
                break
            self.clock.advance(step)  # compressed time: pipeline seconds pass faster than real
            if not requests:
                time.sleep(0.02)
        self._set_outage(None)
        return self.statuses()

    def _set_outage(self, outage: Outage | None) -> None:
        if outage is None:
            self.sim.post("/_sim/config", json={"outage_seconds": 0}).raise_for_status()
        else:
            self.sim.post(
                "/_sim/config",
                json={"outage_seconds": 24 * 3600, "outage_channels": outage.channels},
            ).raise_for_status()

    def ingest_statuses(self) -> None:
        """The API's part: each webhook the simulator posted, verified and parsed, ingested."""
        webhooks = self.recorder.take()
        updates: list[StatusUpdate] = []
        by_path = {c.status_webhook_path: c for c in self.channels.values()}
        for webhook in webhooks:
            channel = by_path.get(webhook.route)
            if channel is None:
                continue
            request = webhook.webhook_request(self.recorder.base_url)
            channel.verify(request)
            updates += [
                StatusUpdate(
                    provider=s.provider,
                    provider_message_id=s.provider_message_id,
                    status=s.status,
                    occurred_at=s.occurred_at,
                    error_code=s.error_code,
                    job_id=s.job_id,
                    raw=s.raw,
                )
                for s in channel.parse_status(request)
            ]
        if updates:
            StatusIngestor(self.store, clock=self.clock).handle(updates)

    # ---- what happened ----

    def rows(self) -> dict[int, dict]:
        with self.engine.connect() as connection:
            found = connection.execute(
                select(jobs).where(jobs.c.id.in_(list(self.contacts)))
            ).mappings()
            return {row["id"]: dict(row) for row in found}

    def open_jobs(self) -> list[int]:
        return [i for i, r in self.rows().items() if r["status"] in ("queued", "processing")]

    def statuses(self) -> Counter[str]:
        return Counter(r["status"] for r in self.rows().values())

    def messages_by_address(self) -> Counter[tuple[str, str]]:
        """Messages the simulator took, by (channel, recipient)."""
        records = self.sim.get("/_sim/messages", params={"limit": 1_000_000}).json()
        return Counter((m["channel"], address_key(m["to"])) for m in records)

    def assert_exactly_once(self) -> None:
        """Every job in one terminal state; each job that left us is at the simulator exactly
        once, every other job not at all: nothing lost, nothing twice."""
        rows = self.rows()
        stuck = {i: r["status"] for i, r in rows.items() if r["status"] not in TERMINAL}
        assert stuck == {}, f"jobs not in a terminal state: {stuck}"
        at_sim = self.messages_by_address()
        wrong = {}
        for job_id, row in rows.items():
            expected = 1 if row["status"] not in ("failed", "suppressed") else 0
            seen = {
                channel: at_sim.get((channel, address_key(address)), 0)
                for channel, address in self.contacts[job_id].items()
            }
            if seen.get(row["channel"]) != expected or sum(seen.values()) != expected:
                wrong[job_id] = (row["status"], row["channel"], seen)
        assert wrong == {}, f"(status, channel, messages at the provider) per job: {wrong}"
