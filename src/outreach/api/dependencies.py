"""What routes receive through ``Depends``: the services ``create_api_app`` put in ``app.state``."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Annotated, Any

from fastapi import Depends, Request
from sqlalchemy import Engine

from outreach.api.bearer_tokens import BearerTokenVerifier
from outreach.api.publisher import EventPublisher
from outreach.channels.base import ChannelWorker
from outreach.clock import Clock
from outreach.config import Settings
from outreach.dead_letters import DeadLetterSealer
from outreach.metrics import Metrics
from outreach.sql.store import Store


@dataclass(frozen=True, slots=True)
class ApiServices:
    """Everything the routes use, built once by the caller and shared by every request."""

    settings: Settings
    engine: Engine
    store: Store
    publisher: EventPublisher
    channels: Mapping[str, ChannelWorker]
    clock: Clock
    redis: Any | None  # a sync ``redis.Redis`` (one-time portal tokens); None: none available
    bearer_tokens: BearerTokenVerifier | None  # None: single sign-on not configured
    sealer: DeadLetterSealer  # seals malformed webhooks for outreach.dlq
    metrics: Metrics  # this process's, served at /metrics


def services(request: Request) -> ApiServices:
    return request.app.state.services


def _settings(request: Request) -> Settings:
    return services(request).settings


def _engine(request: Request) -> Engine:
    return services(request).engine


def _store(request: Request) -> Store:
    return services(request).store


def _publisher(request: Request) -> EventPublisher:
    return services(request).publisher


def _clock(request: Request) -> Clock:
    return services(request).clock


ServicesDep = Annotated[ApiServices, Depends(services)]
SettingsDep = Annotated[Settings, Depends(_settings)]
EngineDep = Annotated[Engine, Depends(_engine)]
StoreDep = Annotated[Store, Depends(_store)]
PublisherDep = Annotated[EventPublisher, Depends(_publisher)]
ClockDep = Annotated[Clock, Depends(_clock)]
