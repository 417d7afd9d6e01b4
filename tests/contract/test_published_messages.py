"""What the publishers really write fits the contract, byte for byte.

The replies service and the channel worker build the per-type outcome models; these tests run
them against MariaDB and the provider simulator, serialise what they return as the agents do, and
check each value (and the replies' ``StaffInboxItem``) against the generated schema and against
the per-type model, which must read it back to the very same JSON.
"""

from __future__ import annotations

import json
import random
import uuid
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from jsonschema import Draft202012Validator
from sqlalchemy import Engine, insert

from outreach.channels.reply_sender import ChannelReplySender
from outreach.clock import system_clock
from outreach.contract.catalogue import message_type
from outreach.contract.json_schemas import message_schema, outcomes_schema
from outreach.dead_letters import DeadLetterSealer
from outreach.domain import BUILTIN_CHANNELS, Channel
from outreach.events import (
    OUTCOME_MODELS,
    DlqEntry,
    InboundEnvelope,
    SendRequest,
    StaffInboxItem,
    TypedOutcome,
)
from outreach.preferences.addresses import normalise_phone
from outreach.replies.parser import default_parser
from outreach.services.receive_reply import ReplyService
from outreach.services.send_jobs import JobSender
from outreach.sim.deployment import daytime_zone
from outreach.sql.errors import is_transient_database_error
from outreach.sql.models import CommJob, OrgCommPrefs, Patient, PatientCommPrefs
from outreach.sql.store import Store
from outreach.wiring import message_builder

pytestmark = pytest.mark.services

OUTCOME_MODEL_BY_TYPE = {message_type(model): model for model in OUTCOME_MODELS}
CLINIC_PHONE = "+14155550100"


def _new_phone() -> str:
    while True:
        candidate = f"+1415{random.randint(2_000_000, 9_999_999)}"
        if normalise_phone(candidate) == candidate:
            return candidate


class Clinic:
    """An organisation of its own in the shared database, and the rows the tests need."""

    def __init__(self, engine: Engine) -> None:
        self.engine = engine
        self.org_id = f"org-{uuid.uuid4().hex[:10]}"
        with engine.begin() as connection:
            connection.execute(
                insert(OrgCommPrefs.__table__).values(
                    org_id=self.org_id,
                    name="Sunrise Clinic",
                    clinic_phone=CLINIC_PHONE,
                    booking_url="https://book.example/new",
                    language="en",
                )
            )

    def patient(self, phone: str | None) -> str:
        patient_id = f"pat-{uuid.uuid4().hex[:10]}"
        now = datetime.now(UTC)
        with self.engine.begin() as connection:
            connection.execute(insert(Patient.__table__).values(id=patient_id, org_id=self.org_id))
            connection.execute(
                insert(PatientCommPrefs.__table__).values(
                    patient_id=patient_id,
                    phone=phone,
                    language="en",
                    # Mid-morning for the patient whenever the suite runs: the send-time check
                    # would otherwise hold the failing job until the window opens.
                    timezone=daytime_zone(now),
                    contact_consent=True,
                    consent_granted_at=now - timedelta(days=30),
                    consent_expires_at=now + timedelta(days=600),
                    whatsapp_opt_in=False,
                    **{f"marketing_opt_in_{c.value}": False for c in BUILTIN_CHANNELS},
                )
            )
        return patient_id

    def job(self, patient_id: str, *, channel: Channel, status: str, attempt: int = 0) -> int:
        now = datetime.now(UTC)
        sent_at = now - timedelta(hours=1) if status == "sent" else None
        with self.engine.begin() as connection:
            result = connection.execute(
                insert(CommJob.__table__).values(
                    idempotency_key=f"contract-{uuid.uuid4().hex}",
                    org_id=self.org_id,
                    patient_id=patient_id,
                    appointment_id=f"appt-{uuid.uuid4().hex[:10]}",
                    purpose="appt_reminder",
                    channel=channel.value,
                    status=status,
                    attempt=attempt,
                    requested_at=now - timedelta(days=1),
                    scheduled_for=sent_at or now,
                    sent_at=sent_at,
                    context={},
                )
            )
        return int(result.inserted_primary_key[0])


