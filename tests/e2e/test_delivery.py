"""Issue 13, end to end through the processes: delivery on every channel, a plugin's included,
failures that arrive later, dead letters, and the worker, the scheduler and the API killed
mid-run. Duplicate checks wait a while after the expected count, so a late duplicate is caught.
"""

from __future__ import annotations

import json
import time
import uuid
from collections import Counter
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta

import httpx
import pytest

from outreach.dead_letters import DeadLetterSealer
from outreach.events import DlqEntry
from outreach.launcher import ChildProcess
from outreach.sql.models import CommJob
from outreach.topics import DLQ, OUTCOMES
from tests.e2e.pipeline import Pipeline, publish, read_topic, wait_until
from tests.e2e.test_pipeline import _seed_due_jobs
from tests.factories import booking_event, patient_event

pytestmark = pytest.mark.services


class Running:
    """A process a test may kill and replace: the fixture stops whichever runs at the end."""

    def __init__(self, child: ChildProcess) -> None:
        self.child = child


@pytest.fixture(scope="module")
def rcs_template(pipeline: Pipeline) -> int:
    """The clinic's confirmation on the plugin's channel, saved through the API like any other
    template (before the worker starts, so its catalog sees it at once)."""
    response = httpx.post(
        f"{pipeline.api_url}/api/v1/templates",
        json={
            "org_id": "org-e2e",
            "purpose": "appt_confirm",
            "channel": "rcs",
            "language": "en",
            "body": "Hi {{ first_name }}, your visit is booked. Reply C to confirm.",
            "declared_variables": ["first_name"],
            "activate": True,
        },
        headers=pipeline.api_headers(),
        timeout=10,
    )
    assert response.status_code == 201, response.text
    return response.json()["id"]


@pytest.fixture(scope="module")
def worker(pipeline: Pipeline, rcs_template: int) -> Iterator[ChildProcess]:
    """Everything but sending: sends go through ``sender``, which tests kill."""
    child = pipeline.start_worker("worker", roles="orchestrator,status,replies")
    yield child
    pipeline.group.stop(child)


@pytest.fixture(scope="module")
def sender(pipeline: Pipeline, rcs_template: int) -> Iterator[Running]:
    running = Running(pipeline.start_worker("sender-1", roles="channels"))
    yield running
    pipeline.group.stop(running.child)


@pytest.fixture(scope="module")
def scheduler(pipeline: Pipeline) -> Iterator[Running]:
    running = Running(pipeline.start_scheduler("scheduler-1"))
    yield running
    pipeline.group.stop(running.child)


def _job(pipeline: Pipeline, patient_id: str, purpose: str = "appt_confirm") -> dict:
    """The patient's first job of ``purpose`` (an empty dict until it is planned)."""
    return next((j for j in pipeline.jobs_for(patient_id) if j["purpose"] == purpose), {})


def _to(pipeline: Pipeline, addresses: set[str], **filters: str) -> list[dict]:
    found = pipeline.sim_messages(limit="100000", **filters)
    return [m for m in found if m["to"] in addresses]


def _exactly_once(pipeline: Pipeline, addresses: set[str], timeout: float, **filters: str):
    """Each address got its message, and a few seconds later still only one."""
    wait_until(
        lambda: len(_to(pipeline, addresses, **filters)) >= len(addresses),
        timeout,
        f"{len(addresses)} messages",
    )
    time.sleep(3)
    per_address = Counter(m["to"] for m in _to(pipeline, addresses, **filters))
    assert set(per_address) == addresses, "someone got nothing"
    assert set(per_address.values()) == {1}, "someone got two"


def _tagged_jobs(pipeline: Pipeline, tag: str) -> dict[str, dict]:
    jobs = CommJob.__table__
    with pipeline.engine.connect() as connection:
        rows = connection.execute(jobs.select().where(jobs.c.patient_id.like(f"{tag}-%")))
        return {str(row.id): dict(row._mapping) for row in rows}


def _each_job_sent_once(pipeline: Pipeline, tag: str, timeout: float) -> None:
    """Every job of ``tag`` is at the simulator exactly once (SMS records carry the job id),
    and still so a few seconds later: nothing lost, nothing twice."""
    jobs = _tagged_jobs(pipeline, tag)

    def sent() -> Counter[str]:
        return Counter(
            m["job_id"] for m in pipeline.sim_messages(limit="100000") if m["job_id"] in jobs
        )

    wait_until(lambda: len(sent()) >= len(jobs), timeout, f"{len(jobs)} jobs sent")
    time.sleep(3)
    per_job = sent()
    assert set(per_job) == set(jobs), "a job was lost"
    assert set(per_job.values()) == {1}, f"sent twice: {[j for j, n in per_job.items() if n > 1]}"


