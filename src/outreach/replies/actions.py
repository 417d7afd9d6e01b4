"""What a parsed reply makes the engine do (pure).

:func:`plan_actions` turns a verdict and the request it answers into typed actions; adapters
execute them (Kafka outcomes, SQL updates, outbound replies, the staff inbox). Reply texts are
the templating package's job: an action only names the kind of reply.

Rules, in short:

* confirm / reschedule / cancel on a request about an appointment publish
  ``appointment.confirmed`` / ``appointment.reschedule_requested`` /
  ``appointment.cancel_requested`` and answer with a thank-you, a booking link or an
  acknowledgement. Without such a request a person handles it.
* stop opts the channel out (STOPALL: every channel), cancels pending non-urgent jobs, sends
  **exactly one** confirmation (none when the number was already opted out), audits, and
  publishes ``patient.opted_out``. The confirmation is the one message an opted-out address
  may still receive.
* start opts the channel back in, audits, and confirms once (only when it changes something).
* help answers with the help text, even to an opted-out number (carriers require it).
* other, and any reply from a sender we cannot place, goes to the staff inbox: never lost.
* a reply that answers a request marks that job ``replied``.
"""

from __future__ import annotations

import enum
from collections.abc import Mapping
from dataclasses import dataclass, field

from outreach.domain import Channel, known_channels
from outreach.replies.intents import ParsedReply, ReplyIntent
from outreach.replies.matching import OutstandingRequest


class OutcomeType(enum.StrEnum):
    """Event types published on ``outreach.outcomes``."""

    APPOINTMENT_CONFIRMED = "appointment.confirmed"
    APPOINTMENT_RESCHEDULE_REQUESTED = "appointment.reschedule_requested"
    APPOINTMENT_CANCEL_REQUESTED = "appointment.cancel_requested"
    PATIENT_OPTED_OUT = "patient.opted_out"
    PATIENT_OPTED_IN = "patient.opted_in"


class ReplyKind(enum.StrEnum):
    """Which automatic answer to send; templating owns the words."""

    THANK_YOU = "thank_you"
    BOOKING_LINK = "booking_link"
    CANCEL_ACKNOWLEDGEMENT = "cancel_acknowledgement"
    OPT_OUT_CONFIRMATION = "opt_out_confirmation"
    OPT_IN_CONFIRMATION = "opt_in_confirmation"
    HELP = "help"  # the clinic's contact details and how to opt out


class StaffRouteReason(enum.StrEnum):
    UNCLASSIFIED = "unclassified"  # the parser said "other"
    UNKNOWN_SENDER = "unknown_sender"  # no patient and no request for this address
    NO_MATCHING_REQUEST = "no_matching_request"  # an appointment answer with nothing to answer
    NO_APPOINTMENT = "no_appointment"  # the request answered is not about an appointment
    OPTED_OUT_NO_REPLY = "opted_out_no_reply"  # needs a booking link we may not send
    # The bare keyword CANCEL opted the number out; the patient may have meant the appointment.
    CANCEL_KEYWORD_WITH_APPOINTMENT = "cancel_keyword_with_appointment"


@dataclass(frozen=True, slots=True)
class PublishOutcome:
    type: OutcomeType
    payload: Mapping[str, object] = field(hash=False)  # JSON-ready; no bodies or addresses


@dataclass(frozen=True, slots=True)
class MarkJobReplied:
    job_id: str


@dataclass(frozen=True, slots=True)
class OptOut:
    channels: frozenset[Channel]


@dataclass(frozen=True, slots=True)
class OptIn:
    channel: Channel


@dataclass(frozen=True, slots=True)
class CancelPendingNonUrgentJobs:
    """Urgent jobs stay: they may still reach the patient on a channel not opted out."""

    patient_id: str
    channels: frozenset[Channel]


@dataclass(frozen=True, slots=True)
class SendReply:
    kind: ReplyKind
    channel: Channel
    language: str | None = None


@dataclass(frozen=True, slots=True)
class RouteToStaff:
    reason: StaffRouteReason
    intent: ReplyIntent
    job_id: str | None = None


@dataclass(frozen=True, slots=True)
class AuditEntry:
    action: str
    detail: Mapping[str, str] = field(hash=False)  # identifiers only


Action = (
    PublishOutcome
    | MarkJobReplied
    | OptOut
    | OptIn
    | CancelPendingNonUrgentJobs
    | SendReply
    | RouteToStaff
    | AuditEntry
)

_APPOINTMENT_OUTCOMES: Mapping[ReplyIntent, tuple[OutcomeType, ReplyKind]] = {
    ReplyIntent.CONFIRM: (OutcomeType.APPOINTMENT_CONFIRMED, ReplyKind.THANK_YOU),
    ReplyIntent.RESCHEDULE: (
        OutcomeType.APPOINTMENT_RESCHEDULE_REQUESTED,
        ReplyKind.BOOKING_LINK,
    ),
    ReplyIntent.CANCEL: (
        OutcomeType.APPOINTMENT_CANCEL_REQUESTED,
        ReplyKind.CANCEL_ACKNOWLEDGEMENT,
    ),
}
_CANCEL_KEYWORD_RULE = "compliance:CANCEL"