def _reply(phone: str, body: str) -> InboundEnvelope:
    return InboundEnvelope(
        provider="twilio",
        channel=Channel.SMS,
        from_=phone,
        to=CLINIC_PHONE,
        body=body,
        received_at=datetime.now(UTC),
        provider_message_id=f"SM{uuid.uuid4().hex}",
    )


@pytest.fixture(scope="module")
def pool() -> Iterator[ThreadPoolExecutor]:
    with ThreadPoolExecutor(max_workers=4) as running:
        yield running


@pytest.fixture(scope="module")
def published(mariadb_engine: Engine, channels, settings, pool) -> dict[str, list[str]]:
    """Every outcome type, a staff-inbox item and a dead letter, as the agents publish them."""
    clinic = Clinic(mariadb_engine)
    replies = ReplyService(
        Store(mariadb_engine),
        default_parser(),
        ChannelReplySender(channels),
        clock=system_clock,
        is_transient=is_transient_database_error,
        send_pool=pool,
        match_window=timedelta(hours=72),
        default_booking_url="https://portal.example/book",
    )
    shared_phone = _new_phone()
    shared = [clinic.patient(shared_phone), clinic.patient(shared_phone)]
    envelopes = [_reply(shared_phone, "STOP"), _reply(shared_phone, "START")]
    for answer in ("Yes I'll be there", "can we do Tuesday instead?", "I need to cancel it"):
        phone = _new_phone()
        clinic.job(clinic.patient(phone), channel=Channel.SMS, status="sent")
        envelopes.append(_reply(phone, answer))
    envelopes.append(_reply(_new_phone(), "Can you call me back about my bill?"))
    outcomes: list[TypedOutcome] = []
    staff_items = []
    for envelope in envelopes:  # one by one: STOP must be handled before START
        result = replies.receive([envelope])
        outcomes += result.outcomes
        staff_items += result.staff_items
    assert {outcome.patient_id for outcome in outcomes[:2]} == set(shared)

    # A job that cannot become a message (no e-mail address) fails for good: comm.failed.
    failing = clinic.job(clinic.patient(None), channel=Channel.EMAIL, status="processing")
    sender = JobSender(
        Store(mariadb_engine), channels, message_builder(settings, mariadb_engine), pool=pool
    )
    sent = sender.handle([SendRequest(job_id=failing, attempt=0)])
    outcomes += sent.outcomes
    # Serialised exactly as the faust agents do before handing the bytes to Kafka.
    sealer = DeadLetterSealer(DeadLetterSealer.new_key())
    return {
        "outcomes": [outcome.model_dump_json(exclude_unset=True) for outcome in outcomes],
        "staff_items": [item.model_dump_json() for item in staff_items],
        "dead_letters": [sealer.seal(letter).model_dump_json() for letter in sent.dead_letters],
    }


def _validator(schema: dict[str, Any]) -> Draft202012Validator:
    return Draft202012Validator(schema, format_checker=Draft202012Validator.FORMAT_CHECKER)


def test_every_outcome_type_is_really_published(published) -> None:
    types = [json.loads(raw)["type"] for raw in published["outcomes"]]
    assert set(types) == set(OUTCOME_MODEL_BY_TYPE)
    copies = [json.loads(raw) for raw in published["outcomes"]]
    assert {c["type"] for c in copies if c["data"].get("shared_address")} == {
        "patient.opted_out",
        "patient.opted_in",
    }


def test_published_outcomes_fit_the_schema_and_their_typed_model_exactly(published) -> None:
    union = _validator(outcomes_schema())
    for raw in published["outcomes"]:
        union.validate(json.loads(raw))
        model = OUTCOME_MODEL_BY_TYPE[json.loads(raw)["type"]]
        # What a publisher building the typed model would write: the same bytes as today.
        assert model.model_validate_json(raw).model_dump_json(exclude_unset=True) == raw


def test_published_staff_items_and_dead_letters_fit_the_contract(published) -> None:
    for model, key in ((StaffInboxItem, "staff_items"), (DlqEntry, "dead_letters")):
        schema = _validator(message_schema(model, "serialization"))
        assert published[key], key
        for raw in published[key]:
            schema.validate(json.loads(raw))
            assert model.model_validate_json(raw).model_dump_json() == raw
