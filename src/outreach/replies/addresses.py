"""Whose address a reply came from, and whom a consent change at that address reaches (pure).

A reply carries only its sender's address. Comparing it with the stored ones needs one form for
both sides (``canonical_address``); the database lookup is deliberately loose (case, spaces,
brackets), so the exact decision of who holds the address is made here (``holders_of``).
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field

from outreach.domain import Channel
from outreach.preferences.addresses import normalise_phone
from outreach.replies.matching import normalise_address


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


@dataclass(frozen=True, slots=True)
class StoredContact:
    """A patient's addresses and opt-out flags as stored (addresses stay out of ``repr``)."""

    patient_id: str
    org_id: str
    language: str | None
    opted_out: frozenset[Channel]
    email: str | None = field(repr=False)
    phone: str | None = field(repr=False)
    whatsapp: str | None = field(repr=False)


def stored_address_on(channel: Channel, contact: StoredContact) -> str | None:
    """The address a channel sends to (WhatsApp falls back to the phone, as channel_choice does)."""
    if channel is Channel.EMAIL:
        return contact.email
    if channel is Channel.SMS:
        return contact.phone
    return contact.whatsapp if contact.whatsapp is not None else contact.phone


@dataclass(frozen=True, slots=True)
class AddressHolder:
    """A patient reachable at the address a reply came from, with what the reply may change."""

    patient_id: str
    org_id: str
    language: str | None
    opted_out: frozenset[Channel]
    address: str = field(repr=False)  # canonical form, on the reply's channel


def holders_of(
    channel: Channel, address: str, candidates: Iterable[StoredContact]
) -> list[AddressHolder]:
    """Of the contacts a loose lookup found, those whose address on ``channel`` is ``address``
    (canonical), in the order given."""
    holders = []
    for contact in candidates:
        stored = stored_address_on(channel, contact)
        if stored is None or canonical_address(channel, stored) != address:
            continue
        holders.append(
            AddressHolder(
                patient_id=contact.patient_id,
                org_id=contact.org_id,
                language=contact.language,
                opted_out=contact.opted_out,
                address=address,
            )
        )
    return holders


@dataclass(frozen=True, slots=True)
class ConsentScope:
    """Patients and the channels on which one consent change applies to them."""

    patient_ids: tuple[str, ...]
    channels: frozenset[Channel]


def consent_scopes(
    patient_id: str | None,
    channels: frozenset[Channel],
    reply_channel: Channel,
    holder_ids: Sequence[str],
) -> list[ConsentScope]:
    """Who a consent change reaches: on the reply's channel everyone at that address (consent
    belongs to the number or mailbox); on other channels (STOPALL) the sender only."""
    scopes: list[ConsentScope] = []
    if reply_channel in channels and holder_ids:
        scopes.append(ConsentScope(tuple(holder_ids), frozenset({reply_channel})))
    others = channels - {reply_channel}
    if others and patient_id is not None:
        scopes.append(ConsentScope((patient_id,), frozenset(others)))
    return scopes
