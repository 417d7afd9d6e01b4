"""The channel worker's batch: render, send through the real SDK to the simulator, record;
retries, fallback after a permanent failure, and the send-time PHI guard."""

from __future__ import annotations

import time
import uuid
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import Engine, insert, select

from outreach.channels import load_channels
from outreach.channels.breaker_board import RedisBreakerBoard
from outreach.delivery.circuit_breaker import BreakerSettings
from outreach.delivery.retry_policy import RetryPolicy
from outreach.domain import Channel
from outreach.events import SendRequest
from outreach.redis_store import KeySpace, connect_redis
from outreach.services.send_jobs import DeliveryTuning, JobSender, ProviderBreakers
from outreach.services.template_versions import seed_shipped_templates
from outreach.sim.deployment import daytime_zone
from outreach.sql.models import CommAuditLog, CommJob, OrgCommPrefs, PatientCommPrefs
from outreach.sql.store import Store
from outreach.sql.template_repository import family_key
from outreach.wiring import message_builder
from tests.factories import (
    consenting_prefs_row,
    insert_rows,
    job_row,
    opt_out,
    opted_out_channels,
    patient_row,
)

NOW = datetime.now(UTC)
jobs = CommJob.__table__
# What an appointment's messages need to render.
APPOINTMENT = {
    "appointment_id": "a1",
    "appointment_starts_at": (NOW + timedelta(days=2)).isoformat(),
}


@pytest.fixture
def seeded(isolated_mariadb: Engine) -> Engine:
    """A database of the test's own with the shipped templates: the worker's claims and the
    assertions on them see only this test's jobs."""
    seed_shipped_templates(Store(isolated_mariadb))
    return isolated_mariadb


TUNING = DeliveryTuning(
    retry=RetryPolicy(
        base_delay=timedelta(seconds=1), quick_retries=1, quick_delay=timedelta(milliseconds=10)
    ),
    reconcile_after=timedelta(seconds=0.5),
)


@pytest.fixture
def handler(seeded: Engine, channels, settings) -> JobSender:
    pool = ThreadPoolExecutor(8)
    yield JobSender(
        Store(seeded),
        channels,
        message_builder(settings, seeded),
        pool=pool,
        clock=lambda: NOW,
        tuning=TUNING,
    )
    pool.shutdown()


def claimed_job(
    engine: Engine,
    *,
    org_id: str = "org-send",
    purpose: str = "lab_ready",
    channel: str = "sms",
    email: str | None = None,
    context: dict | None = None,
    timezone: str | None = None,
    **prefs: object,
) -> tuple[int, str, str]:
    """One consenting patient's job, claimed by the scheduler as attempt 1; the patient lives
    where it is mid-morning now, unless ``timezone`` says otherwise."""
    tag = uuid.uuid4().hex[:8]
    patient_id = f"w-{tag}"
    phone = f"+1212555{int(tag, 16) % 10000:04d}"
    [job_id] = insert_rows(
        engine,
        patients=[patient_row(patient_id, org_id=org_id, first_name="Ana")],
        prefs=[
            consenting_prefs_row(
                patient_id,
                NOW,
                phone=phone,
                email=email,
                timezone=timezone or daytime_zone(NOW),
                **prefs,
            )
        ],
        jobs=[
            job_row(
                patient_id,
                patient_id,
                NOW,
                org_id=org_id,
                purpose=purpose,
                channel=channel,
                language="en",
                context=context or {"result_id": "r1", "lab_test_name": "HIV test"},
            )
        ],
    )
    with Store(engine).transaction() as repos:
        [claimed] = repos.jobs.claim_due(NOW, 10_000, "t")
    assert (claimed.job_id, claimed.attempt) == (job_id, 1)
    return job_id, phone, patient_id


def row(engine: Engine, job_id: int) -> dict:
    with engine.connect() as connection:
        return dict(connection.execute(select(jobs).where(jobs.c.id == job_id)).mappings().one())


def test_a_job_is_rendered_sent_and_recorded_once(seeded, handler, sim_client) -> None:
    job_id, phone, _ = claimed_job(seeded)
    result = handler.handle([SendRequest(job_id=job_id, attempt=1)])
    again = handler.handle([SendRequest(job_id=job_id, attempt=1)])  # Kafka redelivery
    assert (result.sent, again.taken) == (1, 0)
    job = row(seeded, job_id)
    assert job["status"] == "sent" and job["provider_message_id"].startswith("SM")
    assert job["template_id"] is not None  # the version it rendered is on record
    messages = sim_client.get("/_sim/messages", params={"to": phone}).json()
    assert len(messages) == 1
    assert "HIV" not in messages[0]["body"] and "portal" in messages[0]["body"].lower()
    with seeded.connect() as connection:
        [audit] = connection.execute(
            select(CommAuditLog).where(CommAuditLog.action == "message_sent")
        ).all()
    assert (audit.actor, audit.patient_id, audit.org_id) == (
        "system:channels",
        job["patient_id"],
        job["org_id"],
    )
    assert audit.detail["job_id"] == job_id and phone not in str(audit.detail)


