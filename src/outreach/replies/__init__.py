"""Patient replies: what an inbound message means and what the engine should do about it.

The pure core of inbound handling. ``parse_reply`` is the stable entry point; ``match_reply_to_job``
and ``plan_actions`` attach a reply to the request it answers and plan the consequences. Kafka
consumers, SQL and webhooks live at the edges and call these.
"""

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
    StaffRouteReason,
    plan_actions,
)
from outreach.replies.intents import ParsedReply, ReplyIntent
from outreach.replies.matching import OutstandingRequest, match_reply_to_job
from outreach.replies.parser import ReplyParser, parse_reply
from outreach.replies.rules import DEFAULT_OFFERED_OPTIONS

__all__ = [
    "DEFAULT_OFFERED_OPTIONS",
    "Action",
    "AuditEntry",
    "CancelPendingNonUrgentJobs",
    "MarkJobReplied",
    "OptIn",
    "OptOut",
    "OutcomeType",
    "OutstandingRequest",
    "ParsedReply",
    "PublishOutcome",
    "ReplyIntent",
    "ReplyKind",
    "ReplyParser",
    "RouteToStaff",
    "SendReply",
    "StaffRouteReason",
    "match_reply_to_job",
    "parse_reply",
    "plan_actions",
]
