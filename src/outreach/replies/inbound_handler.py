"""``outreach.inbound`` -> stored, understood and acted on: the I/O edge of the replies package.

Per inbound message, one transaction: store it raw (a provider or Kafka redelivery stops here),
find who sent it, parse it, attach it to the request it answers, plan the actions (the pure
``plan_actions``) and carry out the database ones. After the commit, the automatic answers go out
through the channel workers on a thread pool, and the batch result carries the outcomes and
staff-inbox items the faust agent publishes.

Exactly once for compliance confirmations comes from the database: the sender's preference rows
are locked while the reply is planned, so only the message that flips the opt-out flag plans a
confirmation; a second STOP finds it set and plans none.
"""

from __future__ import annotations

import asyncio
import json
import logging
from collections import Counter
from collections.abc import Awaitable, Callable, Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING, Any

from pydantic import AwareDatetime, BaseModel, ValidationError
from sqlalchemy import Connection, Engine
from sqlalchemy import exc as sa_exc

from outreach.channels.base import ChannelWorker, OutboundMessage, SendError, SendReceipt
from outreach.clock import Clock
from outreach.dead_letters import DeadLetter, dead_letter
from outreach.domain import Channel
from outreach.events import InboundEnvelope, Outcome
from outreach.replies.actions import (
    Action,
    AuditEntry,
    CancelPendingNonUrgentJobs,
    MarkJobReplied,
    OptIn,
    OptOut,
    OutcomeType,
    PublishOutcome,
    ReplyKind,
    RouteToStaff,
    SendReply,
    plan_actions,
)
from outreach.replies.intents import ParsedReply
from outreach.replies.matching import OutstandingRequest, match_reply_to_job
from outreach.replies.parser import ReplyParser, default_parser, normalise_language_hint
from outreach.replies.reply_texts import render_reply, reply_language
from outreach.sql import reply_repository
from outreach.sql.job_repository import JobRepository
from outreach.sql.reply_repository import AddressHolder, ClinicContact
from outreach.topics import INBOUND, OUTCOMES, STAFF_INBOX

if TYPE_CHECKING:
    import faust

    from outreach.config import Settings

logger = logging.getLogger(__name__)

# Batches stay small: a reply should be acted on within a second of the webhook.
INBOUND_BATCH_SIZE = 200
INBOUND_BATCH_WITHIN_SECONDS = 0.05
# A database outage holds the partition (an opt-out must not be skipped), retrying up to this.
MAX_RETRY_DELAY_SECONDS = 30.0
# A clock offset smaller than this is scheduling noise, not the demo's shifted clock.
_CLOCK_SHIFT_NOISE = timedelta(seconds=1)
ACTOR_PREFIX = "patient-reply:"
_CONSENT_OUTCOMES = (OutcomeType.PATIENT_OPTED_OUT, OutcomeType.PATIENT_OPTED_IN)


class StaffInboxItem(BaseModel):
    """``outreach.staff_inbox``: a reply a person must read (key: patient id, if known).

    It carries the body and the sender's address because staff act on them; neither is ever
    logged, and ``repr`` masks both.
    """

    inbound_id: int
    patient_id: str | None
    org_id: str | None
    channel: Channel
    reason: str
    intent: str
    confidence: float
    language: str | None
    job_id: int | None
    provider: str
    provider_message_id: str
    received_at: AwareDatetime
    from_address: str
    body: str

    def __repr__(self) -> str:
        return (
            f"StaffInboxItem(inbound_id={self.inbound_id!r}, patient_id={self.patient_id!r}, "
            f"reason={self.reason!r}, body=<{len(self.body)} chars>)"
        )

    __str__ = __repr__  # pydantic's str() would list every field, the body included


@dataclass
class ReplyBatchResult:
    """What one batch did, and what the caller publishes (outcomes, staff items, dead letters).

    ``unprocessed``: envelopes not handled because the database was unreachable; the caller
    retries them (those before them are committed and their outputs are here).
    """

    received: int = 0
    handled: int = 0
    duplicates: int = 0
    unknown_sender: int = 0
    intents: Counter[str] = field(default_factory=Counter)
    consent_flags_changed: int = 0
    jobs_replied: int = 0
    jobs_cancelled: int = 0
    replies_sent: int = 0
    reply_failures: int = 0
    outcomes: list[Outcome] = field(default_factory=list)
    staff_items: list[StaffInboxItem] = field(default_factory=list)
    dead_letters: list[DeadLetter] = field(default_factory=list)
    unprocessed: list[InboundEnvelope] = field(default_factory=list)


