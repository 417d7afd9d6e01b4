"""Attaching a reply to the request it answers (pure).

A reply answers the latest outstanding request sent to the same address on the same channel
within a window before it arrived. Older requests are not guessed at: a reply that matches
nothing is routed to staff by the action planner, never dropped.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from outreach.domain import Channel, JobStatus, Purpose

# A request still awaits its answer while it is out and not answered, failed or bounced.
AWAITING_ANSWER = (JobStatus.SENT, JobStatus.DELIVERED, JobStatus.OPENED, JobStatus.CLICKED)
# More candidates than this within one window is a bulk sender, not a conversation.
MAX_OUTSTANDING = 50

_PHONE_NOISE = re.compile(r"[^\d+]")
_WHATSAPP_PREFIX = "whatsapp:"


@dataclass(frozen=True, slots=True)
class OutstandingRequest:
    """A sent job that awaits a reply. ``address`` (phone or e-mail) stays out of ``repr``."""

    job_id: str
    patient_id: str
    appointment_id: str | None
    channel: Channel
    address: str = field(repr=False)
    sent_at: datetime
    purpose: Purpose


def normalise_address(channel: Channel, address: str) -> str:
    """Comparable form of an address: E.164-ish digits for SMS/WhatsApp (Twilio's
    ``whatsapp:`` prefix, spaces and dashes dropped), the casefolded mailbox for e-mail
    ("Ana <Ana@Example.org>" -> "ana@example.org")."""
    value = address.strip()
    if channel is Channel.EMAIL:
        if "<" in value and value.endswith(">"):
            value = value[value.rindex("<") + 1 : -1]
        return value.strip().casefold()
    if value.casefold().startswith(_WHATSAPP_PREFIX):
        value = value[len(_WHATSAPP_PREFIX) :]
    digits = _PHONE_NOISE.sub("", value)
    if digits.startswith("00"):
        digits = "+" + digits[2:]
    return digits


def _require_aware(moment: datetime, name: str) -> None:
    if moment.tzinfo is None or moment.utcoffset() is None:
        raise ValueError(f"{name} must be timezone-aware")


def match_reply_to_job(
    candidates: Sequence[OutstandingRequest],
    channel: Channel,
    address: str,
    received_at: datetime,
    window: timedelta,
) -> OutstandingRequest | None:
    """The latest request to ``address`` on ``channel`` sent within ``window`` before
    ``received_at`` (inclusive at both ends), or ``None``.

    Ties on ``sent_at`` go to the highest ``job_id`` so the answer never depends on the order
    the candidates were loaded in. All datetimes must be timezone-aware.
    """
    if window < timedelta(0):
        raise ValueError("window must not be negative")
    _require_aware(received_at, "received_at")
    wanted = normalise_address(channel, address)
    earliest = received_at - window
    best: OutstandingRequest | None = None
    for request in candidates:
        _require_aware(request.sent_at, "sent_at")
        if request.channel is not channel:
            continue
        if not earliest <= request.sent_at <= received_at:
            continue
        if normalise_address(channel, request.address) != wanted:
            continue
        if best is None or (request.sent_at, request.job_id) > (best.sent_at, best.job_id):
            best = request
    return best
