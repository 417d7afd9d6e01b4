"""Receiving replies against the real MariaDB and the provider simulator: a patient's answer is
stored once, understood, attached to the request it answers, and acted on."""

from __future__ import annotations

import time
from datetime import UTC, datetime, timedelta

import httpx
import pytest
from sqlalchemy import Engine

from outreach.domain import Channel, JobStatus, Purpose
from outreach.replies import ReplyParser
from outreach.services.receive_reply import ReplyService
from outreach.sql.engine import build_engine
from tests.factories import CLINIC_BOOKING_URL, Clinic, envelope, new_phone
from tests.reply_fixtures import (
    BOOKING_URL,
    MATCH_WINDOW,
    audit_actions,
    inbound_rows,
    job_row,
    prefs_row,
    reply_service,
    sent_to,
)

pytestmark = pytest.mark.services


OPT_OUT_TEXT = (
    "Sunrise Clinic: You are unsubscribed and will receive no more messages. "
    "Reply START to resubscribe."
)


@pytest.fixture
def service(mariadb_engine: Engine, channels, send_pool) -> ReplyService:
    return reply_service(mariadb_engine, channels, send_pool)


def test_confirm_answers_the_latest_request_and_confirms_its_appointment(
    service: ReplyService, clinic: Clinic, mariadb_engine: Engine, sim_client: httpx.Client
) -> None:
    phone = new_phone()
    patient = clinic.patient(phone=phone)
    older = clinic.job(patient, appointment_id="appt-older", sent_ago=timedelta(hours=20))
    latest = clinic.job(patient, appointment_id="appt-latest", sent_ago=timedelta(hours=2))
    reply = envelope(phone, "Yes I'll be there")

    result = service.receive([reply])

    assert [
        (o.type, o.appointment_id, o.job_id, o.patient_id, o.org_id) for o in result.outcomes
    ] == [("appointment.confirmed", "appt-latest", latest, patient, clinic.org_id)]
    assert job_row(mariadb_engine, latest)["status"] == JobStatus.REPLIED
    assert job_row(mariadb_engine, latest)["replied_at"] is not None
    assert job_row(mariadb_engine, older)["status"] == JobStatus.SENT
    [stored] = inbound_rows(mariadb_engine, reply.provider_message_id)
    assert (stored["patient_id"], stored["job_id"], stored["intent"]) == (
        patient,
        latest,
        "confirm",
    )
    assert stored["body"] == "Yes I'll be there" and stored["handled_at"] is not None
    [thanks] = sent_to(sim_client, phone)
    assert thanks["body"].startswith("Sunrise Clinic: Thank you for confirming")
    assert result.replies_sent == 1 and not result.staff_items


def test_reschedule_sends_the_clinics_booking_link(
    service: ReplyService, clinic: Clinic, sim_client: httpx.Client
) -> None:
    phone = new_phone()
    patient = clinic.patient(phone=phone)
    clinic.job(patient, appointment_id="appt-9")

    result = service.receive([envelope(phone, "can we do Tuesday instead?")])

    assert [o.type for o in result.outcomes] == ["appointment.reschedule_requested"]
    [answer] = sent_to(sim_client, phone)
    assert CLINIC_BOOKING_URL in answer["body"] and BOOKING_URL not in answer["body"]


def test_stop_opts_out_cancels_queued_non_urgent_jobs_and_confirms_once(
    service: ReplyService, clinic: Clinic, mariadb_engine: Engine, sim_client: httpx.Client
) -> None:
    phone = new_phone()
    patient = clinic.patient(phone=phone, email="ana@example.org")
    answered = clinic.job(patient, appointment_id="appt-1")
    reminder = clinic.job(patient, status=JobStatus.QUEUED, appointment_id="appt-2")
    urgent = clinic.job(patient, status=JobStatus.QUEUED, purpose=Purpose.URGENT)
    email_reminder = clinic.job(patient, status=JobStatus.QUEUED, channel=Channel.EMAIL)

    result = service.receive([envelope(phone, "STOP")])

    opt = prefs_row(mariadb_engine, patient)
    assert opt["opted_out_sms"] and not opt["opted_out_email"]
    assert job_row(mariadb_engine, reminder)["status"] == JobStatus.CANCELLED
    assert job_row(mariadb_engine, urgent)["status"] == JobStatus.QUEUED
    assert job_row(mariadb_engine, email_reminder)["status"] == JobStatus.QUEUED
    assert job_row(mariadb_engine, answered)["status"] == JobStatus.REPLIED
    assert [m["body"] for m in sent_to(sim_client, phone)] == [OPT_OUT_TEXT]
    assert [o.type for o in result.outcomes] == ["patient.opted_out"]
    assert audit_actions(mariadb_engine, patient) == ["opt_out", "message_received"]
    assert result.jobs_cancelled == 1