@dataclass(frozen=True, slots=True)
class _Reply:
    inbound_id: int
    patient_id: str | None
    kind: ReplyKind
    message: OutboundMessage


@dataclass
class _Run:
    """One inbound message in flight: its context and what executing its actions produced."""

    envelope: InboundEnvelope
    inbound_id: int
    channel: Channel
    received_at: datetime  # in the process clock's frame
    now: datetime
    holders: list[AddressHolder]
    primary: AddressHolder | None
    parsed: ParsedReply
    matched: OutstandingRequest | None
    flags_changed: int = 0
    inbound_flag_changed: bool = False
    jobs_cancelled: int = 0
    job_replied: bool = False
    contact: ClinicContact | None = None
    contact_loaded: bool = False
    outcomes: list[Outcome] = field(default_factory=list)
    staff_items: list[StaffInboxItem] = field(default_factory=list)
    replies: list[_Reply] = field(default_factory=list)
    audits: list[dict[str, Any]] = field(default_factory=list)

    @property
    def holder_ids(self) -> list[str]:
        return [holder.patient_id for holder in self.holders]

    def org_of(self, patient_id: str | None) -> str | None:
        for holder in self.holders:
            if holder.patient_id == patient_id:
                return holder.org_id
        return None


def _is_transient(error: BaseException) -> bool:
    """Database trouble worth waiting out (connection lost, deadlock, lock timeout)."""
    if isinstance(error, sa_exc.DBAPIError) and error.connection_invalidated:
        return True
    return isinstance(error, sa_exc.OperationalError | sa_exc.InterfaceError | sa_exc.TimeoutError)