def test_a_transient_error_is_retried_in_the_thread_then_later(seeded, handler, sim_client) -> None:
    job_id, phone, _ = claimed_job(seeded)
    sim_client.post("/_sim/config", json={"forced_errors_by_address": {phone: 20429}})
    result = handler.handle([SendRequest(job_id=job_id, attempt=1)])
    job = row(seeded, job_id)
    assert result.retried == 1 and (job["status"], job["retries"]) == ("queued", 1)
    assert NOW + timedelta(seconds=0.4) < job["scheduled_for"] <= NOW + timedelta(seconds=1)
    stats = sim_client.get("/_sim/stats").json()["counters"]
    assert stats["rejected.sms.20429"] == 2  # the first try and one quick retry


def test_a_permanent_error_falls_back_to_the_next_channel(seeded, handler, sim_client) -> None:
    job_id, phone, patient_id = claimed_job(seeded, email="ana@example.com")
    sim_client.post("/_sim/config", json={"forced_errors_by_address": {phone: 21211}})
    result = handler.handle([SendRequest(job_id=job_id, attempt=1)])
    job = row(seeded, job_id)
    assert result.fell_back == 1 and (job["status"], job["channel"]) == ("queued", "email")
    prefs = PatientCommPrefs.__table__
    with seeded.connect() as connection:
        failed = connection.execute(
            select(prefs.c.failed_channels).where(prefs.c.patient_id == patient_id)
        ).scalar_one()
    assert failed == ["sms"]  # skipped next time


def test_a_phi_template_inserted_straight_into_the_database_sends_nothing(
    seeded, handler, sim_client
) -> None:
    """Defence in depth: save-time validation bypassed, the renderer still refuses."""
    from outreach.sql.models import CommTemplate

    org_id = f"org-{uuid.uuid4().hex[:6]}"
    with seeded.begin() as connection:
        connection.execute(insert(OrgCommPrefs.__table__).values(org_id=org_id, name="Clinic"))
        connection.execute(
            insert(CommTemplate.__table__).values(
                family_key=family_key(org_id, None, "lab_ready", "sms", "en", "A"),
                org_id=org_id,
                purpose="lab_ready",
                channel="sms",
                language="en",
                variant="A",
                version=1,
                body="Your {{ lab_test_name }} result is in: {{ portal_link }}",
                declared_variables=["lab_test_name", "portal_link"],
                is_active=True,
            )
        )
    job_id, phone, _ = claimed_job(seeded, org_id=org_id)
    result = handler.handle([SendRequest(job_id=job_id, attempt=1)])
    job = row(seeded, job_id)
    assert result.failed == 1 and job["status"] == "failed"
    assert "lab_test_name" in job["last_error"]
    assert sim_client.get("/_sim/messages", params={"to": phone}).json() == []


# ---- issue 13: consent and the window at the moment of sending ----


def sim_messages(sim_client, **params) -> list[dict]:
    return sim_client.get("/_sim/messages", params=params).json()


def sender_with(seeded, channels, settings, **options) -> JobSender:
    """A JobSender like ``handler`` with other options (clock, breakers, tuning...)."""
    values = {"pool": ThreadPoolExecutor(4), "clock": lambda: NOW, "tuning": TUNING, **options}
    return JobSender(Store(seeded), channels, message_builder(settings, seeded), **values)


def reclaim(engine: Engine, at: datetime) -> int:
    """The scheduler claims the job again (its next attempt); returns that attempt."""
    with Store(engine).transaction() as repos:
        [claimed] = repos.jobs.claim_due(at, 10_000, "t")
    return claimed.attempt


def test_a_stop_between_the_claim_and_the_send_sends_nothing(seeded, handler, sim_client) -> None:
    """The scheduler claimed the job, then the patient texted STOP: the channel worker's own
    consent check catches it."""
    job_id, phone, patient_id = claimed_job(seeded, email="ana@example.com")
    opt_out(seeded, patient_id, Channel.SMS)

    result = handler.handle([SendRequest(job_id=job_id, attempt=1)])

    job = row(seeded, job_id)
    assert (job["status"], job["suppression_reason"]) == ("suppressed", "opted_out")
    assert result.suppressions == {"opted_out": 1}
    assert sim_messages(sim_client, to=phone) == []