def test_two_stops_give_one_confirmation(
    service: ReplyService, clinic: Clinic, mariadb_engine: Engine, sim_client: httpx.Client
) -> None:
    phone = new_phone()
    patient = clinic.patient(phone=phone)
    clinic.job(patient)

    first = service.receive([envelope(phone, "STOP"), envelope(phone, "stop")])
    second = service.receive([envelope(phone, "Unsubscribe")])

    assert first.replies_sent + second.replies_sent == 1
    assert [m["body"] for m in sent_to(sim_client, phone)] == [OPT_OUT_TEXT]
    assert audit_actions(mariadb_engine, patient) == [
        "opt_out",
        "message_received",
        "opt_out_repeated",
        "message_received",
        "opt_out_repeated",
        "message_received",
    ]
    assert [o.type for o in first.outcomes + second.outcomes] == ["patient.opted_out"]


def test_start_restores_the_channel_and_confirms(
    service: ReplyService, clinic: Clinic, mariadb_engine: Engine, sim_client: httpx.Client
) -> None:
    phone = new_phone()
    patient = clinic.patient(phone=phone, opted_out=(Channel.SMS, Channel.EMAIL))

    result = service.receive([envelope(phone, "START")])
    again = service.receive([envelope(phone, "START")])

    opt = prefs_row(mariadb_engine, patient)
    assert not opt["opted_out_sms"] and opt["opted_out_email"]  # only the channel it came on
    [confirmation] = sent_to(sim_client, phone)
    assert confirmation["body"].startswith("Sunrise Clinic: You are resubscribed")
    assert [o.type for o in result.outcomes] == ["patient.opted_in"] and not again.outcomes
    assert audit_actions(mariadb_engine, patient) == [
        "opt_in",
        "message_received",
        "opt_in_repeated",
        "message_received",
    ]


def test_yes_from_an_opted_out_number_resubscribes(
    service: ReplyService, clinic: Clinic, mariadb_engine: Engine
) -> None:
    phone = new_phone()
    patient = clinic.patient(phone=phone, opted_out=(Channel.SMS,))

    result = service.receive([envelope(phone, "YES")])

    assert result.intents == {"start": 1}
    assert not prefs_row(mariadb_engine, patient)["opted_out_sms"]


def test_stopall_opts_out_every_channel(
    service: ReplyService, clinic: Clinic, mariadb_engine: Engine, sim_client: httpx.Client
) -> None:
    phone = new_phone()
    patient = clinic.patient(phone=phone, email="bo@example.org", whatsapp=phone)
    email_job = clinic.job(patient, status=JobStatus.QUEUED, channel=Channel.EMAIL)
    whatsapp_job = clinic.job(patient, status=JobStatus.QUEUED, channel=Channel.WHATSAPP)

    result = service.receive([envelope(phone, "STOPALL")])

    opt = prefs_row(mariadb_engine, patient)
    assert all(opt[f"opted_out_{c.value}"] for c in Channel)
    assert job_row(mariadb_engine, email_job)["status"] == JobStatus.CANCELLED
    assert job_row(mariadb_engine, whatsapp_job)["status"] == JobStatus.CANCELLED
    assert len(sent_to(sim_client, phone)) == 1
    [outcome] = result.outcomes
    assert outcome.data.stop_all is True
    assert sorted(outcome.data.channels) == ["email", "sms", "whatsapp"]


def test_help_answers_with_the_clinic_phone_even_when_opted_out(
    service: ReplyService, clinic: Clinic, sim_client: httpx.Client
) -> None:
    phone = new_phone()
    clinic.patient(phone=phone, opted_out=(Channel.SMS,))

    service.receive([envelope(phone, "HELP")])

    [help_text] = sent_to(sim_client, phone)
    assert "+14155550100" in help_text["body"] and "STOP" in help_text["body"]


def test_an_unknown_number_is_stored_and_routed_to_staff(
    service: ReplyService, mariadb_engine: Engine, sim_client: httpx.Client
) -> None:
    stranger = new_phone()
    reply = envelope(stranger, "Can you call me back about my bill?")
    confirm = envelope(stranger, "Yes I'll be there")

    result = service.receive([reply, confirm])

    [stored] = inbound_rows(mariadb_engine, reply.provider_message_id)
    assert stored["patient_id"] is None and stored["handled_at"] is not None
    assert stored["body"] == "Can you call me back about my bill?"
    question, answer = result.staff_items
    assert (question.inbound_id, question.patient_id, question.reason) == (
        stored["id"],
        None,
        "unclassified",
    )
    assert (answer.patient_id, answer.reason, answer.intent) == (None, "unknown_sender", "confirm")
    assert question.body == reply.body and question.from_address == stranger
    assert "call me" not in repr(question) and "call me" not in str(question)
    assert not result.outcomes and not sent_to(sim_client, stranger)
    assert result.unknown_sender == 2