class ReplyHandler:
    """Handles batches of inbound messages (blocking; faust runs it in a thread).

    ``match_window``: how long after a request a reply may still answer it. ``booking_url``:
    the link for reschedule answers when the clinic has none of its own. ``send_pool``: where
    the answers are sent (the SDKs block); one is made when ``None``.
    ``carrier_answers_keywords``: the SMS provider answers STOP/START/HELP itself (Twilio
    Advanced Opt-Out), so those get no second answer from us.
    """

    def __init__(
        self,
        engine: Engine,
        channels: dict[str, ChannelWorker],
        *,
        clock: Clock,
        match_window: timedelta,
        parser: ReplyParser | None = None,
        booking_url: str,
        send_pool: ThreadPoolExecutor | None,
        carrier_answers_keywords: bool = False,
    ) -> None:
        if match_window < timedelta(0):
            raise ValueError("match_window must not be negative")
        self.engine = engine
        self.channels = channels
        self.clock = clock
        self.match_window = match_window
        self.parser = parser or default_parser()
        self.booking_url = booking_url
        self._own_pool = send_pool is None
        self.send_pool = send_pool or ThreadPoolExecutor(
            max_workers=8, thread_name_prefix="outreach-reply-send"
        )
        self.carrier_answers_keywords = carrier_answers_keywords

    def close(self) -> None:
        if self._own_pool:
            self.send_pool.shutdown(wait=True)

    def warm_up(self) -> None:
        """Train the parser's models now, not on the first patient's reply."""
        self.parser.parse("warm up")

    # ---- the batch ----

    def handle(self, envelopes: Sequence[InboundEnvelope]) -> ReplyBatchResult:
        """Store, parse and act on each message in order (one transaction each), then send the
        answers. A failing message goes to the dead letters and the others go on; a database
        outage stops the batch and returns the rest as ``unprocessed``."""
        result = ReplyBatchResult(received=len(envelopes))
        in_flight: list[tuple[_Reply, Future[SendReceipt] | None]] = []
        for index, envelope in enumerate(envelopes):
            try:
                run = self._handle_one(envelope)
            except Exception as error:
                if _is_transient(error):
                    logger.warning(
                        "inbound batch paused on %s; %d message(s) left",
                        type(error).__name__,
                        len(envelopes) - index,
                    )
                    result.unprocessed = list(envelopes[index:])
                    break
                logger.error(
                    "inbound %s/%s failed: %s",
                    envelope.provider,
                    envelope.provider_message_id,
                    type(error).__name__,
                )
                result.dead_letters.append(self._processing_dead_letter(envelope, error))
                continue
            if run is None:
                result.duplicates += 1
                continue
            self._count(run, result)
            # Answers leave as soon as their transaction committed; the next message goes on.
            in_flight += [(reply, self._submit(reply)) for reply in run.replies]
        for reply, future in in_flight:
            self._collect(reply, future, result)
        return result

    def _count(self, run: _Run, result: ReplyBatchResult) -> None:
        result.handled += 1
        result.intents[run.parsed.intent.value] += 1
        if not run.holders:
            result.unknown_sender += 1
        result.consent_flags_changed += run.flags_changed
        result.jobs_cancelled += run.jobs_cancelled
        result.jobs_replied += int(run.job_replied)
        result.outcomes += run.outcomes
        result.staff_items += run.staff_items

    def _submit(self, reply: _Reply) -> Future[SendReceipt] | None:
        worker = self.channels.get(reply.message.channel)
        if worker is None:
            return None
        return self.send_pool.submit(worker.send, reply.message)

    def _collect(
        self, reply: _Reply, future: Future[SendReceipt] | None, result: ReplyBatchResult
    ) -> None:
        if future is None:
            error_text = f"no {reply.message.channel} worker in this process"
        else:
            try:
                future.result()
            except SendError as error:
                error_text = f"{type(error).__name__} {error.provider_code}"
            except Exception as error:  # an SDK bug or network oddity
                error_text = type(error).__name__
            else:
                result.replies_sent += 1
                return
        result.reply_failures += 1
        logger.warning(
            "inbound %d: %s answer not sent: %s", reply.inbound_id, reply.kind.value, error_text
        )
        result.dead_letters.append(
            dead_letter(
                source_topic=INBOUND,
                stage="replies.send",
                kind="send",
                error=error_text,
                failed_at=self.clock(),
                original=json.dumps(
                    {
                        "inbound_id": reply.inbound_id,
                        "reply_kind": reply.kind.value,
                        "channel": reply.message.channel,
                    }
                ),
                key=reply.patient_id,
            )
        )

    def _processing_dead_letter(self, envelope: InboundEnvelope, error: Exception) -> DeadLetter:
        # dead_letter keeps the type only: a database error quotes its parameters (the body).
        return dead_letter(
            source_topic=INBOUND,
            stage="replies.handle",
            kind="processing",
            error=error,
            failed_at=self.clock(),
            original=envelope.model_dump_json(by_alias=True),
        )

    # ---- one message ----

    def _received_at(self, envelope: InboundEnvelope, now: datetime) -> datetime:
        """The provider's receipt time in this process's clock frame.

        The demo's shared clock runs ahead of real time (so reminders fall due in seconds)
        while the provider stamps real time; shifting keeps a reply after the request it answers.
        """
        shift = now - datetime.now(UTC)
        if abs(shift) < _CLOCK_SHIFT_NOISE:
            return envelope.received_at
        return envelope.received_at + shift

    def _handle_one(self, envelope: InboundEnvelope) -> _Run | None:
        now = self.clock()
        channel = Channel(envelope.channel)
        received_at = self._received_at(envelope, now)
        with self.engine.begin() as connection:
            inbound_id = reply_repository.store_inbound(connection, envelope, now)
            if inbound_id is None:
                logger.debug(
                    "inbound %s/%s already handled", envelope.provider, envelope.provider_message_id
                )
                return None
            address = reply_repository.canonical_address(channel, envelope.from_)
            holders = reply_repository.find_patients_at_address(connection, channel, address)
            requests = reply_repository.load_outstanding_requests(
                connection,
                [h.patient_id for h in holders],
                channel,
                address,
                received_at,
                self.match_window,
            )
            matched = match_reply_to_job(requests, channel, address, received_at, self.match_window)
            primary = self._primary(connection, holders, matched, channel)
            if holders:
                # The address is opted out only when nobody at it can be messaged on it.
                opted_out = all(channel in holder.opted_out for holder in holders)
            else:
                opted_out = reply_repository.unknown_sender_opted_out(
                    connection, channel, envelope.from_, inbound_id
                )
            parsed = self.parser.parse(envelope.body, _language_hint(primary), opted_out=opted_out)
            actions = plan_actions(
                parsed,
                matched,
                channel=channel,
                patient_id=primary.patient_id if primary else None,
                already_opted_out=opted_out,
                carrier_answers_keywords=self.carrier_answers_keywords,
            )
            run = _Run(
                envelope, inbound_id, channel, received_at, now, holders, primary, parsed, matched
            )
            for action in actions:
                self._execute(connection, action, run)
            if channel is Channel.WHATSAPP and holders:
                reply_repository.touch_whatsapp_inbound(connection, run.holder_ids, received_at)
            reply_repository.record_parse(
                connection,
                inbound_id,
                patient_id=primary.patient_id if primary else None,
                job_id=int(matched.job_id) if matched else None,
                intent=parsed.intent.value,
                confidence=parsed.confidence,
                language=parsed.language,
                handled_at=now,
            )
            reply_repository.add_audit_entries(connection, run.audits)
        logger.info(
            "inbound %d: %s (%s), patient %s, job %s, %d answer(s)",
            inbound_id,
            parsed.intent.value,
            parsed.matched_rule,
            primary.patient_id if primary else None,
            matched.job_id if matched else None,
            len(run.replies),
        )
        return run

    @staticmethod
    def _primary(
        connection: Connection,
        holders: list[AddressHolder],
        matched: OutstandingRequest | None,
        channel: Channel,
    ) -> AddressHolder | None:
        """Whose reply it is: the patient the matched request went to; of several patients at one
        address without a match, the one most recently messaged there."""
        if not holders:
            return None
        by_id = {holder.patient_id: holder for holder in holders}
        if matched is not None and matched.patient_id in by_id:
            return by_id[matched.patient_id]
        if len(holders) > 1:
            latest = reply_repository.latest_contacted(connection, list(by_id), channel)
            if latest in by_id:
                return by_id[latest]
        return holders[0]

    # ---- actions ----

    def _execute(self, connection: Connection, action: Action, run: _Run) -> None:
        if isinstance(action, OptOut):
            self._opt_out(connection, action, run)
        elif isinstance(action, OptIn):
            changed = reply_repository.set_opted_out(
                connection, run.holder_ids, [action.channel], False, run.now
            )
            run.flags_changed += changed
            run.inbound_flag_changed = changed > 0
        elif isinstance(action, CancelPendingNonUrgentJobs):
            for patient_ids, channels in self._consent_targets(
                action.patient_id, action.channels, run
            ):
                for patient_id in patient_ids:
                    run.jobs_cancelled += JobRepository(connection).cancel_pending_for_patient(
                        patient_id, channels, run.now
                    )
        elif isinstance(action, MarkJobReplied):
            run.job_replied = reply_repository.mark_job_replied(
                connection, int(action.job_id), run.received_at, run.now
            )
        elif isinstance(action, PublishOutcome):
            self._outcome(action, run)
        elif isinstance(action, RouteToStaff):
            run.staff_items.append(self._staff_item(action, run))
        elif isinstance(action, AuditEntry):
            run.audits.append(self._audit_row(action, run))
        elif isinstance(action, SendReply):
            self._reply(connection, action, run)
        else:  # a new action type must be wired here before plan_actions emits it
            raise TypeError(f"unhandled reply action {type(action).__name__}")

    def _consent_targets(
        self, patient_id: str | None, channels: frozenset[Channel], run: _Run
    ) -> list[tuple[list[str], set[Channel]]]:
        """Who a consent change reaches: on the reply's channel everyone at that address (consent
        belongs to the number or mailbox); on other channels (STOPALL) the sender only."""
        targets: list[tuple[list[str], set[Channel]]] = []
        if run.channel in channels and run.holders:
            targets.append((run.holder_ids, {run.channel}))
        others = set(channels) - {run.channel}
        if others and patient_id is not None:
            targets.append(([patient_id], others))
        return targets

    def _opt_out(self, connection: Connection, action: OptOut, run: _Run) -> None:
        patient_id = run.primary.patient_id if run.primary else None
        for patient_ids, channels in self._consent_targets(patient_id, action.channels, run):
            changed = reply_repository.set_opted_out(
                connection, patient_ids, channels, True, run.now
            )
            run.flags_changed += changed
            if run.channel in channels and changed:
                run.inbound_flag_changed = True

    def _outcome(self, action: PublishOutcome, run: _Run) -> None:
        payload = dict(action.payload)
        patient_id = payload.pop("patient_id", None)
        appointment_id = payload.pop("appointment_id", None)
        job_id = payload.pop("job_id", None)
        data = {**payload, "inbound_id": run.inbound_id, "channel": run.channel.value}
        outcome = Outcome(
            type=action.type.value,
            occurred_at=run.received_at,
            patient_id=str(patient_id) if patient_id is not None else None,
            org_id=run.org_of(str(patient_id)) if patient_id is not None else None,
            appointment_id=str(appointment_id) if appointment_id is not None else None,
            job_id=int(job_id) if job_id is not None else None,
            data=data,
        )
        run.outcomes.append(outcome)
        if action.type in _CONSENT_OUTCOMES:
            # Others at the same address changed too: the core platform hears of each patient.
            for holder in run.holders:
                if holder.patient_id != outcome.patient_id:
                    run.outcomes.append(
                        outcome.model_copy(
                            update={
                                "patient_id": holder.patient_id,
                                "org_id": holder.org_id,
                                "data": {
                                    **data,
                                    "channels": [run.channel.value],
                                    "stop_all": False,
                                    "shared_address": True,
                                },
                            }
                        )
                    )

    def _staff_item(self, action: RouteToStaff, run: _Run) -> StaffInboxItem:
        envelope = run.envelope
        patient_id = run.primary.patient_id if run.primary else None
        return StaffInboxItem(
            inbound_id=run.inbound_id,
            patient_id=patient_id,
            org_id=run.org_of(patient_id),
            channel=run.channel,
            reason=action.reason.value,
            intent=action.intent.value,
            confidence=round(run.parsed.confidence, 4),
            language=run.parsed.language,
            job_id=int(action.job_id) if action.job_id is not None else None,
            provider=envelope.provider,
            provider_message_id=envelope.provider_message_id,
            received_at=envelope.received_at,
            from_address=envelope.from_,
            body=envelope.body,
        )

    def _audit_row(self, action: AuditEntry, run: _Run) -> dict[str, Any]:
        detail = {
            **action.detail,
            "inbound_id": str(run.inbound_id),
            "channel": run.channel.value,
            "flags_changed": str(run.flags_changed),
            "jobs_cancelled": str(run.jobs_cancelled),
        }
        if len(run.holders) > 1:
            detail["shared_with"] = ",".join(
                pid for pid in run.holder_ids if pid != action.detail.get("patient_id")
            )
        return {
            "occurred_at": run.now,
            "actor": f"{ACTOR_PREFIX}{run.inbound_id}",
            "patient_id": action.detail.get("patient_id") or None,
            "action": action.action,
            "detail": detail,
        }

    def _reply(self, connection: Connection, action: SendReply, run: _Run) -> None:
        consent_reply = action.kind in (
            ReplyKind.OPT_OUT_CONFIRMATION,
            ReplyKind.OPT_IN_CONFIRMATION,
        )
        if consent_reply and run.holders and not run.inbound_flag_changed:
            # Planned on a read the update contradicts: another message already confirmed.
            logger.info(
                "inbound %d: %s skipped, consent unchanged", run.inbound_id, action.kind.value
            )
            return
        if not run.contact_loaded:
            run.contact = reply_repository.load_clinic_contact(
                connection, run.primary.org_id if run.primary else None
            )
            run.contact_loaded = True
        contact = run.contact
        language = reply_language(
            action.language,
            run.primary.language if run.primary else None,
            contact.language if contact else None,
        )
        clinic_name = contact.name if contact else None
        body = render_reply(
            action.kind,
            language,
            clinic_name=clinic_name,
            clinic_phone=contact.phone if contact else None,
            booking_link=(contact.booking_url if contact else None) or self.booking_url,
        )
        channel = Channel(action.channel)
        to = (
            run.primary.address
            if run.primary and channel is run.channel
            else reply_repository.canonical_address(channel, run.envelope.from_)
        )
        message = OutboundMessage(
            job_id=f"reply-{run.inbound_id}",
            channel=channel.value,
            to=to,
            subject=(clinic_name or "Re:") if channel is Channel.EMAIL else None,
            body=body,
            idempotency_key=f"reply:{run.inbound_id}:{action.kind.value}",
        )
        run.replies.append(
            _Reply(
                run.inbound_id,
                run.primary.patient_id if run.primary else None,
                action.kind,
                message,
            )
        )

    # ---- the faust agent ----

    def register(
        self,
        app: faust.App,
        run_blocking: Callable[..., Awaitable[Any]],
        publish_dead_letters: Callable[[Sequence[DeadLetter]], Awaitable[None]],
    ) -> None:
        """Add the ``outreach.inbound`` agent to the worker app.

        Offsets move on only after the batch was handled and its outputs published; a crash in
        between redelivers the batch, and the stored message ids make the second run a no-op.
        """
        inbound_topic = app.topic(INBOUND, value_serializer="raw", key_serializer="raw")
        outcomes_topic = app.topic(OUTCOMES, value_serializer="raw", key_serializer="raw")
        staff_topic = app.topic(STAFF_INBOX, value_serializer="raw", key_serializer="raw")

        async def publish(result: ReplyBatchResult) -> None:
            for outcome in result.outcomes:
                await outcomes_topic.send(
                    key=_key(outcome.patient_id), value=outcome.model_dump_json().encode()
                )
            for item in result.staff_items:
                await staff_topic.send(
                    key=_key(item.patient_id), value=item.model_dump_json().encode()
                )
            await publish_dead_letters(result.dead_letters)

        async def publish_until_done(result: ReplyBatchResult) -> None:
            # The database work is committed: only publishing is retried, never the handling.
            # A retry may repeat an outcome; the consumers are idempotent, a lost one is not.
            delay = 0.5
            while True:
                try:
                    await publish(result)
                    return
                except Exception as error:
                    logger.error(
                        "publishing reply results failed: %s; retry in %.1fs",
                        type(error).__name__,
                        delay,
                    )
                await asyncio.sleep(delay)
                delay = min(delay * 2, MAX_RETRY_DELAY_SECONDS)

        async def handle_inbound(stream: faust.StreamT) -> None:
            async for events in stream.take_events(
                INBOUND_BATCH_SIZE, within=INBOUND_BATCH_WITHIN_SECONDS
            ):
                envelopes, malformed = parse_envelopes(
                    [(e.message.key, e.message.value) for e in events], self.clock()
                )
                await publish_dead_letters(malformed)
                delay = 0.5
                while envelopes:
                    try:
                        result = await run_blocking(self.handle, envelopes)
                    except Exception as error:  # handle() catches per message; belt and braces
                        logger.error(
                            "inbound batch failed: %s; retry in %.1fs", type(error).__name__, delay
                        )
                    else:
                        await publish_until_done(result)
                        envelopes = result.unprocessed
                        if not envelopes:
                            break
                        logger.warning(
                            "%d inbound message(s) wait for the database; retry in %.1fs",
                            len(envelopes),
                            delay,
                        )
                    await asyncio.sleep(delay)
                    delay = min(delay * 2, MAX_RETRY_DELAY_SECONDS)

        app.agent(inbound_topic, name="outreach.replies")(handle_inbound)