def test_a_job_whose_window_closed_while_it_waited_is_replanned_not_sent_at_night(
    seeded, channels, settings, sim_client
) -> None:
    """Planned for 20:55 in New York, held until 21:30 by a backlog: it waits for 08:00."""
    job_id, phone, _ = claimed_job(
        seeded, purpose="appt_reminder", timezone="America/New_York", context=APPOINTMENT
    )
    night = datetime(2026, 12, 2, 2, 30, tzinfo=UTC)  # 21:30 in New York
    sender = sender_with(seeded, channels, settings, clock=lambda: night)

    result = sender.handle([SendRequest(job_id=job_id, attempt=1)])

    job = row(seeded, job_id)
    assert result.waited == 1 and job["status"] == "queued"
    assert job["scheduled_for"] == datetime(2026, 12, 2, 13, 0, tzinfo=UTC)  # 08:00 there
    assert job["retries"] == 0  # a wait, not a failure
    assert sim_messages(sim_client, to=phone) == []


def test_a_job_past_its_deadline_is_suppressed_with_the_reason(seeded, handler, sim_client) -> None:
    job_id, phone, _ = claimed_job(seeded, purpose="appt_reminder", context=APPOINTMENT)
    with seeded.begin() as connection:
        connection.execute(
            jobs.update().where(jobs.c.id == job_id).values(deadline=NOW - timedelta(minutes=1))
        )
    handler.handle([SendRequest(job_id=job_id, attempt=1)])
    job = row(seeded, job_id)
    assert (job["status"], job["suppression_reason"]) == ("suppressed", "deadline_passed")
    assert sim_messages(sim_client, to=phone) == []


# ---- nothing lost, nothing twice ----


def test_a_timeout_is_reconciled_with_the_provider_not_sent_twice(
    seeded, settings, sim_client
) -> None:
    """The provider took the message but answered after our timeout: the next attempt finds it
    in Twilio's message list and records it, sending nothing."""
    impatient = settings.model_copy(update={"provider_timeout_seconds": 0.3})
    sms = load_channels(impatient, names=["sms"])
    job_id, phone, _ = claimed_job(seeded)
    sim_client.post("/_sim/config", json={"latency_spike_rate": 1.0, "latency_spike_ms": 800})
    sender = sender_with(seeded, sms, impatient, real_clock=lambda: datetime.now(UTC))

    first = sender.handle([SendRequest(job_id=job_id, attempt=1)])

    job = row(seeded, job_id)
    assert first.retried == 1 and job["status"] == "queued"
    assert job["unconfirmed_since"] is not None
    deadline = time.monotonic() + 5
    while not sim_messages(sim_client, to=phone) and time.monotonic() < deadline:
        time.sleep(0.05)  # the provider finishes taking it after we gave up
    sim_client.post("/_sim/config", json={"latency_spike_rate": 0.0})
    time.sleep(TUNING.reconcile_after.total_seconds())  # asked once its record can show it
    attempt = reclaim(seeded, job["scheduled_for"])

    second = sender.handle([SendRequest(job_id=job_id, attempt=attempt)])

    job = row(seeded, job_id)
    [message] = sim_messages(sim_client, to=phone)
    assert (second.sent, second.found_at_provider) == (0, 1)
    assert (job["status"], job["provider_message_id"]) == ("sent", message["id"])
    assert job["unconfirmed_since"] is None


def test_a_5xx_that_left_no_trace_is_sent_again_once(seeded, handler, sim_client) -> None:
    job_id, phone, _ = claimed_job(seeded)
    sim_client.post("/_sim/config", json={"forced_errors_by_address": {phone: 20500}})
    handler.handle([SendRequest(job_id=job_id, attempt=1)])
    job = row(seeded, job_id)
    assert job["status"] == "queued" and job["unconfirmed_since"] is not None
    stats = sim_client.get("/_sim/stats").json()["counters"]
    assert stats["rejected.sms.20500"] == 1  # never retried blindly in the thread
    sim_client.post("/_sim/config", json={"forced_errors_by_address": {}})
    time.sleep(TUNING.reconcile_after.total_seconds())  # asked once its record can show it

    again = handler.handle(
        [SendRequest(job_id=job_id, attempt=reclaim(seeded, NOW + timedelta(hours=1)))]
    )

    assert again.sent == 1 and row(seeded, job_id)["status"] == "sent"
    assert len(sim_messages(sim_client, to=phone)) == 1


