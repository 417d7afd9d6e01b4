"""The FastAPI application, wired explicitly from what the caller built (no globals).

``create_api_app`` takes the settings and the live services (engine, publisher, channel workers,
Redis, clock) and puts them in ``app.state.services``; routes reach them through ``Depends``.
The lifespan starts the publisher if it is not running yet, and stops it only if it started it.

Around every route: the request's correlation id and metrics (outermost), the 500 of last resort,
and the body size limit (innermost, so a 413 still gets a correlation id). Every route must
declare who may call it (``access.allow`` or ``access.open_route``): the app refuses to build
otherwise.
"""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator, Iterable, Mapping
from contextlib import asynccontextmanager
from typing import Any

from fastapi import FastAPI
from pydantic import BaseModel
from pydantic.json_schema import models_json_schema
from sqlalchemy import Engine

from outreach import wiring
from outreach.api import (
    campaigns,
    comm_context,
    generic_webhooks,
    health,
    keys,
    portal,
    preferences_admin,
    reports,
    schedule,
    segments,
    templates,
    unsubscribe,
    webhooks,
)
from outreach.api.access import document_access, require_declared_access
from outreach.api.bearer_tokens import BearerTokenVerifier
from outreach.api.console import install_console
from outreach.api.dependencies import ApiServices
from outreach.api.errors import ErrorBody, install_error_handling
from outreach.api.publisher import EventPublisher
from outreach.api.request_context import RequestContext
from outreach.api.request_limits import BodySizeLimit
from outreach.channels.base import ChannelWorker
from outreach.clock import Clock, system_clock
from outreach.config import Settings
from outreach.dead_letters import DeadLetterSealer
from outreach.kafka_publisher import KafkaPublisher
from outreach.metrics import Metrics
from outreach.sql.store import Store

logger = logging.getLogger(__name__)


def create_api_app(
    settings: Settings,
    *,
    engine: Engine,
    channels: Mapping[str, ChannelWorker],
    publisher: EventPublisher | None = None,
    redis: Any | None = None,
    clock: Clock = system_clock,
    metrics: Metrics | None = None,
    sealer: DeadLetterSealer | None = None,
) -> FastAPI:
    """The outreach API over the given services.

    ``publisher``: defaults to an aiokafka producer on ``settings.resolved_kafka_bootstrap()``.
    ``channels``: the loaded channel workers; each gets its provider webhook routes.
    ``redis``: a sync ``redis.Redis`` for one-time portal tokens (None: one-time links get 503).
    ``metrics``: the process's metrics (served at ``/metrics``); ``sealer``: seals malformed
    webhooks for ``outreach.dlq`` (default: from settings).
    """
    chosen = publisher or KafkaPublisher(_bootstrap(settings), client_id="outreach-api")
    services = ApiServices(
        settings=settings,
        engine=engine,
        store=Store(engine),
        publisher=chosen,
        channels=dict(channels),
        clock=clock,
        redis=redis,
        bearer_tokens=BearerTokenVerifier.from_settings(settings),
        sealer=sealer or wiring.dead_letter_sealer(settings),
        metrics=metrics or Metrics(),
    )

    @asynccontextmanager
    async def lifespan(_app: FastAPI) -> AsyncIterator[None]:
        started_here = not chosen.started
        if started_here:
            await chosen.start()
        try:
            yield
        finally:
            if started_here:
                await chosen.stop()

    app = FastAPI(
        title="outreach",
        summary="Patient communication engine: scheduling, comm-context, templates, campaigns, "
        "webhooks.",
        version="1",
        lifespan=lifespan,
    )
    app.state.services = services
    app.add_middleware(
        BodySizeLimit,
        default_limit=settings.api_max_body_bytes,
        limits=_body_limits(services.channels),
    )
    install_error_handling(app)
    app.add_middleware(RequestContext, metrics=services.metrics)
    for router in (
        health.router,
        schedule.router,
        comm_context.router,
        preferences_admin.router,
        templates.router,
        segments.router,
        keys.router,
        campaigns.router,
        unsubscribe.router,
        portal.router,
        reports.router,
        generic_webhooks.router,
        webhooks.webhook_router(services.channels),
    ):
        app.include_router(router)
    install_console(app)
    require_declared_access(app)
    _document_models(app, (*generic_webhooks.OPENAPI_MODELS, ErrorBody))
    return app


def _body_limits(channels: Mapping[str, ChannelWorker]) -> dict[str, int]:
    """Per path, the largest body accepted where it differs from the API's default."""
    limits = {path: generic_webhooks.MAX_BODY_BYTES for path in generic_webhooks.PATHS}
    for worker in channels.values():
        for path in (worker.status_webhook_path, worker.inbound_webhook_path):
            if path:
                limits[path.rstrip("/")] = worker.max_webhook_bytes
    return limits


def _document_models(app: FastAPI, models: Iterable[type[BaseModel]]) -> None:
    """Add ``models`` to the OpenAPI components (bodies that routes read raw, to check a
    signature first, are documented by reference to them), and each route's access."""
    build = app.openapi

    def openapi() -> dict[str, Any]:
        if app.openapi_schema is None:
            schema = build()
            _, definitions = models_json_schema(
                [(model, "validation") for model in models],
                ref_template="#/components/schemas/{model}",
            )
            known = schema.setdefault("components", {}).setdefault("schemas", {})
            for name, definition in definitions.get("$defs", {}).items():
                known.setdefault(name, definition)
            document_access(app, schema)
        return app.openapi_schema or build()

    app.openapi = openapi  # type: ignore[method-assign]


def _bootstrap(settings: Settings) -> str:
    resolve = getattr(settings, "resolved_kafka_bootstrap", None)
    return resolve() if callable(resolve) else settings.kafka_bootstrap_servers
