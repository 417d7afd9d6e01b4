"""The generic webhooks: statuses and inbound messages from systems that are not a native provider.

For an in-house gateway or a test harness. Each accepts outreach's own shape or the gateway shape
(``generic_bodies``), one document or an array, and publishes the same normalised messages. The
caller signs the raw body: ``X-Outreach-Signature: sha256=<hex HMAC-SHA256>`` with the shared
``generic_webhook_secret``; without a configured secret every call is refused. Validation errors
are 422s naming field paths, never the values sent.
"""

from __future__ import annotations

import hashlib
import hmac
import json
from collections.abc import Callable
from typing import Any, TypeVar

from fastapi import APIRouter, Depends, Request, status
from pydantic import BaseModel, ValidationError

from outreach import topics
from outreach.api.access import open_route
from outreach.api.dependencies import PublisherDep, SettingsDep
from outreach.api.errors import ApiError, ErrorBody, validation_details
from outreach.api.generic_bodies import (
    GenericInboundBody,
    GenericStatusBody,
    inbound_envelope_of,
    status_update_of,
)
from outreach.api.publisher import OutgoingRecord
from outreach.api.webhooks import publish_or_503
from outreach.channels.base import NORMALISED_STATUSES
from outreach.config import Settings
from outreach.events import InboundEnvelope, StatusUpdate

router = APIRouter(
    prefix="/api/v1/comm/webhook",
    tags=["webhooks"],
    # The caller proves itself with the body's HMAC signature, checked before anything is read.
    dependencies=[Depends(open_route("HMAC-SHA256 signature of the body"))],
)
PATHS = ("/api/v1/comm/webhook/outbound-status", "/api/v1/comm/webhook/inbound")

SIGNATURE_HEADER = "X-Outreach-Signature"
_PREFIX = "sha256="
MAX_BODY_BYTES = 1024 * 1024
MAX_ITEMS = 1000

ModelT = TypeVar("ModelT", bound=BaseModel)


def generic_signature(secret: str, body: bytes) -> str:
    """The header value a caller sends: ``sha256=`` + hex HMAC-SHA256 of the raw body."""
    return _PREFIX + hmac.new(secret.encode("utf-8"), body, hashlib.sha256).hexdigest()


def _secret(settings: Settings) -> str | None:
    value = settings.generic_webhook_secret
    return (value.get_secret_value() or None) if value is not None else None


async def _verified_body(request: Request, settings: Settings) -> bytes:
    secret = _secret(settings)
    if secret is None:
        raise ApiError(403, "invalid_signature", "generic webhooks are not enabled")
    body = await request.body()  # at most MAX_BODY_BYTES: request_limits refuses more
    given = request.headers.get(SIGNATURE_HEADER, "")
    expected = generic_signature(secret, body)
    if not hmac.compare_digest(
        given.strip().lower().encode("ascii", "replace"), expected.encode("ascii")
    ):
        raise ApiError(403, "invalid_signature", f"{SIGNATURE_HEADER} missing or wrong")
    return body


def _no_problems(_item: Any) -> list[tuple[str, str]]:
    return []


def _items(
    body: bytes,
    parse: Callable[[Any], ModelT],
    problems: Callable[[ModelT], list[tuple[str, str]]] = _no_problems,
) -> list[ModelT]:
    """One object or an array of them, each parsed and checked; all errors at once, each naming
    its field (``body.<field>``, or ``body.<index>.<field>`` in an array), never its value."""
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
        prefix = f"body.{index}" if isinstance(payload, list) else "body"
        try:
            item = parse(document)
        except ValidationError as error:
            for detail in validation_details(error.errors(include_input=False)):
                detail["loc"] = f"{prefix}.{detail['loc']}"
                errors.append(detail)
            continue
        items.append(item)
        errors.extend(
            {"loc": f"{prefix}.{field}", "msg": message, "type": "value_error"}
            for field, message in problems(item)
        )
    if errors:
        raise ApiError(422, "validation_error", errors)
    return items