def test_a_whatsapp_send_is_reconciled_by_the_statuses_it_reported(
    seeded, channels, settings, sim_client
) -> None:
    """WhatsApp has no lookup: an unconfirmed send counts as sent when the Cloud API reported
    a status for the same recipient after it started; with none, it waits for them, then goes."""
    from outreach.sql.models import CommStatusEvent

    job_id, phone, _ = claimed_job(
        seeded,
        channel="whatsapp",
        purpose="appt_confirm",
        whatsapp_opt_in=True,
        context=APPOINTMENT,
    )
    started = datetime.now(UTC) - timedelta(seconds=5)
    with seeded.begin() as connection:
        connection.execute(
            jobs.update().where(jobs.c.id == job_id).values(unconfirmed_since=started)
        )
    patient = DeliveryTuning(reconcile_after=timedelta(seconds=30))
    sender = sender_with(seeded, channels, settings, tuning=patient)

    waiting = sender.handle([SendRequest(job_id=job_id, attempt=1)])
    assert waiting.waited == 1 and sim_messages(sim_client, to=phone) == []

    with seeded.begin() as connection:
        connection.execute(
            insert(CommStatusEvent.__table__).values(
                provider="whatsapp",
                provider_message_id="wamid.seen-before",
                status="sent",
                occurred_at=started + timedelta(seconds=1),
                received_at=started + timedelta(seconds=2),
                raw={"id": "wamid.seen-before", "recipient_id": phone.lstrip("+")},
            )
        )
    found = sender.handle(
        [SendRequest(job_id=job_id, attempt=reclaim(seeded, NOW + timedelta(hours=1)))]
    )

    job = row(seeded, job_id)
    assert found.found_at_provider == 1
    assert (job["status"], job["provider_message_id"]) == ("sent", "wamid.seen-before")
    assert sim_messages(sim_client, to=phone) == []


# ---- what the provider said ----


def test_a_carrier_opt_out_is_recorded_and_the_job_falls_back(seeded, handler, sim_client) -> None:
    job_id, phone, patient_id = claimed_job(seeded, email="ana@example.com")
    sim_client.post("/_sim/config", json={"forced_errors_by_address": {phone: 21610}})
    result = handler.handle([SendRequest(job_id=job_id, attempt=1)])
    job = row(seeded, job_id)
    assert result.fell_back == 1 and (job["status"], job["channel"]) == ("queued", "email")
    assert opted_out_channels(seeded, patient_id) == {Channel.SMS}


def test_whatsapp_not_a_user_falls_back_to_sms(seeded, handler, sim_client) -> None:
    job_id, phone, patient_id = claimed_job(
        seeded,
        channel="whatsapp",
        purpose="appt_confirm",
        whatsapp_opt_in=True,
        context=APPOINTMENT,
    )
    sim_client.post("/_sim/config", json={"forced_errors_by_address": {phone: 131026}})
    result = handler.handle([SendRequest(job_id=job_id, attempt=1)])
    job = row(seeded, job_id)
    assert result.fell_back == 1 and (job["status"], job["channel"]) == ("queued", "sms")


def test_when_retries_run_out_it_falls_back_and_fails_only_with_no_channel_left(
    seeded, channels, settings, sim_client
) -> None:
    spent = DeliveryTuning(retry=RetryPolicy(max_retries=0, quick_retries=0))
    sender = sender_with(seeded, channels, settings, tuning=spent)
    job_id, phone, _ = claimed_job(seeded, email="ana@example.com")
    sim_client.post("/_sim/config", json={"forced_errors_by_channel": {"sms": 20503}})
    first = sender.handle([SendRequest(job_id=job_id, attempt=1)])
    assert first.fell_back == 1 and row(seeded, job_id)["channel"] == "email"

    sim_client.post("/_sim/config", json={"forced_errors_by_channel": {"email": 503}})
    second = sender.handle([SendRequest(job_id=job_id, attempt=reclaim(seeded, NOW))])

    job = row(seeded, job_id)
    assert second.failed == 1 and job["status"] == "failed"
    [outcome] = second.outcomes
    assert (outcome.type, outcome.job_id, outcome.data.channel) == ("comm.failed", job_id, "email")
    assert [d.stage for d in second.dead_letters] == ["channel.send"]
    assert second.dead_letters[0].org_id == job["org_id"]  # its organisation's admins see it


