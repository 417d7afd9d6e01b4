"""Signed one-click unsubscribe links (RFC 8058) for marketing e-mail.

Every marketing e-mail carries ``List-Unsubscribe: <link>`` and ``List-Unsubscribe-Post:
List-Unsubscribe=One-Click``; a mail client then POSTs to the link and the patient is opted out
of e-mail, with no page to fill in. The link is ``<api>/api/v1/unsubscribe/<token>``: the token
names the patient, the channel and the campaign and job it came with, signed with HMAC-SHA256
under a key derived from the portal link secret (so a portal token can never pass as one, nor
the reverse). It is signed, not encrypted: identifiers only. It does not expire: mailbox
providers expect an unsubscribe link to keep working as long as the mail is read, and using it
twice changes nothing.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import json
from dataclasses import dataclass

from outreach.domain import Channel, PhiFreeError

UNSUBSCRIBE_PATH = "/api/v1/unsubscribe"
ONE_CLICK_POST = "List-Unsubscribe=One-Click"  # the List-Unsubscribe-Post value (RFC 8058)
_KEY_CONTEXT = b"outreach/unsubscribe-link/v1"
_TAG_BYTES = 16
MAX_TOKEN_CHARS = 512


class InvalidUnsubscribeToken(PhiFreeError):
    """A token that is malformed or not signed by this deployment."""


@dataclass(frozen=True, slots=True)
class UnsubscribeClaim:
    """What a valid token says: who stops receiving what, and which message carried the link."""

    patient_id: str
    channel: Channel
    campaign_id: int | None = None
    job_id: int | None = None


def _key(secret: str | bytes) -> bytes:
    raw = secret.encode("utf-8") if isinstance(secret, str) else secret
    if not raw:
        raise ValueError("the link secret is empty")
    return hmac.new(raw, _KEY_CONTEXT, hashlib.sha256).digest()


def _b64(raw: bytes) -> str:
    return base64.urlsafe_b64encode(raw).rstrip(b"=").decode("ascii")


def _unb64(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


def make_unsubscribe_token(secret: str | bytes, claim: UnsubscribeClaim) -> str:
    payload = json.dumps(
        [claim.patient_id, claim.channel.value, claim.campaign_id, claim.job_id],
        separators=(",", ":"),
    ).encode("utf-8")
    tag = hmac.new(_key(secret), payload, hashlib.sha256).digest()[:_TAG_BYTES]
    return f"{_b64(payload)}.{_b64(tag)}"


def verify_unsubscribe_token(token: str, secret: str | bytes) -> UnsubscribeClaim:
    """The claim of a genuine token; ``InvalidUnsubscribeToken`` for anything else."""
    if len(token) > MAX_TOKEN_CHARS or token.count(".") != 1:
        raise InvalidUnsubscribeToken("malformed unsubscribe token")
    encoded, encoded_tag = token.split(".")
    try:
        payload, tag = _unb64(encoded), _unb64(encoded_tag)
    except (binascii.Error, ValueError):
        raise InvalidUnsubscribeToken("malformed unsubscribe token") from None
    expected = hmac.new(_key(secret), payload, hashlib.sha256).digest()[:_TAG_BYTES]
    if not hmac.compare_digest(tag, expected):
        raise InvalidUnsubscribeToken("unsubscribe token not signed by this deployment")
    try:
        patient_id, channel, campaign_id, job_id = json.loads(payload)
        if not isinstance(patient_id, str) or not patient_id:
            raise ValueError("patient")
        if campaign_id is not None and not isinstance(campaign_id, int):
            raise ValueError("campaign")
        if job_id is not None and not isinstance(job_id, int):
            raise ValueError("job")
        return UnsubscribeClaim(patient_id, Channel(channel), campaign_id, job_id)
    except (ValueError, TypeError):
        raise InvalidUnsubscribeToken("malformed unsubscribe token") from None


def make_unsubscribe_link(base_url: str, secret: str | bytes, claim: UnsubscribeClaim) -> str:
    """``<base_url>/api/v1/unsubscribe/<token>``: the API's public address serves it."""
    return f"{base_url.rstrip('/')}{UNSUBSCRIBE_PATH}/{make_unsubscribe_token(secret, claim)}"