def plan_actions(
    parsed: ParsedReply,
    matched: OutstandingRequest | None,
    *,
    channel: Channel,
    patient_id: str | None,
    already_opted_out: bool,
    carrier_answers_keywords: bool = False,
) -> list[Action]:
    """The actions one inbound reply calls for.

    ``patient_id`` is who the sender's address belongs to (None: unknown number; the matched
    request's patient is used when it has one). ``already_opted_out``: the address is opted
    out on ``channel`` right now, before this reply. ``carrier_answers_keywords``: the SMS
    provider already answers STOP/START/HELP keywords itself (Twilio Advanced Opt-Out), so we
    must not send a second answer to them.
    """
    patient = patient_id or (matched.patient_id if matched else None)
    actions: list[Action] = []
    if matched is not None:
        actions.append(MarkJobReplied(matched.job_id))
    carrier_answered = (
        carrier_answers_keywords
        and channel is Channel.SMS
        and (parsed.matched_rule or "").startswith("compliance:")
    )

    intent = parsed.intent
    if intent is ReplyIntent.STOP:
        actions += _plan_stop(
            parsed, matched, channel, patient, already_opted_out, carrier_answered
        )
    elif intent is ReplyIntent.START:
        actions += _plan_start(parsed, channel, patient, already_opted_out, carrier_answered)
    elif intent is ReplyIntent.HELP:
        if not carrier_answered:
            actions.append(SendReply(ReplyKind.HELP, channel, parsed.language))
    elif intent in _APPOINTMENT_OUTCOMES:
        actions += _plan_appointment_answer(parsed, matched, channel, patient, already_opted_out)
    else:
        job_id = matched.job_id if matched else None
        actions.append(RouteToStaff(StaffRouteReason.UNCLASSIFIED, intent, job_id))

    if patient is None and not any(isinstance(action, RouteToStaff) for action in actions):
        actions.append(RouteToStaff(StaffRouteReason.UNKNOWN_SENDER, intent))
    return actions


def _consent_detail(
    parsed: ParsedReply, channels: frozenset[Channel], patient: str | None
) -> dict[str, str]:
    return {
        "patient_id": patient or "",
        "channels": ",".join(sorted(channels)),
        "matched_rule": parsed.matched_rule or "",
        "confidence": f"{parsed.confidence:.3f}",
    }


def _plan_stop(
    parsed: ParsedReply,
    matched: OutstandingRequest | None,
    channel: Channel,
    patient: str | None,
    already_opted_out: bool,
    carrier_answered: bool,
) -> list[Action]:
    channels = frozenset(known_channels()) if parsed.is_stop_all else frozenset({channel})
    actions: list[Action] = [OptOut(channels)]
    if patient is not None:
        actions.append(CancelPendingNonUrgentJobs(patient, channels))
        if not already_opted_out or parsed.is_stop_all:
            payload: dict[str, object] = {
                "patient_id": patient,
                "channels": sorted(channels),
                "stop_all": parsed.is_stop_all,
                "matched_rule": parsed.matched_rule,
            }
            actions.append(PublishOutcome(OutcomeType.PATIENT_OPTED_OUT, payload))
    if not already_opted_out and not carrier_answered:
        actions.append(SendReply(ReplyKind.OPT_OUT_CONFIRMATION, channel, parsed.language))
    if (
        parsed.matched_rule == _CANCEL_KEYWORD_RULE
        and matched is not None
        and matched.appointment_id is not None
    ):
        actions.append(
            RouteToStaff(
                StaffRouteReason.CANCEL_KEYWORD_WITH_APPOINTMENT, parsed.intent, matched.job_id
            )
        )
    action = "opt_out_repeated" if already_opted_out else "opt_out"
    actions.append(AuditEntry(action, _consent_detail(parsed, channels, patient)))
    return actions


def _plan_start(
    parsed: ParsedReply,
    channel: Channel,
    patient: str | None,
    already_opted_out: bool,
    carrier_answered: bool,
) -> list[Action]:
    actions: list[Action] = [OptIn(channel)]
    if already_opted_out:
        if patient is not None:
            payload: dict[str, object] = {
                "patient_id": patient,
                "channels": [channel.value],
                "matched_rule": parsed.matched_rule,
            }
            actions.append(PublishOutcome(OutcomeType.PATIENT_OPTED_IN, payload))
        if not carrier_answered:
            actions.append(SendReply(ReplyKind.OPT_IN_CONFIRMATION, channel, parsed.language))
    action = "opt_in" if already_opted_out else "opt_in_repeated"
    actions.append(AuditEntry(action, _consent_detail(parsed, frozenset({channel}), patient)))
    return actions


def _plan_appointment_answer(
    parsed: ParsedReply,
    matched: OutstandingRequest | None,
    channel: Channel,
    patient: str | None,
    already_opted_out: bool,
) -> list[Action]:
    if matched is None:
        reason = (
            StaffRouteReason.UNKNOWN_SENDER
            if patient is None
            else StaffRouteReason.NO_MATCHING_REQUEST
        )
        return [RouteToStaff(reason, parsed.intent)]
    if matched.appointment_id is None:
        return [RouteToStaff(StaffRouteReason.NO_APPOINTMENT, parsed.intent, matched.job_id)]
    outcome, reply_kind = _APPOINTMENT_OUTCOMES[parsed.intent]
    payload: dict[str, object] = {
        "patient_id": matched.patient_id,
        "appointment_id": matched.appointment_id,
        "job_id": matched.job_id,
        "channel": channel.value,
        "intent": parsed.intent.value,
        "confidence": round(parsed.confidence, 4),
        "matched_rule": parsed.matched_rule,
        "language": parsed.language,
    }
    actions: list[Action] = [PublishOutcome(outcome, payload)]
    if not already_opted_out:
        actions.append(SendReply(reply_kind, channel, parsed.language))
    elif parsed.intent is ReplyIntent.RESCHEDULE:
        # The patient wants a new time but we may not text them the link: a person calls.
        actions.append(
            RouteToStaff(StaffRouteReason.OPTED_OUT_NO_REPLY, parsed.intent, matched.job_id)
        )
    return actions
