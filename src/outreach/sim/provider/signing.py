"""Webhook signatures made the way each provider makes them.

Written from the providers' specifications, independently of the SDK validators the channels
use, so that a channel accepting a simulator callback shows both sides agree.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
from collections.abc import Iterable

from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec


def twilio_signature(auth_token: str, url: str, params: Iterable[tuple[str, str]]) -> str:
    """X-Twilio-Signature: base64 HMAC-SHA1 of the URL followed by each POST field's name and
    value, sorted by name (then value), keyed with the account's auth token."""
    signed = url + "".join(name + value for name, value in sorted(set(params)))
    digest = hmac.new(auth_token.encode("utf-8"), signed.encode("utf-8"), hashlib.sha1).digest()
    return base64.b64encode(digest).decode("ascii")


def meta_signature(app_secret: str, body: bytes) -> str:
    """X-Hub-Signature-256: ``sha256=`` + hex HMAC-SHA256 of the raw body with the app secret."""
    return "sha256=" + hmac.new(app_secret.encode("utf-8"), body, hashlib.sha256).hexdigest()


def gateway_signature(secret: str, body: bytes) -> str:
    """X-Gateway-Signature of the generic gateway: ``sha256=`` + hex HMAC-SHA256 of the body."""
    return "sha256=" + hmac.new(secret.encode("utf-8"), body, hashlib.sha256).hexdigest()


def sendgrid_signature(private_key: ec.EllipticCurvePrivateKey, timestamp: str, body: bytes) -> str:
    """X-Twilio-Email-Event-Webhook-Signature: base64 DER ECDSA P-256/SHA-256 over the
    timestamp header's value followed by the raw body."""
    signature = private_key.sign(timestamp.encode("ascii") + body, ec.ECDSA(hashes.SHA256()))
    return base64.b64encode(signature).decode("ascii")


def generate_sendgrid_private_key() -> ec.EllipticCurvePrivateKey:
    return ec.generate_private_key(ec.SECP256R1())


def private_key_pem(key: ec.EllipticCurvePrivateKey) -> str:
    return key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    ).decode("ascii")


def load_private_key(pem: str) -> ec.EllipticCurvePrivateKey:
    key = serialization.load_pem_private_key(pem.encode("ascii"), password=None)
    if not isinstance(key, ec.EllipticCurvePrivateKey) or not isinstance(key.curve, ec.SECP256R1):
        raise ValueError("the SendGrid signing key must be an EC P-256 private key")
    return key


def public_key_b64(key: ec.EllipticCurvePrivateKey) -> str:
    """The verification key as SendGrid's settings page shows it: base64 DER, no PEM armour."""
    der = key.public_key().public_bytes(
        serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo
    )
    return base64.b64encode(der).decode("ascii")


def public_key_pem(key: ec.EllipticCurvePrivateKey) -> str:
    return (
        key.public_key()
        .public_bytes(serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo)
        .decode("ascii")
    )


def generate_sendgrid_keypair() -> tuple[str, str]:
    """A fresh (private key PEM, public key base64 DER) pair: the first for ``SimConfig``, the
    second for ``OUTREACH_SENDGRID_WEBHOOK_PUBLIC_KEY``."""
    key = generate_sendgrid_private_key()
    return private_key_pem(key), public_key_b64(key)
