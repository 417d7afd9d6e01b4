"""The SQL of replies on the real MariaDB: store once, find by address, move forward only."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import Engine
from tests.factories import Clinic, envelope, new_phone
from tests.reply_fixtures import job_row

from outreach.domain import Channel, JobStatus
from outreach.replies.addresses import canonical_address
from outreach.sql.reply_repository import ReplyRepository

pytestmark = pytest.mark.services


def test_a_stored_message_is_stored_once(mariadb_engine: Engine) -> None:
    message = envelope(new_phone(), "STOP")
    now = datetime.now(UTC)
    with mariadb_engine.begin() as connection:
        replies = ReplyRepository(connection)
        first = replies.store_inbound(message, now)
        again = replies.store_inbound(message, now)
    assert isinstance(first, int) and again is None


def test_opt_out_reports_whether_it_changed_anything(
    mariadb_engine: Engine, clinic: Clinic
) -> None:
    patient = clinic.patient(phone=new_phone())
    now = datetime.now(UTC)
    with mariadb_engine.begin() as connection:
        replies = ReplyRepository(connection)
        assert replies.set_opted_out([patient], [Channel.SMS], True, now) == 1
        assert replies.set_opted_out([patient], [Channel.SMS], True, now) == 0
        assert replies.set_opted_out([patient], [Channel.SMS], False, now) == 1
        assert replies.set_opted_out([patient], [Channel.SMS], False, now) == 0


@pytest.mark.parametrize(
    ("status", "moves"),
    [
        (JobStatus.SENT, True),
        (JobStatus.DELIVERED, True),
        (JobStatus.CLICKED, True),
        (JobStatus.QUEUED, False),
        (JobStatus.REPLIED, False),
        (JobStatus.FAILED, False),
        (JobStatus.CANCELLED, False),
    ],
)
def test_a_job_moves_to_replied_only_forward(
    mariadb_engine: Engine, clinic: Clinic, status: JobStatus, moves: bool
) -> None:
    job = clinic.job(clinic.patient(phone=new_phone()), status=status)
    now = datetime.now(UTC)
    with mariadb_engine.begin() as connection:
        assert ReplyRepository(connection).mark_job_replied(job, now, now) is moves
    assert job_row(mariadb_engine, job)["status"] == (JobStatus.REPLIED if moves else status)


def test_patients_are_found_by_address_on_the_channel_they_use(
    mariadb_engine: Engine, clinic: Clinic
) -> None:
    phone, whatsapp = new_phone(), new_phone()
    texter = clinic.patient(phone=phone)
    chatter = clinic.patient(phone=new_phone(), whatsapp=whatsapp)
    fallback = clinic.patient(phone=whatsapp.replace("+1415", "+1628"))  # a different number
    with mariadb_engine.connect() as connection:
        replies = ReplyRepository(connection)

        def holders(channel: Channel, address: str) -> list[str]:
            canonical = canonical_address(channel, address)
            return [
                c.patient_id for c in replies.contacts_at_address(channel, canonical, lock=False)
            ]

        assert holders(Channel.SMS, phone) == [texter]
        assert holders(Channel.WHATSAPP, phone) == [texter]  # no WhatsApp number: the phone
        assert holders(Channel.WHATSAPP, whatsapp.lstrip("+")) == [chatter]
        assert holders(Channel.SMS, whatsapp) == []  # a WhatsApp number is not an SMS address
        assert fallback not in holders(Channel.SMS, new_phone())


def test_a_decorated_stored_number_is_found_by_the_slow_lookup(
    mariadb_engine: Engine, clinic: Clinic
) -> None:
    phone = new_phone()
    patient = clinic.patient(phone=f"+1 ({phone[2:5]}) {phone[5:8]}-{phone[8:]}")
    with mariadb_engine.connect() as connection:
        [found] = ReplyRepository(connection).contacts_at_address(Channel.SMS, phone, lock=False)
    assert (found.patient_id, found.org_id, found.opted_out) == (
        patient,
        clinic.org_id,
        frozenset(),
    )
    assert found.phone != phone  # as stored: deciding that it matches is not the repository's job


def test_requests_sent_are_read_newest_first_within_the_bounds(
    mariadb_engine: Engine, clinic: Clinic
) -> None:
    patient = clinic.patient(phone=new_phone())
    older = clinic.job(patient, appointment_id="a-old", sent_ago=timedelta(hours=5))
    newer = clinic.job(patient, appointment_id="a-new", sent_ago=timedelta(hours=1))
    clinic.job(patient, sent_ago=timedelta(hours=30))  # before the window
    clinic.job(patient, status=JobStatus.REPLIED)  # not in the statuses asked for
    now = datetime.now(UTC)
    with mariadb_engine.connect() as connection:
        requests = ReplyRepository(connection).requests_sent(
            [patient],
            Channel.SMS,
            "+10000000000",
            statuses=[JobStatus.SENT],
            sent_from=now - timedelta(hours=24),
            sent_until=now,
            limit=10,
        )
    assert [(r.job_id, r.appointment_id) for r in requests] == [
        (str(newer), "a-new"),
        (str(older), "a-old"),
    ]