def test_two_stops_from_an_unknown_number_give_one_confirmation(
    service: ReplyService, sim_client: httpx.Client
) -> None:
    stranger = new_phone()

    service.receive([envelope(stranger, "STOP")])
    service.receive([envelope(stranger, "STOP")])

    assert len(sent_to(sim_client, stranger)) == 1


def test_a_redelivered_message_is_handled_once(
    service: ReplyService, clinic: Clinic, mariadb_engine: Engine, sim_client: httpx.Client
) -> None:
    phone = new_phone()
    patient = clinic.patient(phone=phone)
    clinic.job(patient, appointment_id="appt-5")
    reply = envelope(phone, "C")

    first = service.receive([reply, reply])
    second = service.receive([reply])

    assert (first.handled, first.duplicates, second.handled, second.duplicates) == (1, 1, 0, 1)
    assert len(inbound_rows(mariadb_engine, reply.provider_message_id)) == 1
    assert [o.type for o in first.outcomes] == ["appointment.confirmed"] and not second.outcomes
    assert len(sent_to(sim_client, phone)) == 1


def test_a_shared_number_answers_for_the_patient_asked_last(
    service: ReplyService, clinic: Clinic, mariadb_engine: Engine
) -> None:
    phone = new_phone()
    parent = clinic.patient(phone=phone)
    child = clinic.patient(phone=phone)
    clinic.job(parent, appointment_id="appt-parent", sent_ago=timedelta(hours=5))
    child_job = clinic.job(child, appointment_id="appt-child", sent_ago=timedelta(minutes=30))

    confirmed = service.receive([envelope(phone, "1")])
    stopped = service.receive([envelope(phone, "STOP")])

    [outcome] = confirmed.outcomes
    assert (outcome.patient_id, outcome.appointment_id, outcome.job_id) == (
        child,
        "appt-child",
        child_job,
    )
    # Consent belongs to the number: nobody at it is messaged by SMS any more.
    assert prefs_row(mariadb_engine, parent)["opted_out_sms"]
    assert prefs_row(mariadb_engine, child)["opted_out_sms"]
    assert {o.patient_id for o in stopped.outcomes} == {parent, child}
    assert stopped.replies_sent == 1


def test_a_reply_outside_the_window_matches_nothing(
    service: ReplyService, clinic: Clinic, mariadb_engine: Engine
) -> None:
    phone = new_phone()
    patient = clinic.patient(phone=phone)
    stale = clinic.job(patient, appointment_id="appt-old", sent_ago=MATCH_WINDOW + timedelta(1))

    result = service.receive([envelope(phone, "Yes I'll be there")])

    assert not result.outcomes
    assert [i.reason for i in result.staff_items] == ["no_matching_request"]
    assert job_row(mariadb_engine, stale)["status"] == JobStatus.SENT


def test_whatsapp_digits_match_a_stored_number_and_open_the_service_window(
    service: ReplyService, clinic: Clinic, mariadb_engine: Engine, sim_client: httpx.Client
) -> None:
    phone = new_phone()
    patient = clinic.patient(phone=phone, whatsapp=phone)
    job = clinic.job(patient, channel=Channel.WHATSAPP, appointment_id="appt-w")
    received = datetime.now(UTC)

    result = service.receive(
        [envelope(phone.lstrip("+"), "👍", channel=Channel.WHATSAPP, received_at=received)]
    )

    assert [o.job_id for o in result.outcomes] == [job]
    assert prefs_row(mariadb_engine, patient)["last_inbound_whatsapp_at"] == received
    assert len(sent_to(sim_client, phone.lstrip("+"), Channel.WHATSAPP)) == 1


def test_an_email_reply_matches_the_mailbox_whatever_its_case(
    service: ReplyService, clinic: Clinic, sim_client: httpx.Client
) -> None:
    mailbox = f"{new_phone()[1:]}@example.org"
    patient = clinic.patient(email=mailbox)
    job = clinic.job(patient, channel=Channel.EMAIL, appointment_id="appt-e")

    result = service.receive(
        [envelope(f"Ana <{mailbox.upper()}>", "Sí, allí estaré", channel=Channel.EMAIL)]
    )

    assert [o.job_id for o in result.outcomes] == [job]
    [thanks] = sent_to(sim_client, mailbox, Channel.EMAIL)
    assert thanks["body"].startswith("Sunrise Clinic: Gracias")


