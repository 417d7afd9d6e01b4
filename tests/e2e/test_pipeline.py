"""Issue 3, end to end: a core event becomes exactly one message, and its status comes back.

Everything real: a Kafka producer publishes to tansu, the worker and scheduler processes run
against MariaDB and Redis, the channel workers reach the simulator through the Twilio, SendGrid
and heyoo SDKs, and the simulator's signed status callbacks reach the API.
"""

from __future__ import annotations

import json
import uuid
from collections import Counter
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from redis import Redis
from sqlalchemy import insert

from outreach.clock import SharedShiftedClock
from outreach.dead_letters import DeadLetterSealer
from outreach.domain import Channel
from outreach.events import DlqEntry
from outreach.sim.deployment import daytime_zone
from outreach.sql.models import CommJob, Patient, PatientCommPrefs
from outreach.topics import CORE_EVENTS, DLQ
from tests.e2e.pipeline import Pipeline, publish, read_topic, wait_until
from tests.factories import booking_event, opted_out_channels, patient_event

pytestmark = pytest.mark.services


@pytest.fixture(scope="module")
def worker(pipeline: Pipeline):
    child = pipeline.start_worker()
    yield child
    pipeline.group.stop(child)


@pytest.fixture(scope="module")
def scheduler(pipeline: Pipeline):
    child = pipeline.start_scheduler()
    yield child
    pipeline.group.stop(child)


def _statuses(pipeline: Pipeline, patient_id: str) -> Counter:
    return Counter(j["status"] for j in pipeline.jobs_for(patient_id))


def test_booking_becomes_confirmation_and_reminders_delivered(pipeline, worker, scheduler):
    now = datetime.now(UTC)
    patient_id = f"e2e-{uuid.uuid4().hex[:8]}"
    phone = "+14155550" + str(100 + int(uuid.uuid4().int % 800))
    publish(
        pipeline.kafka,
        [
            patient_event(patient_id, now, phone=phone),
            booking_event(patient_id, now, now + timedelta(hours=26)),
        ],
    )
    # The confirmation goes now; both reminders wait for their time.
    wait_until(
        lambda: _statuses(pipeline, patient_id)["delivered"] == 1, 30, "confirmation delivered"
    )
    jobs = pipeline.jobs_for(patient_id)
    assert [j["purpose"] for j in jobs] == ["appt_confirm", "appt_reminder", "appt_reminder"]
    assert [j["status"] for j in jobs[1:]] == ["queued", "queued"]

    # Move every process's clock past the reminders' send times.
    clock = SharedShiftedClock(
        Redis.from_url(pipeline.env["OUTREACH_REDIS_URL"], decode_responses=True),
        pipeline.env["OUTREACH_REDIS_KEY_PREFIX"] + "clock",
    )
    assert pipeline.env.get("OUTREACH_SHARED_CLOCK_KEY") == "clock"
    clock.set_offset(timedelta(hours=24, minutes=30))
    try:
        wait_until(
            lambda: _statuses(pipeline, patient_id)["delivered"] == 3,
            40,
            "both reminders delivered",
        )
    finally:
        clock.set_offset(timedelta(0))
    messages = pipeline.sim_messages(to=phone, channel="sms")
    assert len(messages) == 3  # exactly the expected messages, one per job
    sent_ids = {j["provider_message_id"] for j in pipeline.jobs_for(patient_id)}
    assert {m["id"] for m in messages} == sent_ids
    assert all("Ana" in m["body"] for m in messages)


def test_same_events_published_twice_send_once(pipeline, worker, scheduler):
    now = datetime.now(UTC)
    patient_id = f"e2e-{uuid.uuid4().hex[:8]}"
    phone = "+14155551" + str(100 + int(uuid.uuid4().int % 800))
    events = [
        patient_event(patient_id, now, phone=phone),
        booking_event(patient_id, now, now + timedelta(days=3)),
    ]
    publish(pipeline.kafka, events)
    publish(pipeline.kafka, events)  # a producer retry, or a replay of the topic
    wait_until(lambda: _statuses(pipeline, patient_id)["delivered"] == 1, 30, "delivered")
    wait_until(lambda: len(pipeline.sim_messages(to=phone)) >= 1, 10, "message recorded")
    assert len(pipeline.jobs_for(patient_id)) == 3
    assert len(pipeline.sim_messages(to=phone)) == 1


