"""API keys: how one looks, how one is made, how one is checked. Pure: no storage here.

A key is ``ork_<8 characters>_<43 characters>``. The first part (``ork_`` and 8 characters) is
its visible prefix: unique, stored in clear, shown in listings and in the audit log. The whole
key is shown once, at creation; only its SHA-256 digest is stored. A key carries 256 random bits,
so a fast digest is enough: there is nothing to guess that a slow hash would protect.
"""

from __future__ import annotations

import hashlib
import hmac
import re
import secrets
from dataclasses import dataclass

KEY_SCHEME = "ork_"
_KEY = re.compile(r"^(ork_[A-Za-z0-9]{8})_[A-Za-z0-9_-]{43}$")
_PREFIX_ALPHABET = "abcdefghijkmnopqrstuvwxyzABCDEFGHJKLMNPQRSTUVWXYZ23456789"  # no look-alikes


@dataclass(frozen=True, slots=True)
class IssuedKey:
    """A new key: ``plaintext`` is handed to its owner once and never stored."""

    plaintext: str
    prefix: str
    digest: str

    def __repr__(self) -> str:
        return f"IssuedKey(prefix={self.prefix!r}, plaintext=***)"


def key_digest(plaintext: str) -> str:
    return hashlib.sha256(plaintext.encode("utf-8")).hexdigest()


def new_api_key() -> IssuedKey:
    prefix = KEY_SCHEME + "".join(secrets.choice(_PREFIX_ALPHABET) for _ in range(8))
    plaintext = f"{prefix}_{secrets.token_urlsafe(32)}"
    return IssuedKey(plaintext, prefix, key_digest(plaintext))


def key_prefix(plaintext: str) -> str | None:
    """The visible prefix of a well-formed key, else None (nothing to look up)."""
    match = _KEY.match(plaintext)
    return match.group(1) if match else None


def digest_matches(plaintext: str, stored_digest: str) -> bool:
    return hmac.compare_digest(key_digest(plaintext).encode(), stored_digest.encode())
