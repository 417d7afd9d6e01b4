"""Provider-native webhooks: verify the signature, normalise, hand to Kafka, answer fast.

One route per webhook path the loaded channels declare (``status_webhook_path`` and
``inbound_webhook_path``; a plugin channel gets its routes the same way). A bad signature is a 403
and nothing is published. Statuses go to ``outreach.status`` keyed by the provider message id,
patients' messages to ``outreach.inbound`` keyed by the sender's bucket (``topics.inbound_key``:
same sender, same partition, never the address itself); no database write happens here.
Success is answered only after the broker acknowledged: otherwise 503, and the provider retries.

The signature is the only credential (``open_route``). Bodies are bounded while they stream in
(``request_limits``, the channel's ``max_webhook_bytes``). A signed body that cannot be read is
a 400 (the provider stops retrying it) and goes to ``outreach.dlq``, sealed, with the reason; a
signature outside the channel's time window is a 403 (``stale_webhook``).
"""

from __future__ import annotations

import json
import logging
from collections.abc import Callable, Coroutine, Mapping
from datetime import datetime
from typing import Any

from fastapi import APIRouter, Depends, Request, Response
from fastapi.responses import PlainTextResponse

from outreach import topics
from outreach.api.access import open_route
from outreach.api.dependencies import PublisherDep, ServicesDep, SettingsDep
from outreach.api.errors import ApiError
from outreach.api.publisher import OutgoingRecord, PublishFailed, hand_over
from outreach.channels.base import (
    ChannelWorker,
    DeliveryStatus,
    InboundMessage,
    InvalidSignature,
    MalformedWebhook,
    StaleWebhook,
    WebhookRequest,
)
from outreach.clock import Clock, system_clock
from outreach.config import Settings
from outreach.dead_letters import dead_letter
from outreach.events import InboundEnvelope, StatusUpdate

logger = logging.getLogger(__name__)

STATUS, INBOUND = "status", "inbound"
DEAD_LETTER_STAGE = "api.webhook"
# Twilio reads the answer to an incoming message as TwiML: an empty document sends no reply.
EMPTY_TWIML = '<?xml version="1.0" encoding="UTF-8"?><Response/>'

Endpoint = Callable[..., Coroutine[Any, Any, Response]]


def public_url(settings: Settings, request: Request) -> str:
    """The URL the provider called, as it saw it: Twilio's signature covers it, query included."""
    query = request.scope.get("query_string", b"").decode("latin-1")
    url = settings.public_base_url.rstrip("/") + request.url.path
    return f"{url}?{query}" if query else url


async def read_webhook(
    request: Request, settings: Settings, clock: Clock = system_clock
) -> WebhookRequest:
    body = await request.body()  # bounded while it streamed in (request_limits)
    return WebhookRequest(
        url=public_url(settings, request),
        headers=dict(request.headers),
        body=body,
        # Freshness on the deployment's clock: the real one in production; in the demo the
        # shifted one the provider simulator also stamps and signs its webhooks on.
        received_at=clock(),
    )


def status_record(status: DeliveryStatus, arrived_at: datetime | None = None) -> OutgoingRecord:
    """The status as published; ``arrived_at`` (the API's clock) stands for the event time of a
    provider whose reports carry none, so every time of a job is read on one clock."""
    update = StatusUpdate(
        provider=status.provider,
        provider_message_id=status.provider_message_id,
        status=status.status,
        occurred_at=arrived_at or status.occurred_at,
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


async def dead_letter_or_503(
    services: ServicesDep, path: str, webhook: WebhookRequest, error: BaseException
) -> None:
    """Seal a signed body that could not be read onto ``outreach.dlq``, with the reason."""
    letter = dead_letter(
        source_topic=f"http:{path}",
        stage=DEAD_LETTER_STAGE,
        error=error,
        failed_at=services.clock(),
        original=webhook.body,
    )
    entry = services.sealer.seal(letter)
    logger.warning("webhook %s: malformed body dead-lettered (%s)", path, letter.error)
    await publish_or_503(
        services.publisher, [(topics.DLQ, None, entry.model_dump_json().encode("utf-8"))]
    )


def _receiver(worker: ChannelWorker, path: str, roles: frozenset[str]) -> Endpoint:
    answer_twiml = worker.provider == "twilio" and roles == {INBOUND}

    async def receive_webhook(
        request: Request, settings: SettingsDep, publisher: PublisherDep, services: ServicesDep
    ) -> Response:
        webhook = await read_webhook(request, settings, services.clock)
        try:
            worker.verify(webhook)
        except StaleWebhook:
            logger.info("%s webhook refused: outside its time window", worker.name)
            raise ApiError(403, "stale_webhook", "signed too long ago (or ahead)") from None
        except InvalidSignature:
            logger.info("%s webhook refused: bad signature", worker.name)
            raise ApiError(403, "invalid_signature", "signature missing or wrong") from None
        records: list[OutgoingRecord] = []
        try:
            if STATUS in roles:
                arrived_at = services.clock() if worker.status_times_are_arrival else None
                records += [status_record(s, arrived_at) for s in worker.parse_status(webhook)]
            if INBOUND in roles:
                records += [inbound_record(m) for m in worker.parse_inbound(webhook)]
        except Exception as error:  # a plugin's parser bug is a bad body too: never a 500 loop
            await dead_letter_or_503(services, path, webhook, error)
            reason = error.phi_free_text() if isinstance(error, MalformedWebhook) else None
            raise ApiError(
                400, "malformed_webhook", reason or "the body could not be read"
            ) from None
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
    # The provider's signature is the credential, checked by the channel.
    router = APIRouter(
        tags=["webhooks"], dependencies=[Depends(open_route("the provider's signature"))]
    )
    for path, (worker, roles) in by_path.items():
        router.add_api_route(
            path,
            _receiver(worker, path, frozenset(roles)),
            methods=["POST"],
            status_code=200,
            response_class=Response,
        )
        if callable(getattr(worker, "answer_subscription", None)):
            router.add_api_route(
                path, _subscription(worker), methods=["GET"], response_class=PlainTextResponse
            )
    return router
