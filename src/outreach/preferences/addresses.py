"""Contact addresses: validation, normalisation and masking.

Addresses are validated once, when effective preferences are built, so the decision hot path only
ever sees a normalised address or ``None``. An invalid address makes a channel unreachable; it is
data quality, not configuration, so it never raises.
"""

from __future__ import annotations

import re
from functools import lru_cache

import phonenumbers

# Practical RFC 5322 dot-atom syntax: no quoted local parts or IP literals, which patients never
# give and providers (SendGrid, etc.) commonly refuse anyway.
_EMAIL_RE = re.compile(
    r"^[A-Za-z0-9!#$%&'*+/=?^_`{|}~-]+(?:\.[A-Za-z0-9!#$%&'*+/=?^_`{|}~-]+)*"
    r"@(?:[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?\.)+[A-Za-z]{2,63}$"
)
_MAX_EMAIL_LENGTH = 254
_MAX_LOCAL_PART_LENGTH = 64


@lru_cache(maxsize=65_536)
def normalise_email(raw: str) -> str | None:
    """The address with its domain lower-cased, or ``None`` when its syntax is not deliverable.

    Only the domain is case-folded: local parts are case-sensitive in principle.
    """
    candidate = raw.strip()
    if len(candidate) > _MAX_EMAIL_LENGTH or not _EMAIL_RE.match(candidate):
        return None
    local, _, domain = candidate.rpartition("@")
    if len(local) > _MAX_LOCAL_PART_LENGTH:
        return None
    return f"{local}@{domain.lower()}"


# Parsing with phonenumbers costs ~20 us; addresses repeat across decisions, so cache.
@lru_cache(maxsize=65_536)
def normalise_phone(raw: str) -> str | None:
    """The number in E.164 (``+13052345678``), or ``None`` when it is not a valid number.

    Only international format is accepted: without a ``+`` the country is a guess, and a guessed
    country sends a clinic's message to a stranger.
    """
    candidate = raw.strip()
    if not candidate.startswith("+"):
        return None
    try:
        parsed = phonenumbers.parse(candidate, None)
    except phonenumbers.NumberParseException:
        return None
    if not phonenumbers.is_valid_number(parsed):
        return None
    return phonenumbers.format_number(parsed, phonenumbers.PhoneNumberFormat.E164)


def mask_phone(phone: str | None) -> str | None:
    """A phone number safe for logs and reprs: only its last two digits remain."""
    if phone is None:
        return None
    return "+" + "*" * max(len(phone) - 3, 0) + phone[-2:]


def mask_email(email: str | None) -> str | None:
    """An e-mail address safe for logs and reprs: first character of the local part only."""
    if email is None:
        return None
    local, _, _ = email.partition("@")
    return f"{local[:1]}***@***"
