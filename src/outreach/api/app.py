"""The FastAPI application, wired explicitly from what the caller built (no globals).

``create_api_app`` takes the settings and the live services (engine, publisher, channel workers,
Redis, clock) and puts them in ``app.state.services``; routes reach them through ``Depends``.
The lifespan starts the publisher if it is not running yet, and stops it only if it started it.
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

from outreach.api import (
    campaigns,
    comm_context,
    generic_webhooks,
    health,
    portal,
    preferences_admin,
    reports,
    schedule,
    segments,
    templates,
    unsubscribe,
    webhooks,
)
from outreach.api.dependencies import ApiServices
from outreach.api.errors import install_error_handling
from outreach.api.publisher import EventPublisher
from outreach.channels.base import ChannelWorker
from outreach.clock import Clock, system_clock
from outreach.config import Settings
from outreach.kafka_publisher import KafkaPublisher
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
) -> FastAPI:
    """The outreach API over the given services.

    ``publisher``: defaults to an aiokafka producer on ``settings.resolved_kafka_bootstrap()``.
    ``channels``: the loaded channel workers; each gets its provider webhook routes.
    ``redis``: a sync ``redis.Redis`` for one-time portal tokens (None: one-time links get 503).
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
    install_error_handling(app)
    for router in (
        health.router,
        schedule.router,
        comm_context.router,
        preferences_admin.router,
        templates.router,
        segments.router,
        campaigns.router,
        unsubscribe.router,
        portal.router,
        reports.router,
        generic_webhooks.router,
        webhooks.webhook_router(services.channels),
    ):
        app.include_router(router)
    _document_models(app, generic_webhooks.OPENAPI_MODELS)
    return app


def _document_models(app: FastAPI, models: Iterable[type[BaseModel]]) -> None:
    """Add ``models`` to the OpenAPI components: bodies that routes read raw (to check a
    signature first) are documented by reference to them."""
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
        return app.openapi_schema or build()

    app.openapi = openapi  # type: ignore[method-assign]


def _bootstrap(settings: Settings) -> str:
    resolve = getattr(settings, "resolved_kafka_bootstrap", None)
    return resolve() if callable(resolve) else settings.kafka_bootstrap_servers