def test_malformed_events_are_dead_lettered_and_the_worker_goes_on(pipeline, worker, scheduler):
    """Two unreadable events ahead of a patient's good ones, on the same partition: each lands
    on outreach.dlq once, saying where it came from and why, and the good ones still go out."""
    now = datetime.now(UTC)
    tag = uuid.uuid4().hex[:8]
    patient_id = f"e2e-{tag}"
    # Personal data in both: it must reach nobody who reads the dead-letter topic.
    name, phone = f"Ana Canary{tag}", f"+1415{int(tag, 16) % 10_000_000:07d}"
    not_json = f"{{not json {tag}-a {name} {phone}".encode()
    incomplete = json.dumps(
        {
            "event_id": f"{tag}-b",
            "type": "patient.upserted",
            "patient_id": patient_id,
            "data": {"first_name": name, "phone": phone, "date_of_birth": "1961-02-03"},
        }
    ).encode()
    publish(pipeline.kafka, [not_json, incomplete], raw_key=patient_id.encode())
    publish(
        pipeline.kafka,
        [patient_event(patient_id, now), booking_event(patient_id, now, now + timedelta(days=2))],
    )
    wait_until(
        lambda: (
            _statuses(pipeline, patient_id)["sent"] + _statuses(pipeline, patient_id)["delivered"]
            >= 1
        ),
        30,
        "the good events still processed",
    )

    sealer = DeadLetterSealer(pipeline.env["OUTREACH_DEAD_LETTER_KEY"])
    records = []

    def opened(entry: DlqEntry) -> bytes:
        try:
            return sealer.open(entry)
        except ValueError:  # sealed by another module's deployment (the topic is shared)
            return b""

    def dead_letters(marker: str) -> list[DlqEntry]:
        records[:] = read_topic(pipeline.kafka, DLQ)
        entries = [DlqEntry.model_validate_json(record.value) for record in records]
        return [e for e in entries if marker.encode() in opened(e)]

    wait_until(lambda: dead_letters(f"{tag}-a") and dead_letters(f"{tag}-b"), 15, "dead letters")
    for marker in (f"{tag}-a", f"{tag}-b"):
        [entry] = dead_letters(marker)  # once each, not once per retry
        assert entry.source_topic == CORE_EVENTS
        assert entry.stage == "orchestrator.parse"
        assert entry.error.strip()  # a reason, not empty
    # Whoever reads the topic sees none of the personal data; the key holder gets it back whole.
    for record in records:
        assert not any(value.encode() in record.value for value in (name, phone, "1961-02-03"))
    assert sealer.open(dead_letters(f"{tag}-b")[0]) == incomplete
    assert worker.alive(), worker.log_tail()
    assert len(pipeline.jobs_for(patient_id)) == 3  # confirmation and two reminders, once


def test_integer_ids_from_the_core_platform_become_jobs(pipeline, worker):
    """Issue 9: a core platform that numbers its orgs, patients and appointments is understood."""
    now = datetime.now(UTC)
    patient_number = 10**12 + uuid.uuid4().int % 10**12
    appointment_number = patient_number + 1
    numbered = {"org_id": 42, "patient_id": patient_number}
    booking = booking_event(str(patient_number), now, now + timedelta(days=2)) | numbered
    booking["data"] |= {"appointment_id": appointment_number}
    publish(pipeline.kafka, [patient_event(str(patient_number), now) | numbered, booking])

    jobs = wait_until(lambda: pipeline.jobs_for(str(patient_number)), 30, "the booking's jobs")
    assert [j["purpose"] for j in jobs] == ["appt_confirm", "appt_reminder", "appt_reminder"]
    assert {(j["org_id"], j["appointment_id"]) for j in jobs} == {("42", str(appointment_number))}


def _seed_due_jobs(pipeline: Pipeline, count: int, tag: str, **job_fields: Any) -> list[str]:
    """Patients with consent and due queued SMS jobs (unless ``job_fields`` say otherwise),
    written straight to the database."""
    now = datetime.now(UTC)
    zone = daytime_zone(now)
    patients, prefs, jobs = [], [], []
    phones = []
    for n in range(count):
        patient_id = f"{tag}-{n}"
        phone = f"+1415556{n:04d}"
        phones.append(phone)
        patients.append({"id": patient_id, "org_id": "org-e2e", "first_name": "Bo"})
        prefs.append(
            {
                "patient_id": patient_id,
                "phone": phone,
                "timezone": zone,
                "contact_consent": True,
                "consent_granted_at": now - timedelta(days=1),
                "consent_expires_at": now + timedelta(days=700),
                "marketing_opt_in_email": False,
                "marketing_opt_in_sms": False,
                "marketing_opt_in_whatsapp": False,
                "whatsapp_opt_in": False,
            }
        )
        jobs.append(
            {
                "idempotency_key": f"{tag}:{n}",
                "org_id": "org-e2e",
                "patient_id": patient_id,
                "purpose": "rx_refill",
                "channel": "sms",
                "status": "queued",
                "requested_at": now,
                "scheduled_for": now,
                "deadline": now + timedelta(days=2),
                "attempt": 0,
                "context": {},
                "language": "en",
                **job_fields,
            }
        )
    with pipeline.engine.begin() as connection:
        connection.execute(insert(Patient.__table__), patients)
        connection.execute(insert(PatientCommPrefs.__table__), prefs)
        connection.execute(insert(CommJob.__table__), jobs)
    return phones


