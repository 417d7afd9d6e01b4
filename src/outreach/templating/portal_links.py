"""Signed, expiring portal links: how PHI reaches a patient without travelling in the message.

A token carries the patient id, the purpose and the resource id, an expiry and, for one-time
links, a nonce; an HMAC-SHA256 tag (stdlib) signs it. The format is packed binary on purpose:
the link often rides in an SMS, where every character costs. The payload is signed, not
encrypted: it holds identifiers only, never health information. Checking "used once" needs
storage, which stays outside: ``consume_portal_token`` takes a claim callable (a Redis
``SET NX`` later) or a set.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import secrets
import struct
import uuid
from collections.abc import Callable, MutableSet, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from outreach.domain import Purpose
from outreach.templating.errors import InvalidPortalToken, PortalTokenProblem

PORTAL_LINK_PATH = "p"  # the link is <portal base url>/p/<token>
_VERSION = 1
_TAG_BYTES = 16  # HMAC-SHA256 truncated to 128 bits (NIST SP 800-107): shorter SMS, ample margin
_KEY_CONTEXT = b"outreach/portal-link/v1"  # a secret shared with other uses cannot forge links
# Purposes travel as one byte. Append only: a code, once issued, keeps its meaning.
_PURPOSE_CODES: tuple[Purpose, ...] = (
    Purpose.APPT_CONFIRM,
    Purpose.APPT_REMINDER,
    Purpose.NO_SHOW,
    Purpose.RX_REFILL,
    Purpose.LAB_READY,
    Purpose.CAMPAIGN_EDUCATION,
    Purpose.URGENT,
)
# Each id field: a kind byte, then the value. Canonical UUIDs pack to 16 bytes (36 as text).
_ABSENT, _TEXT, _UUID = 0, 1, 2

Secret = str | bytes
NonceClaim = Callable[[str, datetime], bool] | MutableSet[str]


@dataclass(frozen=True, slots=True)
class PortalResource:
    """What the link opens: a purpose (e.g. lab_ready) and the id of the thing behind it."""

    purpose: Purpose
    resource_id: str


@dataclass(frozen=True, slots=True)
class PortalClaim:
    """What a valid token says; the portal then checks the signed-in patient matches."""

    patient_id: str
    purpose: Purpose
    resource_id: str
    expires_at: datetime
    nonce: str | None  # set for one-time links

    @property
    def one_time(self) -> bool:
        return self.nonce is not None


def _b64encode(raw: bytes) -> str:
    return base64.urlsafe_b64encode(raw).rstrip(b"=").decode("ascii")


def _b64decode(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


def _key(secret: Secret) -> bytes:
    raw = secret.encode("utf-8") if isinstance(secret, str) else secret
    if not raw:
        raise ValueError("the portal link secret is empty")
    return hmac.new(raw, _KEY_CONTEXT, hashlib.sha256).digest()


def _tag(key: bytes, payload: bytes) -> bytes:
    return hmac.new(key, payload, hashlib.sha256).digest()[:_TAG_BYTES]


def _pack_id(value: str | None) -> bytes:
    if value is None:
        return bytes([_ABSENT])
    try:
        parsed = uuid.UUID(value)
    except ValueError:
        parsed = None
    if parsed is not None and str(parsed) == value:
        return bytes([_UUID]) + parsed.bytes
    raw = value.encode("utf-8")
    if len(raw) > 255:
        raise ValueError("ids in portal links are at most 255 bytes")
    return bytes([_TEXT, len(raw)]) + raw


def _unpack_id(payload: bytes, offset: int) -> tuple[str | None, int]:
    kind = payload[offset]
    if kind == _ABSENT:
        return None, offset + 1
    if kind == _UUID:
        end = offset + 17
        if end > len(payload):
            raise ValueError("truncated uuid")
        return str(uuid.UUID(bytes=payload[offset + 1 : end])), end
    if kind == _TEXT:
        length = payload[offset + 1]
        end = offset + 2 + length
        if end > len(payload):
            raise ValueError("truncated id")
        return payload[offset + 2 : end].decode("utf-8"), end
    raise ValueError(f"unknown id kind {kind}")


def _parse_claim(payload: bytes) -> PortalClaim:
    version, expires, purpose_code = struct.unpack_from(">BIB", payload)
    if version != _VERSION or purpose_code >= len(_PURPOSE_CODES):
        raise ValueError("unknown version or purpose")
    offset = struct.calcsize(">BIB")
    patient_id, offset = _unpack_id(payload, offset)
    resource_id, offset = _unpack_id(payload, offset)
    nonce, offset = _unpack_id(payload, offset)
    if patient_id is None or resource_id is None or offset != len(payload):
        raise ValueError("malformed fields")
    return PortalClaim(
        patient_id=patient_id,
        purpose=_PURPOSE_CODES[purpose_code],
        resource_id=resource_id,
        expires_at=datetime.fromtimestamp(expires, tz=UTC),
        nonce=nonce,
    )


def _require_aware(now: datetime) -> None:
    if now.tzinfo is None or now.utcoffset() is None:
        raise ValueError("now must be timezone-aware")


def make_portal_token(
    secret: Secret,
    patient_id: str,
    resource: PortalResource,
    ttl: timedelta,
    now: datetime,
    *,
    one_time: bool = False,
    nonce: str | None = None,
) -> str:
    """A signed token valid for ``ttl`` from ``now``; ``one_time`` adds a nonce (random if None)."""
    _require_aware(now)
    if ttl <= timedelta(0):
        raise ValueError("ttl must be positive")
    if one_time and nonce is None:
        nonce = secrets.token_urlsafe(9)
    expires = int((now + ttl).timestamp())
    payload = (
        struct.pack(">BIB", _VERSION, expires, _PURPOSE_CODES.index(resource.purpose))
        + _pack_id(patient_id)
        + _pack_id(resource.resource_id)
        + _pack_id(nonce)
    )
    return f"{_b64encode(payload)}.{_b64encode(_tag(_key(secret), payload))}"


def make_portal_link(
    base_url: str,
    secret: Secret,
    patient_id: str,
    resource: PortalResource,
    ttl: timedelta,
    now: datetime,
    one_time: bool = False,
    *,
    nonce: str | None = None,
) -> str:
    """The full link to put in a message as ``portal_link``."""
    token = make_portal_token(
        secret, patient_id, resource, ttl, now, one_time=one_time, nonce=nonce
    )
    return f"{base_url.rstrip('/')}/{PORTAL_LINK_PATH}/{token}"


def verify_portal_token(
    token: str, secret: Secret | Sequence[Secret], now: datetime
) -> PortalClaim:
    """The claim of a genuine, unexpired token, or ``InvalidPortalToken`` saying why not.

    ``secret`` may be a list during key rotation: the first signs new links elsewhere, any
    verifies. One-time tokens are not consumed here; use ``consume_portal_token``.
    """
    _require_aware(now)
    try:
        encoded_payload, encoded_tag = token.split(".")
        payload = _b64decode(encoded_payload)
        tag = _b64decode(encoded_tag)
    except (ValueError, binascii.Error):
        raise InvalidPortalToken(PortalTokenProblem.MALFORMED) from None
    candidates = [secret] if isinstance(secret, str | bytes) else list(secret)
    if not any(hmac.compare_digest(_tag(_key(s), payload), tag) for s in candidates):
        raise InvalidPortalToken(PortalTokenProblem.BAD_SIGNATURE)
    try:
        claim = _parse_claim(payload)
    except (ValueError, IndexError, struct.error, UnicodeDecodeError):
        raise InvalidPortalToken(PortalTokenProblem.MALFORMED) from None
    if now >= claim.expires_at:
        raise InvalidPortalToken(PortalTokenProblem.EXPIRED)
    return claim


def consume_portal_token(
    token: str, secret: Secret | Sequence[Secret], now: datetime, claim_nonce: NonceClaim
) -> PortalClaim:
    """Verify, and for a one-time token claim its nonce; a second use raises ``REUSED``.

    ``claim_nonce(nonce, expires_at)`` must atomically record the nonce and say whether it was
    new (Redis ``SET key 1 NX EXAT expires_at``); a plain set works for tests and one process.
    """
    claim = verify_portal_token(token, secret, now)
    if claim.nonce is None:
        return claim
    if isinstance(claim_nonce, MutableSet):
        first_use = claim.nonce not in claim_nonce
        claim_nonce.add(claim.nonce)
    else:
        first_use = claim_nonce(claim.nonce, claim.expires_at)
    if not first_use:
        raise InvalidPortalToken(PortalTokenProblem.REUSED)
    return claim
