"""The bodies the generic webhooks accept, and their normalisation to the Kafka messages.

Two shapes each: outreach's own (``StatusUpdate``, ``InboundEnvelope``, as they travel on
``outreach.status`` and ``outreach.inbound``) and the gateway shape, with ``message_id`` and
``timestamp`` (what messaging gateways commonly send). A document naming ``message_id`` is read
as the gateway shape, any other as outreach's, and both become the same message on the topic.
"""

from __future__ import annotations

from typing import Any

from pydantic import AwareDatetime, BaseModel, ConfigDict, Field

from outreach.api.channel_names import RegisteredChannel
from outreach.domain import Channel
from outreach.events import InboundEnvelope, StatusUpdate

GATEWAY_MESSAGE_ID = "message_id"
_WHATSAPP_PREFIX = "whatsapp:"


class GenericStatusBody(BaseModel):
    """A delivery status in the gateway shape."""

    model_config = ConfigDict(
        extra="forbid",
        json_schema_extra={
            "examples": [
                {
                    "provider": "gateway",
                    "message_id": "gw-81731",
                    "status": "delivered",
                    "timestamp": "2026-11-21T10:00:00Z",
                    "event_data": {"carrier": "example"},
                }
            ]
        },
    )

    provider: str = Field(min_length=1, max_length=32, description="Who reports the status.")
    message_id: str = Field(
        min_length=1,
        max_length=128,
        description="The provider's id of the message, as returned when it was sent.",
    )
    status: str = Field(
        description="One of `sent`, `delivered`, `opened`, `clicked`, `failed`, `bounced`."
    )
    timestamp: AwareDatetime = Field(description="When it happened, with a zone.")
    error_code: str | None = Field(
        default=None, max_length=32, description="The provider's code for `failed`/`bounced`."
    )
    event_data: dict[str, Any] = Field(
        default_factory=dict, description="Anything else the provider reported; kept as is."
    )

    def normalised(self) -> StatusUpdate:
        return StatusUpdate(
            provider=self.provider,
            provider_message_id=self.message_id,
            status=self.status,
            occurred_at=self.timestamp,
            error_code=self.error_code,
            raw=self.event_data,
        )


class GenericInboundBody(BaseModel):
    """A patient's message in the gateway shape."""

    model_config = ConfigDict(
        extra="forbid",
        populate_by_name=True,
        json_schema_extra={
            "examples": [
                {
                    "provider": "gateway",
                    "from": "+15005550123",
                    "to": "+15005550006",
                    "body": "C",
                    "timestamp": "2026-11-21T10:00:00Z",
                    "message_id": "gw-in-5521",
                }
            ]
        },
    )

    provider: str = Field(min_length=1, max_length=32)
    from_: str = Field(
        alias="from",
        min_length=1,
        max_length=254,
        description="The patient's address: E.164 phone, `whatsapp:`+E.164, or e-mail.",
    )
    to: str | None = Field(default=None, max_length=254, description="Our address it went to.")
    body: str
    timestamp: AwareDatetime = Field(description="When it was received, with a zone.")
    message_id: str = Field(min_length=1, max_length=128)
    channel: RegisteredChannel | None = Field(
        default=None,
        description="Left out: `whatsapp` for a `whatsapp:` address, `email` for one with `@`, "
        "else `sms`. A channel no registered plugin serves is refused.",
    )

    def __repr__(self) -> str:  # personal fields masked
        return f"GenericInboundBody(provider={self.provider!r}, id={self.message_id!r})"

    __str__ = __repr__

    def normalised(self) -> InboundEnvelope:
        return InboundEnvelope.model_validate(
            {
                "provider": self.provider,
                "channel": self.channel or channel_of_address(self.from_),
                "from": self.from_,
                "to": self.to,
                "body": self.body,
                "received_at": self.timestamp,
                "provider_message_id": self.message_id,
            }
        )


def channel_of_address(address: str) -> Channel:
    """The channel an inbound address came through, when the caller did not say."""
    if address.lower().startswith(_WHATSAPP_PREFIX):
        return Channel.WHATSAPP
    if "@" in address:
        return Channel.EMAIL
    return Channel.SMS


def _is_gateway_shape(document: Any) -> bool:
    return isinstance(document, dict) and GATEWAY_MESSAGE_ID in document


def status_update_of(document: Any) -> StatusUpdate:
    """One status document in either shape; raises pydantic's ``ValidationError``."""
    if _is_gateway_shape(document):
        return GenericStatusBody.model_validate(document).normalised()
    return StatusUpdate.model_validate(document)


def inbound_envelope_of(document: Any) -> InboundEnvelope:
    """One inbound document in either shape; raises pydantic's ``ValidationError``."""
    if _is_gateway_shape(document):
        return GenericInboundBody.model_validate(document).normalised()
    return InboundEnvelope.model_validate(document)
