from __future__ import annotations

from datetime import UTC, datetime

import pytest
from hypothesis import given
from hypothesis import strategies as st

from outreach.domain import BUILTIN_CHANNELS, Channel, Purpose, known_channels
from outreach.replies import (
    AuditEntry,
    CancelPendingNonUrgentJobs,
    MarkJobReplied,
    OptIn,
    OptOut,
    OutcomeType,
    OutstandingRequest,
    ParsedReply,
    PublishOutcome,
    ReplyIntent,
    ReplyKind,
    RouteToStaff,
    SendReply,
    StaffRouteReason,
    parse_reply,
    plan_actions,
)

SENT = datetime(2026, 11, 20, 9, 0, tzinfo=UTC)
MATCHED = OutstandingRequest(
    job_id="job-7",
    patient_id="pat-1",
    appointment_id="appt-3",
    channel=Channel.SMS,
    address="+15551230001",
    sent_at=SENT,
    purpose=Purpose.APPT_REMINDER,
)
LAB_RESULT = OutstandingRequest(
    "job-8", "pat-1", None, Channel.SMS, "+15551230001", SENT, Purpose.LAB_READY
)


def parsed(intent: ReplyIntent, rule: str = "phrase:en:x", *, stop_all: bool = False):
    return ParsedReply(intent, 0.92, "en", rule, stop_all)


def plan(reply: ParsedReply, matched=MATCHED, *, patient="pat-1", opted_out=False, **kw):
    return plan_actions(
        reply, matched, channel=Channel.SMS, patient_id=patient, already_opted_out=opted_out, **kw
    )


def of_type(actions, kind):
    return [action for action in actions if isinstance(action, kind)]


@pytest.mark.parametrize(
    ("intent", "outcome", "reply_kind"),
    [
        (ReplyIntent.CONFIRM, OutcomeType.APPOINTMENT_CONFIRMED, ReplyKind.THANK_YOU),
        (
            ReplyIntent.RESCHEDULE,
            OutcomeType.APPOINTMENT_RESCHEDULE_REQUESTED,
            ReplyKind.BOOKING_LINK,
        ),
        (
            ReplyIntent.CANCEL,
            OutcomeType.APPOINTMENT_CANCEL_REQUESTED,
            ReplyKind.CANCEL_ACKNOWLEDGEMENT,
        ),
    ],
)
def test_appointment_answers(intent: ReplyIntent, outcome: OutcomeType, reply_kind: ReplyKind):
    actions = plan(parsed(intent))
    assert actions == [
        MarkJobReplied("job-7"),
        PublishOutcome(outcome, actions[1].payload),
        SendReply(reply_kind, Channel.SMS, "en"),
    ]
    payload = actions[1].payload
    assert payload["appointment_id"] == "appt-3"
    assert payload["patient_id"] == "pat-1"
    assert payload["job_id"] == "job-7"
    assert "+15551230001" not in str(payload)


def test_confirm_end_to_end_from_text() -> None:
    actions = plan(parse_reply("C"))
    assert of_type(actions, PublishOutcome)[0].type is OutcomeType.APPOINTMENT_CONFIRMED


def test_stop_opts_out_the_channel_once_with_one_confirmation() -> None:
    first = plan(parse_reply("STOP"))
    assert of_type(first, OptOut) == [OptOut(frozenset({Channel.SMS}))]
    assert of_type(first, CancelPendingNonUrgentJobs) == [
        CancelPendingNonUrgentJobs("pat-1", frozenset({Channel.SMS}))
    ]
    assert of_type(first, SendReply) == [SendReply(ReplyKind.OPT_OUT_CONFIRMATION, Channel.SMS)]
    assert [o.type for o in of_type(first, PublishOutcome)] == [OutcomeType.PATIENT_OPTED_OUT]
    assert [a.action for a in of_type(first, AuditEntry)] == ["opt_out"]
    assert of_type(first, RouteToStaff) == []

    second = plan(parse_reply("stop"), opted_out=True)
    assert of_type(second, SendReply) == []  # two STOPs, one confirmation
    assert of_type(second, PublishOutcome) == []
    assert of_type(second, OptOut)  # idempotent, harmless
    assert [a.action for a in of_type(second, AuditEntry)] == ["opt_out_repeated"]


def test_stopall_opts_out_every_channel() -> None:
    actions = plan(parse_reply("STOPALL"))
    everything = frozenset(known_channels())  # the built-in ones and any plugin's
    assert everything >= set(BUILTIN_CHANNELS)
    assert of_type(actions, OptOut) == [OptOut(everything)]
    assert of_type(actions, CancelPendingNonUrgentJobs)[0].channels == everything
    assert of_type(actions, PublishOutcome)[0].payload["stop_all"] is True
    # already opted out of SMS, STOPALL still reaches the other channels and tells the core
    again = plan(parse_reply("STOPALL"), opted_out=True)
    assert of_type(again, OptOut) == [OptOut(everything)]
    assert of_type(again, PublishOutcome)
    assert of_type(again, SendReply) == []


def test_free_text_opt_out_acts_like_the_keyword() -> None:
    actions = plan(parse_reply("please stop texting me"))
    assert of_type(actions, OptOut) and of_type(actions, AuditEntry)
    assert len(of_type(actions, SendReply)) == 1


