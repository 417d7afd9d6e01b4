"""Verification of signed portal links (``<portal_base_url>/p/<token>``).

A genuine, unexpired token answers what it opens; a one-time token is consumed on first use
through Redis ``SET NX EXAT`` (atomic across API processes, gone when the token expires anyway),
so a second use is refused as ``reused``.
"""

from __future__ import annotations

import logging
from datetime import datetime, timedelta
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Path, Query
from redis.exceptions import RedisError

from outreach.api.access import open_route
from outreach.api.dependencies import ServicesDep
from outreach.api.errors import ApiError
from outreach.redis_store import KeySpace
from outreach.templating import InvalidPortalToken, consume_portal_token

logger = logging.getLogger(__name__)

# The signed token is the credential: whoever holds a valid link may open it.
router = APIRouter(tags=["portal"], dependencies=[Depends(open_route("signed portal link"))])

MAX_TOKEN_CHARS = 512  # real tokens are under 100 characters


def _verify(token: str, services: ServicesDep) -> dict[str, Any]:
    settings = services.settings
    if settings.portal_link_secret is None:
        raise ApiError(503, "unavailable", "portal links are not configured")
    secret = settings.portal_link_secret.get_secret_value()
    now = services.clock()
    if len(token) > MAX_TOKEN_CHARS:
        raise ApiError(403, "invalid_token", "malformed")
    keys = KeySpace(settings.redis_key_prefix)
    redis = services.redis

    def claim(nonce: str, expires_at: datetime) -> bool:
        if redis is None:
            raise ApiError(503, "unavailable", "one-time links need Redis, which is not set up")
        expire_at = max(expires_at, now + timedelta(seconds=1))
        try:
            return bool(
                redis.set(
                    keys.key("portal", "nonce", nonce),
                    "1",
                    nx=True,
                    exat=int(expire_at.timestamp()) + 1,
                )
            )
        except RedisError:
            logger.warning("portal nonce store unavailable")
            raise ApiError(503, "unavailable", "try again shortly") from None

    try:
        claimed = consume_portal_token(token, secret, now, claim)
    except InvalidPortalToken as error:
        logger.info("portal token refused: %s", error.problem.value)
        raise ApiError(403, "invalid_token", error.problem.value) from None
    return {
        "patient_id": claimed.patient_id,
        "purpose": claimed.purpose.value,
        "resource_id": claimed.resource_id,
        "expires_at": claimed.expires_at.isoformat(),
        "one_time": claimed.one_time,
    }


@router.get("/api/v1/portal/verify")
def verify_query(
    services: ServicesDep, token: Annotated[str, Query(min_length=1)]
) -> dict[str, Any]:
    return _verify(token, services)


@router.get("/p/{token}")
def verify_link(services: ServicesDep, token: Annotated[str, Path(min_length=1)]) -> dict[str, Any]:
    return _verify(token, services)
