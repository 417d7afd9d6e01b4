"""Provider-native webhooks: verify the signature, normalise, hand to Kafka, answer fast.

One route per webhook path the loaded channels declare (``status_webhook_path`` and
``inbound_webhook_path``; a plugin channel gets its routes the same way). A bad signature is a 403
and nothing is published. Statuses go to ``outreach.status`` keyed by the provider message id,
patients' messages to ``outreach.inbound`` keyed by the sender's bucket (``topics.inbound_key``:
same sender, same partition, never the address itself); no database write happens here.
Success is answered only after the broker acknowledged: otherwise 503, and the provider retries.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Callable, Coroutine, Mapping
from typing import Any

from fastapi import APIRouter, Request, Response
from fastapi.responses import PlainTextResponse

from outreach import topics
from outreach.api.dependencies import PublisherDep, SettingsDep
from outreach.api.errors import ApiError
from outreach.api.publisher import OutgoingRecord, PublishFailed, hand_over
from outreach.channels.base import (
    ChannelWorker,
    DeliveryStatus,
    InboundMessage,
    InvalidSignature,
    MalformedWebhook,
    WebhookRequest,
)
from outreach.config import Settings
from outreach.events import InboundEnvelope, StatusUpdate

logger = logging.getLogger(__name__)

# SendGrid's Inbound Parse may carry attachments up to 30 MB; nothing legitimate is larger.
MAX_WEBHOOK_BODY_BYTES = 32 * 1024 * 1024
STATUS, INBOUND = "status", "inbound"
# Twilio reads the answer to an incoming message as TwiML: an empty document sends no reply.
EMPTY_TWIML = '<?xml version="1.0" encoding="UTF-8"?><Response/>'

Endpoint = Callable[..., Coroutine[Any, Any, Response]]


def public_url(settings: Settings, request: Request) -> str:
    """The URL the provider called, as it saw it: Twilio's signature covers it, query included."""
    query = request.scope.get("query_string", b"").decode("latin-1")
    url = settings.public_base_url.rstrip("/") + request.url.path
    return f"{url}?{query}" if query else url


async def read_webhook(request: Request, settings: Settings) -> WebhookRequest:
    declared = request.headers.get("content-length")
    if declared is not None and declared.isdigit() and int(declared) > MAX_WEBHOOK_BODY_BYTES:
        raise ApiError(413, "payload_too_large", "webhook body too large")
    body = await request.body()
    if len(body) > MAX_WEBHOOK_BODY_BYTES:
        raise ApiError(413, "payload_too_large", "webhook body too large")
    return WebhookRequest(
        url=public_url(settings, request), headers=dict(request.headers), body=body
    )


def status_record(status: DeliveryStatus) -> OutgoingRecord:
    update = StatusUpdate(
        provider=status.provider,
        provider_message_id=status.provider_message_id,
        status=status.status,
        occurred_at=status.occurred_at,
        error_code=status.error_code,
        price=status.price,
        price_unit=status.price_unit,
        raw=status.raw,
    )
    value = update.model_dump(mode="json")
    if status.job_id is not None:
        # Lets a status that overtakes the send's receipt find its job (not yet in the model).
        value["job_id"] = status.job_id
    return topics.STATUS, status.provider_message_id.encode(), _json(value)


def inbound_record(message: InboundMessage) -> OutgoingRecord:
    envelope = InboundEnvelope.model_validate(
        {
            "provider": message.provider,
            "channel": message.channel,
            "from": message.from_address,
            "to": message.to_address or None,
            "body": message.body,
            "received_at": message.received_at,
            "provider_message_id": message.provider_message_id,
        }
    )
    return (
        topics.INBOUND,
        topics.inbound_key(message.from_address),
        envelope.model_dump_json(by_alias=True).encode("utf-8"),
    )


def _json(value: dict[str, Any]) -> bytes:
    return json.dumps(value, separators=(",", ":"), default=str).encode("utf-8")


async def publish_or_503(publisher: Any, records: list[OutgoingRecord]) -> None:
    try:
        await hand_over(publisher, records)
    except PublishFailed:
        raise ApiError(
            503, "unavailable", "not handed over; retry later", headers={"Retry-After": "5"}
        ) from None


def _receiver(worker: ChannelWorker, roles: frozenset[str]) -> Endpoint:
    answer_twiml = worker.provider == "twilio" and roles == {INBOUND}

    async def receive_webhook(
        request: Request, settings: SettingsDep, publisher: PublisherDep
    ) -> Response:
        webhook = await read_webhook(request, settings)
        try:
            worker.verify(webhook)
        except InvalidSignature:
            logger.info("%s webhook refused: bad signature", worker.name)
            raise ApiError(403, "invalid_signature", "signature missing or wrong") from None
        records: list[OutgoingRecord] = []
        try:
            if STATUS in roles:
                records += [status_record(s) for s in worker.parse_status(webhook)]
            if INBOUND in roles:
                records += [inbound_record(m) for m in worker.parse_inbound(webhook)]
        except MalformedWebhook as error:
            raise ApiError(400, "malformed_webhook", str(error)) from None
        await publish_or_503(publisher, records)
        logger.debug("%s webhook: %d record(s) handed over", worker.name, len(records))
        if answer_twiml:
            return Response(EMPTY_TWIML, media_type="text/xml")
        return Response(status_code=200)

    receive_webhook.__name__ = f"{worker.name}_webhook"
    return receive_webhook


def _subscription(worker: Any) -> Endpoint:
    """Meta's GET handshake: echo ``hub.challenge`` when ``hub.verify_token`` is ours."""

    async def answer_subscription(request: Request) -> Response:
        try:
            challenge = worker.answer_subscription(dict(request.query_params))
        except InvalidSignature:
            raise ApiError(403, "invalid_signature", "subscription refused") from None
        return PlainTextResponse(challenge)

    answer_subscription.__name__ = f"{worker.name}_subscription"
    return answer_subscription


def webhook_router(channels: Mapping[str, ChannelWorker]) -> APIRouter:
    """Routes for every webhook path of ``channels``; two channels on one path is a wiring bug."""
    by_path: dict[str, tuple[ChannelWorker, set[str]]] = {}
    for worker in channels.values():
        for path, role in (
            (worker.status_webhook_path, STATUS),
            (worker.inbound_webhook_path, INBOUND),
        ):
            if not path:
                continue
            owner, roles = by_path.setdefault(path, (worker, set()))
            if owner is not worker:
                raise ValueError(f"channels {owner.name!r} and {worker.name!r} share {path}")
            roles.add(role)
    router = APIRouter(tags=["webhooks"])
    for path, (worker, roles) in by_path.items():
        router.add_api_route(
            path,
            _receiver(worker, frozenset(roles)),
            methods=["POST"],
            status_code=200,
            response_class=Response,
        )
        if callable(getattr(worker, "answer_subscription", None)):
            router.add_api_route(
                path, _subscription(worker), methods=["GET"], response_class=PlainTextResponse
            )
    return router