def _key(patient_id: str | None) -> bytes | None:
    return patient_id.encode() if patient_id else None


def _language_hint(holder: AddressHolder | None) -> str | None:
    """The patient's recorded language, if it is a usable ISO 639-1 hint."""
    if holder is None or not holder.language:
        return None
    try:
        return normalise_language_hint(holder.language)
    except ValueError:
        return None


def parse_envelopes(
    messages: Sequence[tuple[bytes | None, bytes | None]], now: datetime
) -> tuple[list[InboundEnvelope], list[DeadLetter]]:
    """Kafka values -> envelopes; one that does not parse becomes a dead letter with a PHI-free
    reason (field paths, never values)."""
    envelopes: list[InboundEnvelope] = []
    malformed: list[DeadLetter] = []
    for key, value in messages:
        raw = value or b""
        try:
            envelopes.append(InboundEnvelope.model_validate_json(raw))
        except ValidationError as error:
            malformed.append(
                dead_letter(
                    source_topic=INBOUND,
                    stage="replies.parse",
                    error=error,
                    failed_at=now,
                    original=raw,
                    key=key,
                )
            )
    return envelopes, malformed


def build_reply_handler(
    settings: Settings,
    engine: Engine,
    clock: Clock,
    channels: dict[str, ChannelWorker],
) -> ReplyHandler:
    """The handler the worker's "replies" role registers, built from settings.

    Every guarantee here rests on the database. The parser's models are trained here, at
    start-up, so the first patient's reply is not the one that waits for them.
    """
    handler = ReplyHandler(
        engine,
        channels,
        clock=clock,
        match_window=timedelta(hours=settings.reply_match_window_hours),
        booking_url=settings.default_booking_url,
        send_pool=None,  # its own small pool: replies are few, and close() shuts it down
        carrier_answers_keywords=settings.twilio_answers_keywords,
    )
    handler.warm_up()
    return handler
