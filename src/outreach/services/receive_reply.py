"""Use case "receive a reply": inbound messages -> stored, understood and acted on.

Per inbound message, one transaction: store it raw (a provider or Kafka redelivery stops here),
find who sent it, parse it, attach it to the request it answers, plan the actions (the pure
``plan_actions``) and carry out the database ones through the repositories. After the commit,
the automatic answers go out through the reply sender on a thread pool, and the batch result
carries the outcomes, staff-inbox items and dead letters the caller publishes.

Exactly once for compliance confirmations comes from the database: the sender's preference rows
are locked while the reply is planned, so only the message that flips the opt-out flag plans a
confirmation; a second STOP finds it set and plans none.
"""

from __future__ import annotations

import json
import logging
from collections import Counter
from collections.abc import Callable, Sequence
from concurrent.futures import Executor, Future
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING

from outreach.dead_letters import DeadLetter, dead_letter
from outreach.domain import AuditRecord, Channel, ClinicContact
from outreach.events import InboundEnvelope, StaffInboxItem, TypedOutcome, typed_outcome
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
from outreach.replies.addresses import (
    AddressHolder,
    canonical_address,
    consent_scopes,
    holders_of,
)
from outreach.replies.answers import ReplyMessage, ReplyNotSent, ReplySender, compose_answer
from outreach.replies.intents import ParsedReply, ReplyIntent
from outreach.replies.matching import (
    AWAITING_ANSWER,
    MAX_OUTSTANDING,
    OutstandingRequest,
    match_reply_to_job,
)
from outreach.replies.parser import ReplyParser, normalise_language_hint
from outreach.topics import INBOUND

if TYPE_CHECKING:
    from outreach.sql.store import Repositories, Store

logger = logging.getLogger(__name__)

# A clock offset smaller than this is scheduling noise, not the demo's shifted clock.
_CLOCK_SHIFT_NOISE = timedelta(seconds=1)
ACTOR_PREFIX = "patient-reply:"
RECEIVER = "system:replies"
_CONSENT_OUTCOMES = (OutcomeType.PATIENT_OPTED_OUT, OutcomeType.PATIENT_OPTED_IN)
_CONSENT_REPLIES = (ReplyKind.OPT_OUT_CONFIRMATION, ReplyKind.OPT_IN_CONFIRMATION)
# What an unknown address said last about its consent, STOP or START.
_CONSENT_INTENTS = (ReplyIntent.STOP, ReplyIntent.START)


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
    outcomes: list[TypedOutcome] = field(default_factory=list)
    staff_items: list[StaffInboxItem] = field(default_factory=list)
    dead_letters: list[DeadLetter] = field(default_factory=list)
    unprocessed: list[InboundEnvelope] = field(default_factory=list)


@dataclass(frozen=True, slots=True)
class _Answer:
    inbound_id: int
    patient_id: str | None
    kind: ReplyKind
    message: ReplyMessage


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
    outcomes: list[TypedOutcome] = field(default_factory=list)
    staff_items: list[StaffInboxItem] = field(default_factory=list)
    answers: list[_Answer] = field(default_factory=list)
    audits: list[AuditRecord] = field(default_factory=list)

    @property
    def holder_ids(self) -> list[str]:
        return [holder.patient_id for holder in self.holders]

    @property
    def primary_id(self) -> str | None:
        return self.primary.patient_id if self.primary else None

    def org_of(self, patient_id: str | None) -> str | None:
        for holder in self.holders:
            if holder.patient_id == patient_id:
                return holder.org_id
        return None


