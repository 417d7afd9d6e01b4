"""The generic webhooks: statuses and inbound messages already in outreach's own shapes.

For systems that are not one of the native providers (an in-house gateway, a test harness). The
caller signs the raw body: ``X-Outreach-Signature: sha256=<hex HMAC-SHA256>`` with the shared
``generic_webhook_secret``; without a configured secret every call is refused.
"""

from __future__ import annotations

import hashlib
import hmac
import json
from typing import Any, TypeVar

from fastapi import APIRouter, Request, status
from pydantic import BaseModel, ValidationError

from outreach import topics
from outreach.api.dependencies import PublisherDep, SettingsDep
from outreach.api.errors import ApiError, validation_details
from outreach.api.publisher import OutgoingRecord
from outreach.api.webhooks import publish_or_503
from outreach.channels.base import NORMALISED_STATUSES
from outreach.config import Settings
from outreach.events import InboundEnvelope, StatusUpdate

router = APIRouter(prefix="/api/v1/comm/webhook", tags=["webhooks"])

SIGNATURE_HEADER = "X-Outreach-Signature"
_PREFIX = "sha256="
MAX_BODY_BYTES = 1024 * 1024
MAX_ITEMS = 1000

ModelT = TypeVar("ModelT", bound=BaseModel)


def generic_signature(secret: str, body: bytes) -> str:
    """The header value a caller sends: ``sha256=`` + hex HMAC-SHA256 of the raw body."""
    return _PREFIX + hmac.new(secret.encode("utf-8"), body, hashlib.sha256).hexdigest()


def _secret(settings: Settings) -> str | None:
    value = getattr(settings, "generic_webhook_secret", None)
    if value is None:
        return None
    text = value.get_secret_value() if hasattr(value, "get_secret_value") else str(value)
    return text or None


async def _verified_body(request: Request, settings: Settings) -> bytes:
    secret = _secret(settings)
    if secret is None:
        raise ApiError(403, "invalid_signature", "generic webhooks are not enabled")
    declared = request.headers.get("content-length", "")
    if declared.isdigit() and int(declared) > MAX_BODY_BYTES:
        raise ApiError(413, "payload_too_large", f"at most {MAX_BODY_BYTES} bytes")
    body = await request.body()
    if len(body) > MAX_BODY_BYTES:
        raise ApiError(413, "payload_too_large", f"at most {MAX_BODY_BYTES} bytes")
    given = request.headers.get(SIGNATURE_HEADER, "")
    expected = generic_signature(secret, body)
    if not hmac.compare_digest(
        given.strip().lower().encode("ascii", "replace"), expected.encode("ascii")
    ):
        raise ApiError(403, "invalid_signature", f"{SIGNATURE_HEADER} missing or wrong")
    return body


def _items(body: bytes, model: type[ModelT]) -> list[ModelT]:
    """One object or an array of them, each validated; errors name fields, never values."""
    try:
        payload = json.loads(body)
    except (ValueError, UnicodeDecodeError):
        raise ApiError(
            422, "validation_error", [{"loc": "body", "msg": "not JSON", "type": "json_invalid"}]
        ) from None
    documents = payload if isinstance(payload, list) else [payload]
    if not documents or len(documents) > MAX_ITEMS:
        raise ApiError(
            422,
            "validation_error",
            [{"loc": "body", "msg": f"1 to {MAX_ITEMS} items", "type": "value_error"}],
        )
    items = []
    errors: list[dict[str, Any]] = []
    for index, document in enumerate(documents):
        try:
            items.append(model.model_validate(document))
        except ValidationError as error:
            for detail in validation_details(error.errors(include_input=False)):
                prefix = f"body.{index}" if isinstance(payload, list) else "body"
                detail["loc"] = f"{prefix}.{detail['loc']}"
                errors.append(detail)
    if errors:
        raise ApiError(422, "validation_error", errors)
    return items


@router.post("/outbound-status", status_code=status.HTTP_202_ACCEPTED)
async def outbound_status(
    request: Request, settings: SettingsDep, publisher: PublisherDep
) -> dict[str, Any]:
    """``StatusUpdate`` JSON (or an array of them) onto ``outreach.status``."""
    body = await _verified_body(request, settings)
    updates = _items(body, StatusUpdate)
    unknown = [
        {"loc": f"body.{i}.status", "msg": "not a normalised status", "type": "value_error"}
        for i, update in enumerate(updates)
        if update.status not in NORMALISED_STATUSES
    ]
    if unknown:
        raise ApiError(422, "validation_error", unknown)
    records: list[OutgoingRecord] = [
        (topics.STATUS, u.provider_message_id.encode(), u.model_dump_json().encode("utf-8"))
        for u in updates
    ]
    await publish_or_503(publisher, records)
    return {"status": "accepted", "count": len(records)}


@router.post("/inbound", status_code=status.HTTP_202_ACCEPTED)
async def inbound(
    request: Request, settings: SettingsDep, publisher: PublisherDep
) -> dict[str, Any]:
    """``InboundEnvelope`` JSON (``from``, not ``from_``) onto ``outreach.inbound``."""
    body = await _verified_body(request, settings)
    envelopes = _items(body, InboundEnvelope)
    records: list[OutgoingRecord] = [
        (topics.INBOUND, e.from_.encode(), e.model_dump_json(by_alias=True).encode("utf-8"))
        for e in envelopes
    ]
    await publish_or_503(publisher, records)
    return {"status": "accepted", "count": len(records)}