def test_a_decorated_stored_number_still_matches(service: ReplyService, clinic: Clinic) -> None:
    phone = new_phone()
    decorated = f"+1 ({phone[2:5]}) {phone[5:8]}-{phone[8:]}"
    patient = clinic.patient(phone=decorated)
    clinic.job(patient, appointment_id="appt-d")

    result = service.receive([envelope(phone, "confirm")])

    assert [o.patient_id for o in result.outcomes] == [patient]


def test_a_failed_answer_is_counted_and_the_batch_goes_on(
    service: ReplyService, clinic: Clinic, mariadb_engine: Engine, sim_client: httpx.Client
) -> None:
    broken, fine = new_phone(), new_phone()
    patient = clinic.patient(phone=broken)
    other = clinic.patient(phone=fine)
    sim_client.post("/_sim/config", json={"forced_errors_by_address": {broken: 21612}})
    try:
        result = service.receive([envelope(broken, "STOP"), envelope(fine, "STOP")])
    finally:
        sim_client.post("/_sim/config", json={"forced_errors_by_address": {}})

    assert (result.replies_sent, result.reply_failures) == (1, 1)
    [dead] = result.dead_letters
    assert dead.kind == "send" and dead.key == patient
    assert broken not in dead.error and broken.encode() not in dead.original
    assert prefs_row(mariadb_engine, patient)["opted_out_sms"]
    assert prefs_row(mariadb_engine, other)["opted_out_sms"]


class _ExplodingParser(ReplyParser):
    def parse(self, text: str, language_hint: str | None = None, *, opted_out: bool = False):
        if text == "boom":
            raise RuntimeError("parser bug")
        return super().parse(text, language_hint, opted_out=opted_out)


def test_a_message_that_fails_goes_to_the_dead_letters_and_the_rest_go_on(
    mariadb_engine: Engine, channels, send_pool, clinic: Clinic
) -> None:
    service = reply_service(
        mariadb_engine,
        channels,
        send_pool,
        clock=lambda: datetime.now(UTC),
        parser=_ExplodingParser(),
    )
    phone = new_phone()
    clinic.patient(phone=phone)
    bad = envelope(phone, "boom")

    result = service.receive([bad, envelope(phone, "STOP")])

    [dead] = result.dead_letters
    assert (dead.kind, dead.error, result.handled) == ("processing", "RuntimeError", 1)
    # Rolled back with its transaction: replaying the dead letter handles it afresh.
    assert inbound_rows(mariadb_engine, bad.provider_message_id) == []


def test_a_database_outage_leaves_the_batch_for_a_retry(channels, send_pool) -> None:
    unreachable = build_engine(
        "mysql+pymysql://root@127.0.0.1:9/nowhere",
        pool_pre_ping=False,
        connect_args={"connect_timeout": 1},
    )
    service = reply_service(unreachable, channels, send_pool, clock=lambda: datetime.now(UTC))
    batch = [envelope(new_phone(), "STOP"), envelope(new_phone(), "STOP")]

    result = service.receive(batch)

    assert result.unprocessed == batch and not result.dead_letters and result.handled == 0
    unreachable.dispose()


def test_a_single_reply_is_acted_on_well_within_a_second(
    service: ReplyService, clinic: Clinic, record_property
) -> None:
    timings = []
    for _ in range(5):
        phone = new_phone()
        patient = clinic.patient(phone=phone)
        clinic.job(patient, appointment_id="appt-t")
        started = time.perf_counter()
        result = service.receive([envelope(phone, "Yes I'll be there")])
        timings.append(time.perf_counter() - started)
        assert result.replies_sent == 1
    median_ms = sorted(timings)[len(timings) // 2] * 1000
    record_property("handle_single_envelope_median_ms", round(median_ms, 1))
    assert median_ms < 1000


def test_a_shifted_process_clock_still_matches_the_providers_real_time_stamp(
    mariadb_engine: Engine, channels, send_pool, clinic: Clinic
) -> None:
    """The demo's shared clock runs days ahead while the provider stamps real time."""
    shift = timedelta(days=3)
    service = reply_service(
        mariadb_engine, channels, send_pool, clock=lambda: datetime.now(UTC) + shift
    )
    phone = new_phone()
    patient = clinic.patient(phone=phone)
    # Sent an hour ago on the shifted clock: in real time, nearly three days from now.
    job = clinic.job(patient, appointment_id="appt-demo", sent_ago=timedelta(hours=1) - shift)

    result = service.receive([envelope(phone, "Yes I'll be there")])

    assert [o.job_id for o in result.outcomes] == [job]
    assert result.outcomes[0].occurred_at > datetime.now(UTC) + shift - timedelta(minutes=1)
