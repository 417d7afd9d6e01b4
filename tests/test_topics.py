"""Topic names and keys: the inbound key keeps one sender in one partition without naming them."""

from __future__ import annotations

from outreach.topics import INBOUND_KEY_BUCKETS, inbound_key


def test_one_sender_one_key_however_the_address_is_written() -> None:
    assert inbound_key("+1 (415) 555-0100") == inbound_key("14155550100")
    assert inbound_key("Ana@Example.com ") == inbound_key("ana@example.com")
    assert inbound_key("+14155550100") != inbound_key("+14155550101")


def test_the_key_does_not_carry_the_address() -> None:
    key = inbound_key("+14155550100").decode()
    assert "4155550100" not in key and key.startswith("sender-")
    assert int(key.removeprefix("sender-")) < INBOUND_KEY_BUCKETS