class ReplyService:
    """Receives batches of inbound messages (blocking; the faust agent runs it in a thread).

    ``is_transient``: whether an error is database trouble worth waiting out (the sql layer's
    classifier). ``send_pool``: where the answers are sent (the SDKs block). ``match_window``:
    how long after a request a reply may still answer it. ``default_booking_url``: the link for
    reschedule answers when the clinic has none of its own. ``carrier_answers_keywords``: the SMS
    provider answers STOP/START/HELP itself (Twilio Advanced Opt-Out), so those get no second
    answer from us.
    """

    def __init__(
        self,
        store: Store,
        parser: ReplyParser,
        sender: ReplySender,
        *,
        clock: Callable[[], datetime],
        is_transient: Callable[[BaseException], bool],
        send_pool: Executor,
        match_window: timedelta,
        default_booking_url: str,
        carrier_answers_keywords: bool = False,
    ) -> None:
        if match_window < timedelta(0):
            raise ValueError("match_window must not be negative")
        self.store = store
        self.parser = parser
        self.sender = sender
        self.clock = clock
        self.is_transient = is_transient
        self.send_pool = send_pool
        self.match_window = match_window
        self.default_booking_url = default_booking_url
        self.carrier_answers_keywords = carrier_answers_keywords

    def warm_up(self) -> None:
        """Train the parser's models now, not on the first patient's reply."""
        self.parser.parse("warm up")

    # ---- the batch ----

    def receive(self, envelopes: Sequence[InboundEnvelope]) -> ReplyBatchResult:
        """Store, parse and act on each message in order (one transaction each), then send the
        answers. A failing message goes to the dead letters and the others go on; a database
        outage stops the batch and returns the rest as ``unprocessed``."""
        result = ReplyBatchResult(received=len(envelopes))
        in_flight: list[tuple[_Answer, Future[object]]] = []
        for index, envelope in enumerate(envelopes):
            try:
                run = self._receive_one(envelope)
            except Exception as error:
                if self.is_transient(error):
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
            _count(run, result)
            # Answers leave as soon as their transaction committed; the next message goes on.
            in_flight += [
                (answer, self.send_pool.submit(self.sender.send, answer.message))
                for answer in run.answers
            ]
        for answer, future in in_flight:
            self._collect(answer, future, result)
        return result

    def _collect(self, answer: _Answer, future: Future[object], result: ReplyBatchResult) -> None:
        try:
            future.result()
        except ReplyNotSent as error:
            error_text = error.phi_free_text()
        except Exception as error:  # an SDK bug or network oddity
            error_text = type(error).__name__
        else:
            result.replies_sent += 1
            return
        result.reply_failures += 1
        logger.warning(
            "inbound %d: %s answer not sent: %s", answer.inbound_id, answer.kind.value, error_text
        )
        result.dead_letters.append(self._send_dead_letter(answer, error_text))

    def _send_dead_letter(self, answer: _Answer, error_text: str) -> DeadLetter:
        # Identifiers only: the answer's address and words stay out of the topic.
        return dead_letter(
            source_topic=INBOUND,
            stage="replies.send",
            kind="send",
            error=error_text,
            failed_at=self.clock(),
            original=json.dumps(
                {
                    "inbound_id": answer.inbound_id,
                    "reply_kind": answer.kind.value,
                    "channel": answer.message.channel.value,
                }
            ),
            key=answer.patient_id,
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

    def _receive_one(self, envelope: InboundEnvelope) -> _Run | None:
        now = self.clock()
        channel = Channel(envelope.channel)
        received_at = self._received_at(envelope, now)
        with self.store.transaction() as repos:
            inbound_id = repos.replies.store_inbound(envelope, now)
            if inbound_id is None:
                logger.debug(
                    "inbound %s/%s already handled", envelope.provider, envelope.provider_message_id
                )
                return None
            address = canonical_address(channel, envelope.from_)
            holders = holders_of(
                channel, address, repos.replies.contacts_at_address(channel, address)
            )
            requests = repos.replies.requests_sent(
                [h.patient_id for h in holders],
                channel,
                address,
                statuses=AWAITING_ANSWER,
                sent_from=received_at - self.match_window,
                sent_until=received_at,
                limit=MAX_OUTSTANDING,
            )
            matched = match_reply_to_job(requests, channel, address, received_at, self.match_window)
            primary = _primary(repos, holders, matched, channel)
            if holders:
                # The address is opted out only when nobody at it can be messaged on it.
                opted_out = all(channel in holder.opted_out for holder in holders)
            else:
                # Its consent lives nowhere else: this keeps a second STOP from an unknown
                # number from drawing a second confirmation.
                last = repos.replies.last_unattributed_intent(
                    channel, envelope.from_, inbound_id, _CONSENT_INTENTS
                )
                opted_out = last == ReplyIntent.STOP
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
                self._execute(repos, action, run)
            if channel is Channel.WHATSAPP and holders:
                repos.replies.touch_whatsapp_inbound(run.holder_ids, received_at)
            repos.replies.record_parse(
                inbound_id,
                patient_id=run.primary_id,
                job_id=int(matched.job_id) if matched else None,
                intent=parsed.intent.value,
                confidence=parsed.confidence,
                language=parsed.language,
                handled_at=now,
            )
            repos.audit.record([*run.audits, _received_audit(run, envelope.provider)])
        logger.info(
            "inbound %d: %s (%s), patient %s, job %s, %d answer(s)",
            inbound_id,
            parsed.intent.value,
            parsed.matched_rule,
            run.primary_id,
            matched.job_id if matched else None,
            len(run.answers),
        )
        return run

    # ---- actions ----

    def _execute(self, repos: Repositories, action: Action, run: _Run) -> None:
        if isinstance(action, OptOut):
            for scope in consent_scopes(
                run.primary_id, action.channels, run.channel, run.holder_ids
            ):
                changed = repos.replies.set_opted_out(
                    scope.patient_ids, scope.channels, True, run.now
                )
                run.flags_changed += changed
                if run.channel in scope.channels and changed:
                    run.inbound_flag_changed = True
        elif isinstance(action, OptIn):
            changed = repos.replies.set_opted_out(run.holder_ids, [action.channel], False, run.now)
            run.flags_changed += changed
            run.inbound_flag_changed = changed > 0
        elif isinstance(action, CancelPendingNonUrgentJobs):
            for scope in consent_scopes(
                action.patient_id, action.channels, run.channel, run.holder_ids
            ):
                for patient_id in scope.patient_ids:
                    run.jobs_cancelled += repos.jobs.cancel_pending_for_patient(
                        patient_id, scope.channels, run.now
                    )
        elif isinstance(action, MarkJobReplied):
            run.job_replied = repos.replies.mark_job_replied(
                int(action.job_id), run.received_at, run.now
            )
        elif isinstance(action, PublishOutcome):
            run.outcomes += _outcomes(action, run)
        elif isinstance(action, RouteToStaff):
            run.staff_items.append(_staff_item(action, run))
        elif isinstance(action, AuditEntry):
            run.audits.append(_audit_record(action, run))
        elif isinstance(action, SendReply):
            self._answer(repos, action, run)
        else:  # a new action type must be wired here before plan_actions emits it
            raise TypeError(f"unhandled reply action {type(action).__name__}")

    def _answer(self, repos: Repositories, action: SendReply, run: _Run) -> None:
        if action.kind in _CONSENT_REPLIES and run.holders and not run.inbound_flag_changed:
            # Planned on a read the update contradicts: another message already confirmed.
            logger.info(
                "inbound %d: %s skipped, consent unchanged", run.inbound_id, action.kind.value
            )
            return
        if not run.contact_loaded:
            org_id = run.primary.org_id if run.primary else None
            run.contact = repos.orgs.clinic_contacts([org_id]).get(org_id) if org_id else None
            run.contact_loaded = True
        channel = Channel(action.channel)
        to = (
            run.primary.address
            if run.primary and channel is run.channel
            else canonical_address(channel, run.envelope.from_)
        )
        message = compose_answer(
            action,
            inbound_id=run.inbound_id,
            to=to,
            patient_language=run.primary.language if run.primary else None,
            contact=run.contact,
            default_booking_url=self.default_booking_url,
        )
        run.answers.append(_Answer(run.inbound_id, run.primary_id, action.kind, message))


def _count(run: _Run, result: ReplyBatchResult) -> None:
    result.handled += 1
    result.intents[run.parsed.intent.value] += 1
    if not run.holders:
        result.unknown_sender += 1
    result.consent_flags_changed += run.flags_changed
    result.jobs_cancelled += run.jobs_cancelled
    result.jobs_replied += int(run.job_replied)
    result.outcomes += run.outcomes
    result.staff_items += run.staff_items


def _primary(
    repos: Repositories,
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
        latest = repos.replies.latest_contacted(list(by_id), channel)
        if latest in by_id:
            return by_id[latest]
    return holders[0]


def _language_hint(holder: AddressHolder | None) -> str | None:
    """The patient's recorded language, if it is a usable ISO 639-1 hint."""
    if holder is None or not holder.language:
        return None
    try:
        return normalise_language_hint(holder.language)
    except ValueError:
        return None


def _outcomes(action: PublishOutcome, run: _Run) -> list[TypedOutcome]:
    """The outcome an action publishes; a consent change at a shared address also tells the
    core platform about each other patient there."""
    payload = dict(action.payload)
    patient_id = payload.pop("patient_id", None)
    appointment_id = payload.pop("appointment_id", None)
    job_id = payload.pop("job_id", None)
    data = {**payload, "inbound_id": run.inbound_id, "channel": run.channel.value}
    envelope = {
        "type": action.type.value,
        "occurred_at": run.received_at,
        "patient_id": str(patient_id) if patient_id is not None else None,
        "org_id": run.org_of(str(patient_id)) if patient_id is not None else None,
        "appointment_id": str(appointment_id) if appointment_id is not None else None,
        "job_id": int(str(job_id)) if job_id is not None else None,  # the plan holds it as text
    }
    outcomes = [typed_outcome({**envelope, "data": data})]
    if action.type in _CONSENT_OUTCOMES:
        for holder in run.holders:
            if holder.patient_id != envelope["patient_id"]:
                shared = {
                    **data,
                    "channels": [run.channel.value],
                    "stop_all": False,
                    "shared_address": True,
                }
                outcomes.append(
                    typed_outcome(
                        {
                            **envelope,
                            "patient_id": holder.patient_id,
                            "org_id": holder.org_id,
                            "data": shared,
                        }
                    )
                )
    return outcomes


def _staff_item(action: RouteToStaff, run: _Run) -> StaffInboxItem:
    envelope = run.envelope
    return StaffInboxItem(
        inbound_id=run.inbound_id,
        patient_id=run.primary_id,
        org_id=run.org_of(run.primary_id),
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


def _received_audit(run: _Run, provider: str) -> AuditRecord:
    """Every patient message received is in the audit log (identifiers only, never the body)."""
    return AuditRecord(
        occurred_at=run.now,
        actor=RECEIVER,
        action="message_received",
        patient_id=run.primary_id,
        org_id=run.org_of(run.primary_id),
        detail={
            "inbound_id": str(run.inbound_id),
            "channel": run.channel.value,
            "provider": provider,
            "intent": run.parsed.intent.value,
            "job_id": str(run.matched.job_id) if run.matched else None,
        },
    )


def _audit_record(action: AuditEntry, run: _Run) -> AuditRecord:
    """The audit entry, with what the message changed so far (identifiers and counts only)."""
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
    return AuditRecord(
        occurred_at=run.now,
        actor=f"{ACTOR_PREFIX}{run.inbound_id}",
        action=action.action,
        patient_id=action.detail.get("patient_id") or None,
        detail=detail,
    )