def _status_problems(update: StatusUpdate) -> list[tuple[str, str]]:
    if update.status in NORMALISED_STATUSES:
        return []
    return [("status", "not one of " + ", ".join(sorted(NORMALISED_STATUSES)))]


def _request_body(*shapes: type[BaseModel]) -> dict[str, Any]:
    """OpenAPI for a body the route reads raw (to check its signature): one document of any of
    ``shapes``, or an array of them (schemas added to the components by ``create_api_app``)."""
    one = {"oneOf": [{"$ref": f"#/components/schemas/{shape.__name__}"} for shape in shapes]}
    schema = {"oneOf": [one, {"type": "array", "items": one, "minItems": 1, "maxItems": MAX_ITEMS}]}
    return {
        "requestBody": {"required": True, "content": {"application/json": {"schema": schema}}},
        "parameters": [
            {
                "name": SIGNATURE_HEADER,
                "in": "header",
                "required": True,
                "description": "`sha256=` + hex HMAC-SHA256 of the raw body with the shared "
                "generic webhook secret.",
                "schema": {"type": "string"},
            }
        ],
    }


# Models the generic webhooks document without FastAPI seeing them as parameters.
OPENAPI_MODELS: tuple[type[BaseModel], ...] = (
    StatusUpdate,
    GenericStatusBody,
    InboundEnvelope,
    GenericInboundBody,
)
_ACCEPTED = {
    "description": 'Handed to Kafka: `{"status": "accepted", "count": n}`.',
}
_REFUSED: dict[int | str, dict[str, Any]] = {
    code: {"model": ErrorBody, "description": description}
    for code, description in (
        (403, "Signature missing or wrong, or generic webhooks not enabled."),
        (413, "Body larger than 1 MiB."),
        (422, "Not JSON or invalid documents: field paths, never the values."),
        (503, "Kafka did not take it; retry (`Retry-After`)."),
    )
}


@router.post(
    "/outbound-status",
    status_code=status.HTTP_202_ACCEPTED,
    openapi_extra=_request_body(StatusUpdate, GenericStatusBody),
    responses={202: _ACCEPTED, **_REFUSED},
)
async def outbound_status(
    request: Request, settings: SettingsDep, publisher: PublisherDep
) -> dict[str, Any]:
    """Delivery statuses onto ``outreach.status``, keyed by the provider message id.

    Each document is outreach's ``StatusUpdate`` or the gateway shape (``message_id``,
    ``timestamp``, ``event_data``); both are published as ``StatusUpdate``.
    """
    body = await _verified_body(request, settings)
    updates = _items(body, status_update_of, _status_problems)
    records: list[OutgoingRecord] = [
        (topics.STATUS, u.provider_message_id.encode(), u.model_dump_json().encode("utf-8"))
        for u in updates
    ]
    await publish_or_503(publisher, records)
    return {"status": "accepted", "count": len(records)}


@router.post(
    "/inbound",
    status_code=status.HTTP_202_ACCEPTED,
    openapi_extra=_request_body(InboundEnvelope, GenericInboundBody),
    responses={202: _ACCEPTED, **_REFUSED},
)
async def inbound(
    request: Request, settings: SettingsDep, publisher: PublisherDep
) -> dict[str, Any]:
    """Patients' messages onto ``outreach.inbound``, keyed by the sender's bucket
    (``topics.inbound_key``).

    Each document is outreach's ``InboundEnvelope`` (``from``, ``received_at``,
    ``provider_message_id``, ``channel``) or the gateway shape (``from``, ``timestamp``,
    ``message_id``, channel optional); both are published as ``InboundEnvelope``.
    """
    body = await _verified_body(request, settings)
    envelopes = _items(body, inbound_envelope_of)
    records: list[OutgoingRecord] = [
        (
            topics.INBOUND,
            topics.inbound_key(e.from_),
            e.model_dump_json(by_alias=True).encode("utf-8"),
        )
        for e in envelopes
    ]
    await publish_or_503(publisher, records)
    return {"status": "accepted", "count": len(records)}
