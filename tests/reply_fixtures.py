"""Fixtures for the replies tests (service, repository, agent): a clinic in the migrated MariaDB,
a pool for the answers, the service wired to the real channel workers pointed at the provider
simulator, and readers of what a reply changed.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Mapping
from concurrent.futures import ThreadPoolExecutor
from datetime import datetime, timedelta
from typing import Any

import httpx
import pytest
from sqlalchemy import Engine, select

from outreach.channels import ChannelWorker
from outreach.channels.reply_sender import ChannelReplySender
from outreach.clock import system_clock
from outreach.domain import Channel
from outreach.replies.parser import ReplyParser, default_parser
from outreach.services.receive_reply import ReplyService
from outreach.sql.errors import is_transient_database_error
from outreach.sql.models import CommAuditLog, CommInbound, CommJob, PatientCommPrefs
from outreach.sql.store import Store
from tests.factories import Clinic, add_clinic

BOOKING_URL = "https://portal.clinic.example/book"
MATCH_WINDOW = timedelta(hours=72)

jobs = CommJob.__table__
prefs = PatientCommPrefs.__table__
inbound = CommInbound.__table__
audit = CommAuditLog.__table__


@pytest.fixture
def clinic(mariadb_engine: Engine) -> Clinic:
    return add_clinic(mariadb_engine)


@pytest.fixture(scope="session")
def send_pool() -> Iterator[ThreadPoolExecutor]:
    pool = ThreadPoolExecutor(max_workers=8, thread_name_prefix="test-reply-send")
    yield pool
    pool.shutdown(wait=True)


def reply_service(
    engine: Engine,
    channels: Mapping[str, ChannelWorker],
    send_pool: ThreadPoolExecutor,
    *,
    clock: Callable[[], datetime] = system_clock,
    parser: ReplyParser | None = None,
) -> ReplyService:
    """The replies service on ``engine``, answering through ``channels``, its parser trained."""
    service = ReplyService(
        Store(engine),
        parser or default_parser(),
        ChannelReplySender(channels),
        clock=clock,
        is_transient=is_transient_database_error,
        send_pool=send_pool,
        match_window=MATCH_WINDOW,
        default_booking_url=BOOKING_URL,
    )
    service.warm_up()
    return service


def job_row(engine: Engine, job_id: int) -> dict[str, Any]:
    with engine.connect() as connection:
        return dict(connection.execute(select(jobs).where(jobs.c.id == job_id)).mappings().one())


def prefs_row(engine: Engine, patient_id: str) -> dict[str, Any]:
    with engine.connect() as connection:
        return dict(
            connection.execute(select(prefs).where(prefs.c.patient_id == patient_id))
            .mappings()
            .one()
        )


def inbound_rows(engine: Engine, provider_message_id: str) -> list[dict[str, Any]]:
    with engine.connect() as connection:
        return [
            dict(r)
            for r in connection.execute(
                select(inbound).where(inbound.c.provider_message_id == provider_message_id)
            ).mappings()
        ]


def audit_actions(engine: Engine, patient_id: str) -> list[str]:
    with engine.connect() as connection:
        return list(
            connection.execute(
                select(audit.c.action).where(audit.c.patient_id == patient_id).order_by(audit.c.id)
            ).scalars()
        )


def sent_to(sim_client: httpx.Client, address: str, channel: Channel = Channel.SMS) -> list[dict]:
    """What the simulated provider accepted for ``address`` (the patient's phone or mailbox)."""
    response = sim_client.get("/_sim/messages", params={"to": address, "channel": channel.value})
    response.raise_for_status()
    return response.json()
