"""Who holds the address a reply came from, and whom a consent change there reaches."""

from __future__ import annotations

import pytest

from outreach.domain import BUILTIN_CHANNELS, Channel
from outreach.replies.addresses import (
    ConsentScope,
    StoredContact,
    canonical_address,
    consent_scopes,
    holders_of,
)


@pytest.mark.parametrize(
    ("channel", "address", "canonical"),
    [
        (Channel.SMS, "+1 (415) 234-5678", "+14152345678"),
        (Channel.SMS, "+14152345678", "+14152345678"),
        (Channel.WHATSAPP, "14152345678", "+14152345678"),
        (Channel.WHATSAPP, "whatsapp:+14152345678", "+14152345678"),
        (Channel.SMS, "0040 721 234 567", "+40721234567"),
        (Channel.EMAIL, "Ana Lopez <Ana.Lopez@Example.ORG>", "ana.lopez@example.org"),
    ],
)
def test_canonical_addresses(channel: Channel, address: str, canonical: str) -> None:
    assert canonical_address(channel, address) == canonical


def _contact(
    patient_id: str,
    *,
    email: str | None = None,
    phone: str | None = None,
    whatsapp: str | None = None,
) -> StoredContact:
    return StoredContact(patient_id, "org-1", "en", frozenset(), email, phone, whatsapp)


def test_only_a_canonical_match_holds_the_address() -> None:
    address = "+14152345678"
    found = [
        _contact("decorated", phone="+1 (415) 234-5678"),
        _contact("other", phone="+1 (415) 234-5679"),  # the loose lookup's false friend
        _contact("no-phone", email="a@example.org"),
    ]
    holders = holders_of(Channel.SMS, address, found)
    assert [(h.patient_id, h.address) for h in holders] == [("decorated", address)]
    assert address not in repr(holders[0]) and "415" not in repr(found[0])


def test_whatsapp_falls_back_to_the_phone_but_sms_never_reads_the_whatsapp_number() -> None:
    number = "+14152345678"
    phone_only = _contact("phone-only", phone=number)
    chat_only = _contact("chat-only", phone="+14155550199", whatsapp=number)
    assert [h.patient_id for h in holders_of(Channel.WHATSAPP, number, [phone_only])] == [
        "phone-only"
    ]
    assert [h.patient_id for h in holders_of(Channel.WHATSAPP, number, [chat_only])] == [
        "chat-only"
    ]
    assert holders_of(Channel.SMS, number, [chat_only]) == []


def test_a_mailbox_matches_whatever_its_case() -> None:
    holders = holders_of(Channel.EMAIL, "ana@example.org", [_contact("p", email="Ana@Example.org")])
    assert [h.patient_id for h in holders] == ["p"]


def test_consent_on_the_reply_channel_reaches_everyone_at_the_address() -> None:
    assert consent_scopes("p1", frozenset({Channel.SMS}), Channel.SMS, ["p1", "p2"]) == [
        ConsentScope(("p1", "p2"), frozenset({Channel.SMS}))
    ]


def test_stop_all_reaches_other_channels_for_the_sender_only() -> None:
    scopes = consent_scopes("p1", frozenset(BUILTIN_CHANNELS), Channel.SMS, ["p1", "p2"])
    assert scopes == [
        ConsentScope(("p1", "p2"), frozenset({Channel.SMS})),
        ConsentScope(("p1",), frozenset({Channel.EMAIL, Channel.WHATSAPP})),
    ]


def test_an_unknown_sender_changes_nobody() -> None:
    assert consent_scopes(None, frozenset(BUILTIN_CHANNELS), Channel.SMS, []) == []
