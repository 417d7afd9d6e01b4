"""Bearer tokens from single sign-on: JWTs signed by the configured issuer's key.

A token must carry ``iss`` (the configured issuer), ``sub``, ``exp``, and outreach's two claims:
``org_id`` (the one organisation it acts for) and ``role`` (``platform``, ``marketer``,
``analyst`` or ``admin``); ``aud`` too when an audience is configured. The key decides the
algorithms: a PEM public key admits RS*, PS* and ES* tokens, anything else is an HS256 secret,
so a public key can never be used as an HMAC secret (the classic algorithm confusion).
"""

from __future__ import annotations

import logging

import jwt
from cryptography.hazmat.primitives.serialization import load_pem_public_key

from outreach.config import Settings
from outreach.domain import Principal, Role

logger = logging.getLogger(__name__)

ASYMMETRIC_ALGORITHMS = ("RS256", "RS384", "RS512", "PS256", "PS384", "PS512", "ES256", "ES384")
SYMMETRIC_ALGORITHMS = ("HS256",)
LEEWAY_SECONDS = 30  # clocks of the issuer and of outreach disagree a little
MAX_TOKEN_CHARS = 8192
_MAX_CLAIM_CHARS = 64


class InvalidBearerToken(Exception):
    """The token cannot be trusted; the text says why, never what the token held."""


class BearerTokenVerifier:
    """Verifies tokens of one issuer; built once from settings."""

    def __init__(self, issuer: str, key: str, audience: str | None = None) -> None:
        self.issuer = issuer
        self.audience = audience
        if key.lstrip().startswith("-----BEGIN"):
            self._key: object = load_pem_public_key(key.encode("ascii"))
            self._algorithms: tuple[str, ...] = ASYMMETRIC_ALGORITHMS
        else:
            self._key = key
            self._algorithms = SYMMETRIC_ALGORITHMS

    @classmethod
    def from_settings(cls, settings: Settings) -> BearerTokenVerifier | None:
        """None when single sign-on is not configured (bearer tokens are then refused)."""
        if not settings.jwt_issuer or settings.jwt_key is None:
            return None
        return cls(settings.jwt_issuer, settings.jwt_key.get_secret_value(), settings.jwt_audience)

    def principal(self, token: str) -> Principal:
        if len(token) > MAX_TOKEN_CHARS:
            raise InvalidBearerToken("token too long")
        try:
            claims = jwt.decode(
                token,
                self._key,  # type: ignore[arg-type]
                algorithms=list(self._algorithms),
                issuer=self.issuer,
                audience=self.audience,
                leeway=LEEWAY_SECONDS,
                options={
                    "require": ["exp", "iss", "sub"],
                    "verify_aud": self.audience is not None,
                },
            )
        except jwt.PyJWTError as error:
            raise InvalidBearerToken(type(error).__name__) from None
        subject, org_id, role = claims.get("sub"), claims.get("org_id"), claims.get("role")
        if not isinstance(org_id, str) or not 0 < len(org_id) <= _MAX_CLAIM_CHARS:
            raise InvalidBearerToken("org_id claim missing or invalid")
        if role not in {r.value for r in Role}:
            raise InvalidBearerToken("role claim missing or invalid")
        if not isinstance(subject, str) or not subject.isprintable():
            raise InvalidBearerToken("sub claim invalid")
        return Principal(actor=f"sso:{subject[:96]}", org_id=org_id, role=Role(role))
