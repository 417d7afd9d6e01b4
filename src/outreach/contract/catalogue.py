"""Every topic outreach reads or writes: what flows on it, its key and its message models.

The AsyncAPI document and the topic table of ``docs/event-contract.md`` are both built from
:data:`TOPICS`, so they cannot disagree.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal, get_args, get_origin

from pydantic import BaseModel
from pydantic.json_schema import JsonSchemaMode

from outreach import topics
from outreach.events import (
    CORE_EVENT_MODELS,
    OUTCOME_MODELS,
    DlqEntry,
    InboundEnvelope,
    SendRequest,
    StaffInboxItem,
    StatusUpdate,
)

# The part of a send topic's name that is the channel, as an AsyncAPI address parameter.
SEND_CHANNEL_PARAMETER = "channel"

Action = Literal["send", "receive"]


@dataclass(frozen=True, slots=True)
class Topic:
    """One Kafka topic of the contract."""

    address: str  # the topic name; for the send topics a template with {channel}
    channel_id: str  # its id in the AsyncAPI document
    summary: str
    producer: str
    consumer: str
    key: str  # what the Kafka key holds, as a phrase
    key_is_phi: bool
    messages: tuple[type[BaseModel], ...]
    # "validation": the schema says what outreach accepts; "serialization": what it writes.
    schema_mode: JsonSchemaMode
    actions: tuple[Action, ...]  # outreach's own part: it sends, receives or both


TOPICS: tuple[Topic, ...] = (
    Topic(
        address=topics.CORE_EVENTS,
        channel_id="coreEvents",
        summary="What happened at the clinic; outreach plans messages from it.",
        producer="core platform",
        consumer="outreach worker (orchestrator)",
        key="the patient id, so one patient's events stay in order on one partition",
        key_is_phi=False,
        messages=CORE_EVENT_MODELS,
        schema_mode="validation",
        actions=("receive",),
    ),
    Topic(
        address=f"{topics.SEND_PREFIX}{{{SEND_CHANNEL_PARAMETER}}}",
        channel_id="sendRequests",
        summary="A due job, claimed by a scheduler, for the channel's workers to send.",
        producer="outreach scheduler",
        consumer="outreach worker (channels)",
        key="the patient id",
        key_is_phi=False,
        messages=(SendRequest,),
        schema_mode="serialization",
        actions=("send", "receive"),
    ),
    Topic(
        address=topics.STATUS,
        channel_id="deliveryStatuses",
        summary="Delivery statuses from the providers' webhooks, normalised.",
        producer="outreach api (provider webhooks)",
        consumer="outreach worker (status)",
        key="the provider's message id, so one message's statuses stay in order",
        key_is_phi=False,
        messages=(StatusUpdate,),
        schema_mode="serialization",
        actions=("send", "receive"),
    ),
    Topic(
        address=topics.INBOUND,
        channel_id="inboundReplies",
        summary="Patients' replies from the providers' webhooks.",
        producer="outreach api (provider webhooks)",
        consumer="outreach worker (replies)",
        key="a bucket of the sender's number or address (sender-NNNNN), so one sender's replies "
        "stay in order; never the address itself",
        key_is_phi=False,
        messages=(InboundEnvelope,),
        schema_mode="serialization",
        actions=("send", "receive"),
    ),
    Topic(
        address=topics.OUTCOMES,
        channel_id="outcomes",
        summary="What the core platform should know: answers, opt-outs and opt-ins, failures.",
        producer="outreach worker (replies, channels)",
        consumer="core platform",
        key="the patient id",
        key_is_phi=False,
        messages=OUTCOME_MODELS,
        schema_mode="serialization",
        actions=("send",),
    ),
    Topic(
        address=topics.STAFF_INBOX,
        channel_id="staffInbox",
        summary="Replies a person must read: unclear answers, unknown senders.",
        producer="outreach worker (replies)",
        consumer="the clinic's staff tools",
        key="the patient id when the sender is known, otherwise none",
        key_is_phi=False,
        messages=(StaffInboxItem,),
        schema_mode="serialization",
        actions=("send",),
    ),
    Topic(
        address=topics.DLQ,
        channel_id="deadLetters",
        summary="Messages outreach could not use or deliver, with the reason.",
        producer="outreach worker",
        consumer="operators",
        key="the original message's key",
        key_is_phi=False,
        messages=(DlqEntry,),
        schema_mode="serialization",
        actions=("send",),
    ),
)


def message_type(model: type[BaseModel]) -> str | None:
    """The ``type`` a per-type model fixes (``appointment.booked``...), or None."""
    field = model.model_fields.get("type")
    if field is None or get_origin(field.annotation) is not Literal:
        return None
    (value,) = get_args(field.annotation)
    return str(value)


def message_name(model: type[BaseModel]) -> str:
    """How the contract names a message: its type if it has one, else its model's name."""
    return message_type(model) or model.__name__
