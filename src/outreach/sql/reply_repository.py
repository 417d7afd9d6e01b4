"""comm_inbound and the consent, job and lookup statements a patient's reply needs.

The replies service runs one transaction per inbound message with these statements. Every write
is conditional, so a redelivered message (already stored) changes nothing, a job only moves
forward to ``replied``, and an opt-out update reports how many flags it actually flipped (which
is what lets the service send a confirmation exactly once).
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import Connection, func, or_, select, update

from outreach.domain import (
    FORWARD_PATH,
    Channel,
    JobStatus,
    Purpose,
    can_transition,
)
from outreach.events import InboundEnvelope
from outreach.replies.addresses import StoredContact
from outreach.replies.matching import OutstandingRequest
from outreach.sql.bulk import insert_ignore
from outreach.sql.models import CommInbound, CommJob, Patient, PatientCommPrefs
from outreach.sql.opt_out_repository import OptOutRepository

inbound = CommInbound.__table__
patient_prefs = PatientCommPrefs.__table__
patients = Patient.__table__
jobs = CommJob.__table__

# A job moves to ``replied`` forward only, and only once it went out: a reply answers
# something the patient received.
_AFTER_SEND = FORWARD_PATH[FORWARD_PATH.index(JobStatus.SENT) :]
_REPLIED_FROM = [s.value for s in _AFTER_SEND if can_transition(s, JobStatus.REPLIED)]
# Characters a stored phone number may carry around its digits (stripped by the slow lookup).
_PHONE_DECORATION = (" ", "-", "(", ")", ".", "/")


def _column_limit(name: str) -> int:
    return inbound.c[name].type.length


def _address_columns(channel: Channel) -> list[Any]:
    if channel is Channel.EMAIL:
        return [patient_prefs.c.email]
    if channel is Channel.SMS:
        return [patient_prefs.c.phone]
    return [patient_prefs.c.whatsapp, patient_prefs.c.phone]


def _stripped(column: Any) -> Any:
    for character in _PHONE_DECORATION:
        column = func.replace(column, character, "")
    return column


class ReplyRepository:
    def __init__(self, connection: Connection) -> None:
        self.connection = connection

    def store_inbound(self, envelope: InboundEnvelope, now: datetime) -> int | None:
        """Keep the raw message; its id, or ``None`` when this provider message was stored
        before (a provider or Kafka redelivery: the caller does nothing more)."""
        key = {
            "provider": envelope.provider[: _column_limit("provider")],
            "provider_message_id": envelope.provider_message_id[
                : _column_limit("provider_message_id")
            ],
        }
        row = {
            **key,
            "channel": Channel(envelope.channel).value,
            "from_address": envelope.from_[: _column_limit("from_address")],
            "to_address": envelope.to[: _column_limit("to_address")] if envelope.to else None,
            "body": envelope.body,
            "received_at": envelope.received_at,
            "created_at": now,
        }
        if insert_ignore(self.connection, inbound, [row]) == 0:
            return None
        return self.connection.execute(
            select(inbound.c.id).where(
                inbound.c.provider == key["provider"],
                inbound.c.provider_message_id == key["provider_message_id"],
            )
        ).scalar_one()

    def contacts_at_address(
        self, channel: Channel, address: str, *, lock: bool = True
    ) -> list[StoredContact]:
        """Patients whose stored address on ``channel`` looks like ``address`` (canonical), by
        patient id: the lower-cased mailbox, or the number with or without its ``+``.

        An indexed lookup of the usual spellings first, then, only when that finds nobody, a
        scan that strips spaces, dashes and brackets. The match is loose (``holders_of``
        decides). With ``lock`` the preference rows stay locked to the end of the transaction,
        so two replies from one address cannot both believe they flipped its opt-out.
        """
        if channel is Channel.EMAIL:
            condition = func.lower(patient_prefs.c.email) == address
            found = self._patient_ids(condition)
        else:
            variants = sorted({address, address.lstrip("+")})
            columns = _address_columns(channel)
            found = self._patient_ids(or_(*(c.in_(variants) for c in columns)))
            if not found:
                found = self._patient_ids(or_(*(_stripped(c).in_(variants) for c in columns)))
        if not found:
            return []
        query = (
            select(patient_prefs, patients.c.org_id)
            .select_from(patient_prefs.join(patients, patients.c.id == patient_prefs.c.patient_id))
            .where(patient_prefs.c.patient_id.in_(sorted(found)))
            .order_by(patient_prefs.c.patient_id)
        )
        if lock:
            query = query.with_for_update()
        opted_out = OptOutRepository(self.connection).channels_of(found)
        return [
            StoredContact(
                patient_id=row["patient_id"],
                org_id=row["org_id"],
                language=row["language"],
                opted_out=opted_out.get(row["patient_id"], frozenset()),
                email=row["email"],
                phone=row["phone"],
                whatsapp=row["whatsapp"],
            )
            for row in self.connection.execute(query).mappings()
        ]

    def _patient_ids(self, condition: Any) -> set[str]:
        query = select(patient_prefs.c.patient_id).where(condition)
        return set(self.connection.execute(query).scalars())

    def requests_sent(
        self,
        patient_ids: Sequence[str],
        channel: Channel,
        address: str,
        *,
        statuses: Iterable[JobStatus],
        sent_from: datetime,
        sent_until: datetime,
        limit: int,
    ) -> list[OutstandingRequest]:
        """Jobs sent to these patients on ``channel`` between ``sent_from`` and ``sent_until``
        (inclusive) and now in ``statuses``, newest first, at most ``limit``. ``address`` is
        where they went (the reply's sender)."""
        if not patient_ids:
            return []
        rows = self.connection.execute(
            select(
                jobs.c.id, jobs.c.patient_id, jobs.c.appointment_id, jobs.c.sent_at, jobs.c.purpose
            )
            .where(
                jobs.c.patient_id.in_(list(patient_ids)),
                jobs.c.channel == channel.value,
                jobs.c.status.in_([JobStatus(s).value for s in statuses]),
                jobs.c.sent_at >= sent_from,
                jobs.c.sent_at <= sent_until,
            )
            .order_by(jobs.c.sent_at.desc(), jobs.c.id.desc())
            .limit(limit)
        )
        return [
            OutstandingRequest(
                job_id=str(row.id),
                patient_id=row.patient_id,
                appointment_id=row.appointment_id,
                channel=channel,
                address=address,
                sent_at=row.sent_at,
                purpose=Purpose(row.purpose),
            )
            for row in rows
        ]

    def last_unattributed_intent(
        self, channel: Channel, from_address: str, before_id: int, intents: Iterable[str]
    ) -> str | None:
        """Of the messages from ``from_address`` stored before ``before_id`` and attached to no
        patient, the intent of the latest one among ``intents``, or ``None``."""
        return self.connection.execute(
            select(inbound.c.intent)
            .where(
                inbound.c.channel == channel.value,
                inbound.c.from_address == from_address[: _column_limit("from_address")],
                inbound.c.patient_id.is_(None),
                inbound.c.intent.in_([str(intent) for intent in intents]),
                inbound.c.id < before_id,
            )
            .order_by(inbound.c.id.desc())
            .limit(1)
        ).scalar()

    def set_opted_out(
        self,
        patient_ids: Iterable[str],
        channels: Iterable[Channel],
        opted_out: bool,
        now: datetime,
        source: str = "reply",
    ) -> int:
        """Opt out (STOP) or back in (START); returns how many opt-outs actually changed, 0 when
        every one already was as asked. ``source``: what asked (stored with an opt-out)."""
        ids = sorted(set(patient_ids))
        if not ids:
            return 0
        rows = OptOutRepository(self.connection)
        if opted_out:
            changed = rows.record(ids, channels, now, source=source)
        else:
            changed = rows.clear(ids, channels)
        if changed:
            self.connection.execute(
                update(patient_prefs)
                .where(patient_prefs.c.patient_id.in_(ids))
                .values({patient_prefs.c.updated_at: now})
            )
        return changed

    def touch_whatsapp_inbound(self, patient_ids: Iterable[str], received_at: datetime) -> None:
        """Open WhatsApp's 24-hour service window (free-form replies allowed); never moves it
        back."""
        ids = sorted(set(patient_ids))
        if not ids:
            return
        column = patient_prefs.c.last_inbound_whatsapp_at
        self.connection.execute(
            update(patient_prefs)
            .where(
                patient_prefs.c.patient_id.in_(ids),
                or_(column.is_(None), column < received_at),
            )
            .values(last_inbound_whatsapp_at=received_at)
        )

    def mark_job_replied(self, job_id: int, replied_at: datetime, now: datetime) -> bool:
        """Move a sent job to ``replied`` (forward only: never from queued, a side exit or
        ``replied`` itself); True when it moved."""
        result = self.connection.execute(
            update(jobs)
            .where(jobs.c.id == job_id, jobs.c.status.in_(_REPLIED_FROM))
            .values(status=JobStatus.REPLIED.value, replied_at=replied_at, updated_at=now)
        )
        return result.rowcount == 1

    def record_parse(
        self,
        inbound_id: int,
        *,
        patient_id: str | None,
        job_id: int | None,
        intent: str,
        confidence: float,
        language: str | None,
        handled_at: datetime,
    ) -> None:
        """What the stored message was understood as, and who and which job it was attached
        to."""
        self.connection.execute(
            update(inbound)
            .where(inbound.c.id == inbound_id)
            .values(
                patient_id=patient_id,
                job_id=job_id,
                intent=intent[: _column_limit("intent")],
                confidence=round(confidence, 4),
                language=language[: _column_limit("language")] if language else None,
                handled_at=handled_at,
            )
        )

    def latest_contacted(self, patient_ids: Sequence[str], channel: Channel) -> str | None:
        """Of these patients, the one most recently sent something on ``channel``."""
        if not patient_ids:
            return None
        return self.connection.execute(
            select(jobs.c.patient_id)
            .where(
                jobs.c.patient_id.in_(list(patient_ids)),
                jobs.c.channel == channel.value,
                jobs.c.sent_at.is_not(None),
            )
            .order_by(jobs.c.sent_at.desc(), jobs.c.id.desc())
            .limit(1)
        ).scalar()