def test_bare_cancel_keyword_opts_out_and_flags_the_appointment_for_staff() -> None:
    actions = plan(parse_reply("CANCEL"))
    assert of_type(actions, OptOut)
    assert of_type(actions, RouteToStaff) == [
        RouteToStaff(StaffRouteReason.CANCEL_KEYWORD_WITH_APPOINTMENT, ReplyIntent.STOP, "job-7")
    ]
    assert not any(
        o.type is OutcomeType.APPOINTMENT_CANCEL_REQUESTED for o in of_type(actions, PublishOutcome)
    )


def test_start_opts_back_in_and_confirms_once() -> None:
    actions = plan(parse_reply("START"), matched=None, opted_out=True)
    assert of_type(actions, OptIn) == [OptIn(Channel.SMS)]
    assert of_type(actions, SendReply) == [SendReply(ReplyKind.OPT_IN_CONFIRMATION, Channel.SMS)]
    assert [o.type for o in of_type(actions, PublishOutcome)] == [OutcomeType.PATIENT_OPTED_IN]
    assert [a.action for a in of_type(actions, AuditEntry)] == ["opt_in"]
    # START from someone who never left changes nothing worth announcing
    again = plan(parse_reply("START"), matched=None, opted_out=False)
    assert of_type(again, SendReply) == [] and of_type(again, PublishOutcome) == []


def test_yes_from_an_opted_out_number_opts_back_in() -> None:
    actions = plan(parse_reply("yes", opted_out=True), matched=None, opted_out=True)
    assert of_type(actions, OptIn) == [OptIn(Channel.SMS)]


def test_help_answers_even_an_opted_out_number() -> None:
    actions = plan(parse_reply("HELP"), matched=None, opted_out=True)
    assert actions == [SendReply(ReplyKind.HELP, Channel.SMS)]


def test_carrier_that_answers_keywords_gets_no_second_answer() -> None:
    actions = plan(parse_reply("STOP"), carrier_answers_keywords=True)
    assert of_type(actions, SendReply) == []
    assert of_type(actions, OptOut)
    # free text is not a carrier keyword: we still confirm it
    free_text = plan(parse_reply("stop texting me"), carrier_answers_keywords=True)
    assert of_type(free_text, SendReply)


def test_other_goes_to_staff_with_the_job() -> None:
    actions = plan(parsed(ReplyIntent.OTHER, "classifier"))
    assert actions == [
        MarkJobReplied("job-7"),
        RouteToStaff(StaffRouteReason.UNCLASSIFIED, ReplyIntent.OTHER, "job-7"),
    ]


def test_unknown_number_is_routed_to_staff_never_lost() -> None:
    for intent in ReplyIntent:
        actions = plan(parsed(intent), matched=None, patient=None)
        assert of_type(actions, RouteToStaff), intent
    stop = plan(parse_reply("STOP"), matched=None, patient=None)
    assert of_type(stop, OptOut) and of_type(stop, SendReply)  # the number still opts out
    assert of_type(stop, CancelPendingNonUrgentJobs) == []


def test_appointment_answer_without_a_request_goes_to_staff() -> None:
    actions = plan(parsed(ReplyIntent.CONFIRM), matched=None)
    assert actions == [RouteToStaff(StaffRouteReason.NO_MATCHING_REQUEST, ReplyIntent.CONFIRM)]
    lab = plan(parsed(ReplyIntent.CONFIRM), matched=LAB_RESULT)
    assert lab == [
        MarkJobReplied("job-8"),
        RouteToStaff(StaffRouteReason.NO_APPOINTMENT, ReplyIntent.CONFIRM, "job-8"),
    ]


def test_no_automatic_reply_to_an_opted_out_number() -> None:
    confirm = plan(parsed(ReplyIntent.CONFIRM), opted_out=True)
    assert of_type(confirm, SendReply) == []
    assert of_type(confirm, PublishOutcome)
    reschedule = plan(parsed(ReplyIntent.RESCHEDULE), opted_out=True)
    assert of_type(reschedule, SendReply) == []
    assert of_type(reschedule, RouteToStaff)[0].reason is StaffRouteReason.OPTED_OUT_NO_REPLY


def test_patient_comes_from_the_request_when_the_address_is_unknown() -> None:
    actions = plan(parse_reply("STOP"), patient=None)
    assert of_type(actions, CancelPendingNonUrgentJobs)[0].patient_id == "pat-1"
    assert of_type(actions, RouteToStaff) == []


@given(
    intent=st.sampled_from(list(ReplyIntent)),
    stop_all=st.booleans(),
    matched=st.sampled_from([MATCHED, LAB_RESULT, None]),
    patient=st.sampled_from(["pat-1", None]),
    opted_out=st.booleans(),
    carrier=st.booleans(),
)
def test_plan_invariants(intent, stop_all, matched, patient, opted_out, carrier) -> None:
    reply = parsed(intent, stop_all=stop_all and intent is ReplyIntent.STOP)
    actions = plan(
        reply, matched, patient=patient, opted_out=opted_out, carrier_answers_keywords=carrier
    )
    sends = of_type(actions, SendReply)
    assert len(sends) <= 1
    if opted_out:
        assert all(s.kind in {ReplyKind.OPT_IN_CONFIRMATION, ReplyKind.HELP} for s in sends)
    if matched is None and patient is None:
        assert of_type(actions, RouteToStaff)
    if intent is ReplyIntent.STOP:
        assert of_type(actions, OptOut) and of_type(actions, AuditEntry)
    if intent is ReplyIntent.OTHER:
        assert of_type(actions, RouteToStaff)
    assert of_type(actions, MarkJobReplied) == ([MarkJobReplied(matched.job_id)] if matched else [])
    for entry in of_type(actions, AuditEntry):
        assert "+1555" not in str(entry.detail)