def test_two_schedulers_send_each_job_once(pipeline, worker, scheduler):
    second = pipeline.start_scheduler("scheduler-2")
    try:
        tag = f"two-{uuid.uuid4().hex[:6]}"
        phones = set(_seed_due_jobs(pipeline, 600, tag))

        def sent_to_tag() -> list[dict]:
            return [
                m for m in pipeline.sim_messages(channel="sms", limit="100000") if m["to"] in phones
            ]

        wait_until(lambda: len(sent_to_tag()) >= 600, 90, "600 messages")
        messages = sent_to_tag()
        assert len(messages) == 600
        assert len({m["to"] for m in messages}) == 600  # nobody got two
    finally:
        pipeline.group.stop(second)


def _inbound(pipeline: Pipeline, phone: str, body: str) -> None:
    import httpx

    httpx.post(
        f"{pipeline.sim_url}/_sim/inbound",
        json={"channel": "sms", "from": phone, "to": "+15005550006", "body": body},
        timeout=10,
    ).raise_for_status()


def _opted_out_sms(pipeline: Pipeline, patient_id: str) -> bool:
    return Channel.SMS in opted_out_channels(pipeline.engine, patient_id)


def test_patient_replies_through_the_provider_webhook(pipeline, worker, scheduler):
    """Issue 6 end to end: simulator -> signed Twilio inbound webhook -> API -> Kafka -> replies."""
    import time

    from sqlalchemy import select

    from outreach.sql.models import CommInbound

    now = datetime.now(UTC)
    patient_id = f"e2e-{uuid.uuid4().hex[:8]}"
    phone = "+14155552" + str(100 + int(uuid.uuid4().int % 800))
    publish(
        pipeline.kafka,
        [
            patient_event(patient_id, now, phone=phone),
            booking_event(patient_id, now, now + timedelta(days=3)),
        ],
    )
    wait_until(lambda: _statuses(pipeline, patient_id)["delivered"] == 1, 30, "confirmation")

    started = time.monotonic()
    _inbound(pipeline, phone, "Yes I'll be there")
    wait_until(lambda: _statuses(pipeline, patient_id)["replied"] == 1, 15, "job replied")
    confirm_latency = time.monotonic() - started
    assert pipeline.jobs_for(patient_id)[0]["purpose"] == "appt_confirm"

    outbound_before = len(pipeline.sim_messages(to=phone))
    _inbound(pipeline, phone, "STOP")
    wait_until(lambda: _opted_out_sms(pipeline, patient_id), 15, "opted out")
    _inbound(pipeline, phone, "stop")  # a second STOP: no second confirmation
    wait_until(
        lambda: _statuses(pipeline, patient_id)["cancelled"] == 2, 15, "queued reminders cancelled"
    )
    time.sleep(1.5)
    confirmations = pipeline.sim_messages(to=phone)[outbound_before:]
    assert len(confirmations) == 1  # exactly one opt-out confirmation

    _inbound(pipeline, phone, "START")
    wait_until(lambda: not _opted_out_sms(pipeline, patient_id), 15, "opted back in")

    stranger = "+14155553" + str(100 + int(uuid.uuid4().int % 800))
    _inbound(pipeline, stranger, "who is this?")
    inbound = CommInbound.__table__

    def stranger_stored() -> list:
        with pipeline.engine.connect() as connection:
            return connection.execute(
                select(inbound.c.patient_id, inbound.c.intent).where(
                    inbound.c.from_address == stranger
                )
            ).all()

    rows = wait_until(stranger_stored, 15, "unknown sender stored")
    assert rows[0].patient_id is None
    # Shown with `pytest -s`: the issue asks for under a second from webhook to action.
    print(f"confirm reply acted on {confirm_latency * 1000:.0f} ms after the webhook")  # noqa: T201
