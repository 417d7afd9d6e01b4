"""The automatic answer to a patient's reply, as a message ready for a channel (pure).

``compose_answer`` puts the words (``reply_texts``) and the clinic's details into a
``ReplyMessage``; whoever handles replies sends it through a ``ReplySender``, which the process
wiring implements over its channel workers. The words never name anything about the patient.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Protocol

from outreach.domain import Channel, ClinicContact, PhiFreeError
from outreach.replies.actions import SendReply
from outreach.replies.reply_texts import render_reply, reply_language


@dataclass(frozen=True, slots=True, kw_only=True)
class ReplyMessage:
    """One answer for one address. The address and the words stay out of ``repr``."""

    reference: str  # what the provider is given as the job id: "reply-<inbound id>"
    channel: Channel
    to: str = field(repr=False)  # E.164 phone number or e-mail address
    subject: str | None = field(default=None, repr=False)  # e-mail only
    body: str = field(repr=False)
    idempotency_key: str


class ReplyNotSent(PhiFreeError):
    """A sender's known refusal (no worker for the channel, a provider error code).

    Its text is written by the sender and names no address or body: it reaches logs and dead
    letters as it is.
    """


class ReplySender(Protocol):
    def send(self, message: ReplyMessage) -> object:
        """Send now (it blocks) and return the provider's receipt; raise ``ReplyNotSent`` for a
        known refusal."""
        ...


def compose_answer(
    action: SendReply,
    *,
    inbound_id: int,
    to: str,
    patient_language: str | None,
    contact: ClinicContact | None,
    default_booking_url: str,
) -> ReplyMessage:
    """The answer ``action`` asks for, in the reply's language (else the patient's, else the
    clinic's), with the clinic's name, phone and booking link (else ``default_booking_url``),
    keyed once per inbound message and kind of answer."""
    language = reply_language(
        action.language, patient_language, contact.language if contact else None
    )
    clinic_name = contact.name if contact else None
    body = render_reply(
        action.kind,
        language,
        clinic_name=clinic_name,
        clinic_phone=contact.phone if contact else None,
        booking_link=(contact.booking_url if contact else None) or default_booking_url,
    )
    channel = Channel(action.channel)
    return ReplyMessage(
        reference=f"reply-{inbound_id}",
        channel=channel,
        to=to,
        subject=(clinic_name or "Re:") if channel is Channel.EMAIL else None,
        body=body,
        idempotency_key=f"reply:{inbound_id}:{action.kind.value}",
    )