def test_a_plugin_channel_delivers_end_to_end(
    pipeline: Pipeline, worker, sender, scheduler
) -> None:
    """A channel registered by another distribution's entry point is chosen, sent by the worker
    through its own provider, and its signed status comes back through the API."""
    now = datetime.now(UTC)
    patient_id = f"rcs-{uuid.uuid4().hex[:8]}"
    phone = f"+1415556{uuid.uuid4().int % 10_000:04d}"
    publish(
        pipeline.kafka,
        [
            patient_event(
                patient_id, now, phone=phone, preferred_channel="rcs", allowed_channels=["rcs"]
            ),
            booking_event(patient_id, now, now + timedelta(days=3)),
        ],
    )
    wait_until(
        lambda: _job(pipeline, patient_id).get("status") == "delivered", 45, "delivered on rcs"
    )
    confirmation = _job(pipeline, patient_id)
    assert confirmation["channel"] == "rcs"
    [sent] = _to(pipeline, {phone}, channel="rcs")
    assert sent["job_id"] == str(confirmation["id"])
    assert sent["body"].startswith("Hi Ana, your visit is booked")


def test_email_and_whatsapp_deliver_end_to_end(
    pipeline: Pipeline, worker, sender, scheduler
) -> None:
    now = datetime.now(UTC)
    by_email, by_whatsapp = f"em-{uuid.uuid4().hex[:8]}", f"wa-{uuid.uuid4().hex[:8]}"
    phone = f"+1415557{uuid.uuid4().int % 10_000:04d}"
    publish(
        pipeline.kafka,
        [
            patient_event(by_email, now, phone=None, preferred_channel="email"),
            booking_event(by_email, now, now + timedelta(days=3)),
            patient_event(
                by_whatsapp,
                now,
                phone=phone,
                whatsapp=phone,
                whatsapp_opt_in=True,
                preferred_channel="whatsapp",
            ),
            booking_event(by_whatsapp, now, now + timedelta(days=3)),
        ],
    )
    for patient_id, channel in ((by_email, "email"), (by_whatsapp, "whatsapp")):
        wait_until(
            lambda p=patient_id: _job(pipeline, p).get("status") in ("delivered", "opened"),
            45,
            f"confirmation delivered by {channel}",
        )
        assert _job(pipeline, patient_id)["channel"] == channel
    _exactly_once(pipeline, {f"{by_email}@example.com"}, 10, channel="email")
    [mail] = _to(pipeline, {f"{by_email}@example.com"})
    assert "<p>" not in mail["body"] and mail["html"].startswith("<p>")  # a text and an HTML part
    _exactly_once(pipeline, {phone.lstrip("+")}, 10, channel="whatsapp")


def test_bounced_and_failed_reports_fall_back_then_fail_once(
    pipeline: Pipeline, worker, sender, scheduler
) -> None:
    """The e-mail bounces: the message falls back to SMS as a new job; SMS fails too: no
    channel remains, so the core platform hears ``comm.failed``, once."""
    pipeline.configure_sim(outcomes={"delivered": 0, "bounced": 1, "failed": 0, "undelivered": 0})
    try:
        now = datetime.now(UTC)
        patient_id = f"bo-{uuid.uuid4().hex[:8]}"
        phone = f"+1415558{uuid.uuid4().int % 10_000:04d}"
        publish(
            pipeline.kafka,
            [
                patient_event(patient_id, now, phone=phone, preferred_channel="email"),
                booking_event(patient_id, now, now + timedelta(days=3)),
            ],
        )

        def ended() -> list[dict]:
            jobs = [j for j in pipeline.jobs_for(patient_id) if j["purpose"] == "appt_confirm"]
            return jobs if len(jobs) == 2 and jobs[1]["status"] == "failed" else []

        first, second = wait_until(ended, 60, "bounced, fallen back, failed")
    finally:
        pipeline.configure_sim(outcomes={"delivered": 1, "bounced": 0})
    assert (first["channel"], first["status"]) == ("email", "bounced")
    assert (second["channel"], second["fallback_of"]) == ("sms", first["id"])

    def failures() -> list[dict]:
        outcomes = [json.loads(r.value) for r in read_topic(pipeline.kafka, OUTCOMES)]
        return [o for o in outcomes if o["type"] == "comm.failed" and o["patient_id"] == patient_id]

    wait_until(failures, 20, "comm.failed published")
    time.sleep(2)
    [failed] = failures()
    assert (failed["job_id"], failed["data"]["channel"]) == (second["id"], "sms")


