"""Address validation: E.164 phone numbers and e-mail syntax, and masking for logs."""

from __future__ import annotations

import pytest

from outreach.preferences import mask_email, mask_phone, normalise_email, normalise_phone


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("+13052345678", "+13052345678"),
        ("+1 (305) 234-5678", "+13052345678"),
        ("+40 721 234 567", "+40721234567"),
        ("+919812345678", "+919812345678"),
        ("+61412345678", "+61412345678"),
        ("3052345678", None),  # no country: refused rather than guessed
        ("+1", None),
        ("+1 555", None),
        ("+99912345678", None),  # no such country code
        ("call me", None),
        ("", None),
    ],
)
def test_phone_numbers(raw: str, expected: str | None) -> None:
    assert normalise_phone(raw) == expected


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("ann@example.org", "ann@example.org"),
        ("Bob.Smith+clinic@Example.COM", "Bob.Smith+clinic@example.com"),
        ("  ann@example.org ", "ann@example.org"),
        ("o'brien@sub.example.co.uk", "o'brien@sub.example.co.uk"),
        ("no-at-sign", None),
        ("a@b", None),
        ("two@@example.org", None),
        ("dot.@example.org", None),
        (".dot@example.org", None),
        ("ann@-example.org", None),
        ("ann@example..org", None),
        ("ann smith@example.org", None),
        ("a" * 65 + "@example.org", None),
        ("ann@" + "a" * 250 + ".org", None),
    ],
)
def test_email_addresses(raw: str, expected: str | None) -> None:
    assert normalise_email(raw) == expected


def test_masks_keep_no_more_than_a_hint() -> None:
    assert mask_phone("+13052345678") == "+*********78"
    assert mask_email("ann@example.org") == "a***@***"
    assert mask_phone(None) is None
    assert mask_email(None) is None
