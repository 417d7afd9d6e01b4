"""comm_inbound and the consent, job and audit writes a patient's reply causes.

The replies handler runs one transaction per inbound message with these statements. Every write
is conditional, so a redelivered message (already stored) changes nothing, a job only moves
forward to ``replied``, and an opt-out flag reports whether this reply is the one that flipped it
(which is what decides that the confirmation goes out exactly once).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import Connection, func, or_, select, update

from outreach.domain import Channel, JobStatus, Purpose, can_transition
from outreach.events import InboundEnvelope
from outreach.preferences.addresses import normalise_phone
from outreach.replies.matching import OutstandingRequest, normalise_address
from outreach.sql.bulk import insert_ignore
from outreach.sql.models import (
    CommAuditLog,
    CommInbound,
    CommJob,
    OrgCommPrefs,
    Patient,
    PatientCommPrefs,
)

inbound = CommInbound.__table__
patient_prefs = PatientCommPrefs.__table__
patients = Patient.__table__
org_prefs = OrgCommPrefs.__table__
jobs = CommJob.__table__
audit_log = CommAuditLog.__table__

# A request still awaits its answer while it is out and not answered, failed or bounced.
OUTSTANDING_STATUSES = (JobStatus.SENT, JobStatus.DELIVERED, JobStatus.OPENED, JobStatus.CLICKED)
# A reply answers something the patient received: of the statuses ``replied`` is a forward move
# from (domain.py), only those after the send.
_REPLIED_FROM = [s.value for s in OUTSTANDING_STATUSES if can_transition(s, JobStatus.REPLIED)]
# More candidates than this within one window is a bulk sender, not a conversation.
MAX_OUTSTANDING = 50
# Characters a stored phone number may carry around its digits (stripped by the slow lookup).
_PHONE_DECORATION = (" ", "-", "(", ")", ".", "/")


def canonical_address(channel: Channel, address: str) -> str:
    """The form both sides of an address comparison take: E.164 for SMS and WhatsApp (WhatsApp
    and some gateways send international digits without the ``+``), the lower-cased mailbox for
    e-mail."""
    value = normalise_address(channel, address)
    if channel is Channel.EMAIL:
        return value.lower()
    if value and not value.startswith("+"):
        value = "+" + value
    return normalise_phone(value) or value


def _column_limit(name: str) -> int:
    return inbound.c[name].type.length


def store_inbound(connection: Connection, envelope: InboundEnvelope, now: datetime) -> int | None:
    """Keep the raw message; its id, or ``None`` when this provider message was stored before
    (a provider or Kafka redelivery: the caller does nothing more)."""
    key = {
        "provider": envelope.provider[: _column_limit("provider")],
        "provider_message_id": envelope.provider_message_id[: _column_limit("provider_message_id")],
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
    if insert_ignore(connection, inbound, [row]) == 0:
        return None
    return connection.execute(
        select(inbound.c.id).where(
            inbound.c.provider == key["provider"],
            inbound.c.provider_message_id == key["provider_message_id"],
        )
    ).scalar_one()


@dataclass(frozen=True, slots=True)
class AddressHolder:
    """A patient reachable at the address a reply came from, with what the reply may change."""

    patient_id: str
    org_id: str
    language: str | None
    opted_out: frozenset[Channel]
    address: str = field(repr=False)  # canonical form, on the reply's channel


def _address_columns(channel: Channel) -> list[Any]:
    if channel is Channel.EMAIL:
        return [patient_prefs.c.email]
    if channel is Channel.SMS:
        return [patient_prefs.c.phone]
    return [patient_prefs.c.whatsapp, patient_prefs.c.phone]


def _address_on(channel: Channel, row: Mapping[str, Any]) -> str | None:
    """The address a channel sends to (WhatsApp falls back to the phone, as channel_choice does)."""
    if channel is Channel.EMAIL:
        return row["email"]
    if channel is Channel.SMS:
        return row["phone"]
    return row["whatsapp"] if row["whatsapp"] is not None else row["phone"]


def _stripped(column: Any) -> Any:
    for character in _PHONE_DECORATION:
        column = func.replace(column, character, "")
    return column


def find_patients_at_address(
    connection: Connection, channel: Channel, address: str, *, lock: bool = True
) -> list[AddressHolder]:
    """Every patient whose address on ``channel`` is ``address`` (canonical), by patient id.

    Stored numbers are compared in E.164 too: an indexed lookup of the usual spellings first,
    then, only when that finds nobody, a scan that strips spaces, dashes and brackets. With
    ``lock`` the preference rows stay locked to the end of the transaction, so two replies from
    one address cannot both believe they flipped its opt-out.
    """
    if channel is Channel.EMAIL:
        condition = func.lower(patient_prefs.c.email) == address
        found = _select_ids(connection, condition)
    else:
        variants = sorted({address, address.lstrip("+")})
        columns = _address_columns(channel)
        found = _select_ids(connection, or_(*(c.in_(variants) for c in columns)))
        if not found:
            found = _select_ids(connection, or_(*(_stripped(c).in_(variants) for c in columns)))
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
    holders = []
    for row in connection.execute(query).mappings():
        stored = _address_on(channel, row)
        # The SQL match was loose (case, decoration): only a canonical match counts.
        if stored is None or canonical_address(channel, stored) != address:
            continue
        holders.append(
            AddressHolder(
                patient_id=row["patient_id"],
                org_id=row["org_id"],
                language=row["language"],
                opted_out=frozenset(c for c in Channel if row[f"opted_out_{c.value}"]),
                address=address,
            )
        )
    return holders


def _select_ids(connection: Connection, condition: Any) -> set[str]:
    return set(connection.execute(select(patient_prefs.c.patient_id).where(condition)).scalars())


def load_outstanding_requests(
    connection: Connection,
    patient_ids: Sequence[str],
    channel: Channel,
    address: str,
    received_at: datetime,
    window: timedelta,
) -> list[OutstandingRequest]:
    """Jobs sent to these patients on ``channel`` within ``window`` before ``received_at`` that
    still await an answer, newest first. ``address`` is where they went (the reply's sender)."""
    if not patient_ids:
        return []
    rows = connection.execute(
        select(jobs.c.id, jobs.c.patient_id, jobs.c.appointment_id, jobs.c.sent_at, jobs.c.purpose)
        .where(
            jobs.c.patient_id.in_(list(patient_ids)),
            jobs.c.channel == channel.value,
            jobs.c.status.in_([s.value for s in OUTSTANDING_STATUSES]),
            jobs.c.sent_at >= received_at - window,
            jobs.c.sent_at <= received_at,
        )
        .order_by(jobs.c.sent_at.desc(), jobs.c.id.desc())
        .limit(MAX_OUTSTANDING)
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


def unknown_sender_opted_out(
    connection: Connection, channel: Channel, from_address: str, before_id: int
) -> bool:
    """Whether an address no patient holds said STOP last (rather than START) before now.

    Its consent lives nowhere else; this keeps a second STOP from an unknown number from
    drawing a second confirmation.
    """
    last = connection.execute(
        select(inbound.c.intent)
        .where(
            inbound.c.channel == channel.value,
            inbound.c.from_address == from_address[: _column_limit("from_address")],
            inbound.c.patient_id.is_(None),
            inbound.c.intent.in_(["stop", "start"]),
            inbound.c.id < before_id,
        )
        .order_by(inbound.c.id.desc())
        .limit(1)
    ).scalar()
    return last == "stop"


def set_opted_out(
    connection: Connection,
    patient_ids: Iterable[str],
    channels: Iterable[Channel],
    opted_out: bool,
    now: datetime,
) -> int:
    """Set (STOP) or clear (START) the opt-out flag; returns how many flags actually changed,
    0 when every one already had that value."""
    ids = sorted(set(patient_ids))
    if not ids:
        return 0
    changed = 0
    for channel in sorted(set(channels)):
        column = patient_prefs.c[f"opted_out_{Channel(channel).value}"]
        # NULL counts as "not opted out", like everywhere else that reads the flag.
        differs = column.is_not(True) if opted_out else column.is_(True)
        result = connection.execute(
            update(patient_prefs)
            .where(patient_prefs.c.patient_id.in_(ids), differs)
            .values({column: opted_out, patient_prefs.c.updated_at: now})
        )
        changed += result.rowcount
    return changed


def opt_out(
    connection: Connection, patient_ids: Iterable[str], channels: Iterable[Channel], now: datetime
) -> bool:
    """Opt the patients out of ``channels``; True when this call changed something."""
    return set_opted_out(connection, patient_ids, channels, True, now) > 0


def opt_in(
    connection: Connection, patient_ids: Iterable[str], channel: Channel, now: datetime
) -> bool:
    """Clear the opt-out on ``channel``; True when this call changed something."""
    return set_opted_out(connection, patient_ids, [channel], False, now) > 0


def touch_whatsapp_inbound(
    connection: Connection, patient_ids: Iterable[str], received_at: datetime
) -> None:
    """Open WhatsApp's 24-hour service window (free-form replies allowed); never moves it back."""
    ids = sorted(set(patient_ids))
    if not ids:
        return
    column = patient_prefs.c.last_inbound_whatsapp_at
    connection.execute(
        update(patient_prefs)
        .where(
            patient_prefs.c.patient_id.in_(ids),
            or_(column.is_(None), column < received_at),
        )
        .values(last_inbound_whatsapp_at=received_at)
    )


def mark_job_replied(
    connection: Connection, job_id: int, replied_at: datetime, now: datetime
) -> bool:
    """Move a sent job to ``replied`` (forward only: never from queued, a side exit or
    ``replied`` itself); True when it moved."""
    result = connection.execute(
        update(jobs)
        .where(jobs.c.id == job_id, jobs.c.status.in_(_REPLIED_FROM))
        .values(status=JobStatus.REPLIED.value, replied_at=replied_at, updated_at=now)
    )
    return result.rowcount == 1


def record_parse(
    connection: Connection,
    inbound_id: int,
    *,
    patient_id: str | None,
    job_id: int | None,
    intent: str,
    confidence: float,
    language: str | None,
    handled_at: datetime,
) -> None:
    """What the stored message was understood as, and who and which job it was attached to."""
    connection.execute(
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


def add_audit_entries(connection: Connection, entries: Sequence[Mapping[str, Any]]) -> None:
    """Append audit rows (``occurred_at``, ``actor``, ``patient_id``, ``action``, ``detail``)."""
    if entries:
        connection.execute(audit_log.insert(), [dict(entry) for entry in entries])


@dataclass(frozen=True, slots=True)
class ClinicContact:
    """What a reply text may say about the clinic: nothing about the patient."""

    name: str | None
    phone: str | None
    booking_url: str | None
    language: str | None


def load_clinic_contact(connection: Connection, org_id: str | None) -> ClinicContact | None:
    if org_id is None:
        return None
    row = connection.execute(
        select(
            org_prefs.c.name,
            org_prefs.c.clinic_phone,
            org_prefs.c.booking_url,
            org_prefs.c.language,
        ).where(org_prefs.c.org_id == org_id)
    ).first()
    if row is None:
        return None
    return ClinicContact(row.name, row.clinic_phone, row.booking_url, row.language)


def inbound_row(connection: Connection, inbound_id: int) -> dict[str, Any] | None:
    """One stored inbound message (for tests and the staff inbox)."""
    row = connection.execute(select(inbound).where(inbound.c.id == inbound_id)).mappings().first()
    return dict(row) if row is not None else None


def latest_contacted(
    connection: Connection, patient_ids: Sequence[str], channel: Channel
) -> str | None:
    """Of patients sharing an address, the one most recently sent something on ``channel``."""
    if not patient_ids:
        return None
    return connection.execute(
        select(jobs.c.patient_id)
        .where(
            jobs.c.patient_id.in_(list(patient_ids)),
            jobs.c.channel == channel.value,
            jobs.c.sent_at.is_not(None),
        )
        .order_by(jobs.c.sent_at.desc(), jobs.c.id.desc())
        .limit(1)
    ).scalar()