def test_an_open_breaker_holds_jobs_and_spends_no_retry(
    seeded, channels, settings, sim_client, redis_server_url, redis_prefix
) -> None:
    board = RedisBreakerBoard(
        connect_redis(redis_server_url), KeySpace(redis_prefix), reporter="worker-1"
    )
    breakers = ProviderBreakers(
        BreakerSettings(min_calls=2, error_ratio=0.1, open_for=timedelta(minutes=5)), board
    )
    sender = sender_with(
        seeded,
        channels,
        settings,
        breakers=breakers,
        tuning=DeliveryTuning(retry=RetryPolicy(quick_retries=0)),
    )
    sim_client.post("/_sim/config", json={"outage_seconds": 60})
    failing = [claimed_job(seeded)[0] for _ in range(2)]
    sender.handle([SendRequest(job_id=job_id, attempt=1) for job_id in failing])
    assert breakers.state("twilio") == "open"

    held, phone, _ = claimed_job(seeded)
    result = sender.handle([SendRequest(job_id=held, attempt=1)])

    job = row(seeded, held)
    assert result.waited == 1 and (job["status"], job["retries"]) == ("queued", 0)
    assert "circuit open" in job["last_error"]
    assert sim_client.get("/_sim/stats").json()["counters"].get("rejected.sms.20503") == 2
    # The console sees the worker's breaker through the board.
    [report] = board.reports("twilio")
    assert (report.reporter, report.state.value) == ("worker-1", "open")
    assert report.open_until == report.since + timedelta(minutes=5)
    assert board.reports("sendgrid") == []


def test_email_goes_as_a_text_part_and_an_html_part(seeded, handler, sim_client) -> None:
    """ "Smith & Jones" reads as written in the text part and is escaped once in the HTML."""
    org_id = f"org-{uuid.uuid4().hex[:6]}"
    with seeded.begin() as connection:
        connection.execute(
            insert(OrgCommPrefs.__table__).values(org_id=org_id, name="Smith & Jones")
        )
    job_id, _, _ = claimed_job(
        seeded, org_id=org_id, channel="email", email="ana@example.com", purpose="lab_ready"
    )
    assert handler.handle([SendRequest(job_id=job_id, attempt=1)]).sent == 1
    [mail] = sim_messages(sim_client, to="ana@example.com")
    assert "Smith & Jones" in mail["body"] and "&amp;" not in mail["body"]
    assert "Smith &amp; Jones" in mail["html"] and "&amp;amp;" not in mail["html"]


def _campaign_in(engine: Engine, job_id: int, org_id: str, state: str) -> int:
    """Make ``job_id`` a job of a campaign (of ``org_id``) now in ``state``."""
    from outreach.sql.models import CommCampaign, PatientSegment

    with engine.begin() as connection:
        segment_id = connection.execute(
            insert(PatientSegment.__table__).values(
                org_id=org_id, name="all", definition={"==": [1, 1]}
            )
        ).inserted_primary_key[0]
        campaign_id = connection.execute(
            insert(CommCampaign.__table__).values(
                org_id=org_id,
                name="recall",
                segment_id=segment_id,
                purpose="campaign_education",
                status=state,
                steps=[],
                exit_on=[],
                variants={},
            )
        ).inserted_primary_key[0]
        connection.execute(jobs.update().where(jobs.c.id == job_id).values(campaign_id=campaign_id))
    return campaign_id


def test_a_campaign_paused_between_the_claim_and_the_send_holds_its_job(
    seeded, handler, sim_client
) -> None:
    """Pausing stops a campaign at once: a job the scheduler had already claimed goes back to
    the queue (where the scheduler skips it until the campaign resumes), nothing is sent."""
    job_id, phone, _ = claimed_job(seeded)
    _campaign_in(seeded, job_id, "org-send", "paused")

    result = handler.handle([SendRequest(job_id=job_id, attempt=1)])

    job = row(seeded, job_id)
    assert result.waited == 1 and job["status"] == "queued" and job["retries"] == 0
    assert sim_messages(sim_client, to=phone) == []
    with Store(seeded).transaction() as repos:
        assert repos.jobs.claim_due(NOW + timedelta(minutes=1), 10_000, "t") == []


def test_a_campaign_completed_between_the_claim_and_the_send_cancels_its_job(
    seeded, handler, sim_client
) -> None:
    job_id, phone, _ = claimed_job(seeded)
    _campaign_in(seeded, job_id, "org-send", "completed")

    result = handler.handle([SendRequest(job_id=job_id, attempt=1)])

    assert result.cancelled == 1 and row(seeded, job_id)["status"] == "cancelled"
    assert sim_messages(sim_client, to=phone) == []


def test_an_active_campaign_job_is_sent(seeded, handler, sim_client) -> None:
    job_id, phone, _ = claimed_job(seeded)
    _campaign_in(seeded, job_id, "org-send", "active")

    result = handler.handle([SendRequest(job_id=job_id, attempt=1)])

    assert result.sent == 1 and len(sim_messages(sim_client, to=phone)) == 1