def test_a_message_no_channel_takes_is_dead_lettered_without_personal_data(
    pipeline: Pipeline, worker, sender, scheduler
) -> None:
    now = datetime.now(UTC)
    tag = uuid.uuid4().hex[:8]
    patient_id = f"dl-{tag}"
    phone = f"+1415559{int(tag, 16) % 10_000:04d}"
    pipeline.configure_sim(forced_errors_by_address={phone: 21211})  # an invalid number
    try:
        publish(
            pipeline.kafka,
            [
                patient_event(patient_id, now, phone=phone, email=None, first_name=f"Zed{tag}"),
                booking_event(patient_id, now, now + timedelta(days=3)),
            ],
        )
        wait_until(lambda: _job(pipeline, patient_id).get("status") == "failed", 45, "failed")
    finally:
        pipeline.configure_sim(forced_errors_by_address={})
    job = _job(pipeline, patient_id)
    sealer = DeadLetterSealer(pipeline.env["OUTREACH_DEAD_LETTER_KEY"])

    def entries() -> list[DlqEntry]:
        found = [DlqEntry.model_validate_json(r.value) for r in read_topic(pipeline.kafka, DLQ)]
        return [e for e in found if e.key == patient_id]

    [entry] = wait_until(entries, 20, "the dead letter")
    assert (entry.stage, entry.kind, entry.source_topic) == (
        "channel.send",
        "send",
        "outreach.send.sms",
    )
    assert "21211" in entry.error
    published = entry.model_dump_json()
    assert phone.lstrip("+") not in published and f"Zed{tag}" not in published
    assert json.loads(sealer.open(entry)) == {"job_id": job["id"], "attempt": job["attempt"]}


def test_the_sender_killed_between_taking_a_batch_and_recording_it(
    pipeline: Pipeline, worker, sender, scheduler
) -> None:
    """SIGKILL while a batch is at the provider (slow, few threads): what the provider took is
    found there, what never started goes out at once; nothing twice, nothing lost."""
    pipeline.configure_sim(latency_ms=150)
    try:
        tag = f"wk-{uuid.uuid4().hex[:6]}"
        _seed_due_jobs(pipeline, 60, tag)
        jobs = _tagged_jobs(pipeline, tag)

        def sent() -> int:
            return sum(m["job_id"] in jobs for m in pipeline.sim_messages(limit="100000"))

        wait_until(lambda: sent() >= 8, 30, "a batch under way")
        pipeline.group.kill(sender.child)
        assert sent() < len(jobs)  # killed mid-run
        sender.child = pipeline.start_worker("sender-2", roles="channels")
        _each_job_sent_once(pipeline, tag, 90)
    finally:
        pipeline.configure_sim(latency_ms=0)


def test_a_scheduler_killed_between_claim_and_publish_loses_nothing(
    pipeline: Pipeline, worker, sender, scheduler
) -> None:
    """Jobs a scheduler claimed and never published (it died in between) go back to the queue
    at once, since that scheduler stopped beating; then a scheduler killed mid-run for real."""
    tag = f"sk-{uuid.uuid4().hex[:6]}"
    claimed = {
        "status": "processing",
        "attempt": 1,
        "claimed_by": "host:dead-scheduler",
        "claimed_at": datetime.now(UTC),
    }
    _seed_due_jobs(pipeline, 20, tag, **claimed)
    _each_job_sent_once(pipeline, tag, 30)

    tag = f"sk2-{uuid.uuid4().hex[:6]}"
    _seed_due_jobs(pipeline, 200, tag)
    wait_until(
        lambda: any(j["status"] != "queued" for j in _tagged_jobs(pipeline, tag).values()),
        30,
        "the scheduler at work",
    )
    pipeline.group.kill(scheduler.child)
    scheduler.child = pipeline.start_scheduler("scheduler-2")
    _each_job_sent_once(pipeline, tag, 90)


def test_the_api_killed_mid_run_loses_no_status(
    pipeline: Pipeline, worker, sender, scheduler
) -> None:
    """The API answers a webhook only once Kafka holds it; killed, its callbacks are retried by
    the provider until it is back: every message still ends delivered."""
    pipeline.configure_sim(callback_max_attempts=10, callback_retry_backoff_ms=500)
    api = next(c for c in pipeline.group.children if c.name == "api" and c.alive())
    try:
        tag = f"ak-{uuid.uuid4().hex[:6]}"
        _seed_due_jobs(pipeline, 30, tag)
        wait_until(
            lambda: any(j["status"] == "sent" for j in _tagged_jobs(pipeline, tag).values()),
            30,
            "sends under way",
        )
        pipeline.group.kill(api)
        time.sleep(2)
        port = pipeline.api_url.rsplit(":", 1)[1]
        pipeline.group.start("api", ["api", "--port", port], port=int(port))

        def delivered() -> bool:
            statuses = Counter(
                j["status"] for n in range(30) for j in pipeline.jobs_for(f"{tag}-{n}")
            )
            return statuses == {"delivered": 30}

        wait_until(delivered, 60, "every status after the API came back")
        _each_job_sent_once(pipeline, tag, 5)
    finally:
        pipeline.configure_sim(callback_max_attempts=3, callback_retry_backoff_ms=200)
