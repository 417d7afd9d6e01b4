"""What routes receive through ``Depends``: the services ``create_api_app`` put in ``app.state``."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Annotated, Any

from fastapi import Depends, Header, Request
from sqlalchemy import Engine

from outreach.api.errors import ApiError
from outreach.api.publisher import EventPublisher
from outreach.channels.base import ChannelWorker
from outreach.clock import Clock
from outreach.config import Settings
from outreach.sql.store import Store

DEFAULT_ACTOR = "api"
_MAX_ACTOR_CHARS = 100


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


def _actor(x_actor: Annotated[str | None, Header()] = None) -> str:
    """Who made an admin change, for the audit log: the ``X-Actor`` header, else "api"."""
    if x_actor is None or not x_actor.strip():
        return DEFAULT_ACTOR
    actor = x_actor.strip()
    if len(actor) > _MAX_ACTOR_CHARS or not actor.isprintable():
        raise ApiError(
            422,
            "validation_error",
            [
                {
                    "loc": "header.X-Actor",
                    "msg": "at most 100 printable characters",
                    "type": "value_error",
                }
            ],
        )
    return actor


ServicesDep = Annotated[ApiServices, Depends(services)]
SettingsDep = Annotated[Settings, Depends(_settings)]
EngineDep = Annotated[Engine, Depends(_engine)]
StoreDep = Annotated[Store, Depends(_store)]
PublisherDep = Annotated[EventPublisher, Depends(_publisher)]
ClockDep = Annotated[Clock, Depends(_clock)]
ActorDep = Annotated[str, Depends(_actor)]
