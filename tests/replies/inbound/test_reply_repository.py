"""The SQL of replies on the real MariaDB: store once, find by address, move forward only."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
from sqlalchemy import Engine

from outreach.domain import Channel, JobStatus
from outreach.sql import reply_repository

from .conftest import Clinic, envelope, job_row, new_phone

pytestmark = pytest.mark.services


@pytest.mark.parametrize(
    ("channel", "address", "canonical"),
    [
        (Channel.SMS, "+1 (415) 234-5678", "+14152345678"),
        (Channel.SMS, "+14152345678", "+14152345678"),
        (Channel.WHATSAPP, "14152345678", "+14152345678"),
        (Channel.WHATSAPP, "whatsapp:+14152345678", "+14152345678"),
        (Channel.SMS, "0040 721 234 567", "+40721234567"),
        (Channel.EMAIL, "Ana Lopez <Ana.Lopez@Example.ORG>", "ana.lopez@example.org"),
    ],
)
def test_canonical_addresses(channel: Channel, address: str, canonical: str) -> None:
    assert reply_repository.canonical_address(channel, address) == canonical


def test_a_stored_message_is_stored_once(mariadb_engine: Engine) -> None:
    message = envelope(new_phone(), "STOP")
    now = datetime.now(UTC)
    with mariadb_engine.begin() as connection:
        first = reply_repository.store_inbound(connection, message, now)
        again = reply_repository.store_inbound(connection, message, now)
    assert isinstance(first, int) and again is None


def test_opt_out_reports_whether_it_changed_anything(
    mariadb_engine: Engine, clinic: Clinic
) -> None:
    patient = clinic.patient(phone=new_phone())
    now = datetime.now(UTC)
    with mariadb_engine.begin() as connection:
        assert reply_repository.opt_out(connection, [patient], [Channel.SMS], now)
        assert not reply_repository.opt_out(connection, [patient], [Channel.SMS], now)
        assert reply_repository.opt_in(connection, [patient], Channel.SMS, now)
        assert not reply_repository.opt_in(connection, [patient], Channel.SMS, now)


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
        assert reply_repository.mark_job_replied(connection, job, now, now) is moves
    assert job_row(mariadb_engine, job)["status"] == (JobStatus.REPLIED if moves else status)


def test_patients_are_found_by_address_on_the_channel_they_use(
    mariadb_engine: Engine, clinic: Clinic
) -> None:
    phone, whatsapp = new_phone(), new_phone()
    texter = clinic.patient(phone=phone)
    chatter = clinic.patient(phone=new_phone(), whatsapp=whatsapp)
    fallback = clinic.patient(phone=whatsapp.replace("+1415", "+1628"))  # a different number
    with mariadb_engine.connect() as connection:

        def holders(channel: Channel, address: str) -> list[str]:
            canonical = reply_repository.canonical_address(channel, address)
            return [
                h.patient_id
                for h in reply_repository.find_patients_at_address(
                    connection, channel, canonical, lock=False
                )
            ]

        assert holders(Channel.SMS, phone) == [texter]
        assert holders(Channel.WHATSAPP, phone) == [texter]  # no WhatsApp number: the phone
        assert holders(Channel.WHATSAPP, whatsapp.lstrip("+")) == [chatter]
        assert holders(Channel.SMS, whatsapp) == []  # a WhatsApp number is not an SMS address
        assert fallback not in holders(Channel.SMS, new_phone())
