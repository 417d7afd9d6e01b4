"""``outreach api``: build the services from settings and serve the app with uvicorn."""

from __future__ import annotations

import logging
from collections.abc import Iterable

import uvicorn

from outreach.api.app import create_api_app
from outreach.config import Settings

logger = logging.getLogger(__name__)


def run_api(
    settings: Settings,
    host: str = "127.0.0.1",
    port: int = 8000,
    *,
    channel_names: Iterable[str] | None = None,
) -> None:
    """Serve the API until interrupted. Bad channel configuration fails here, at start-up."""
    from outreach import wiring

    engine = wiring.database_engine(settings)
    redis = wiring.redis_client(settings)
    channels = wiring.channel_workers(settings, channel_names)
    app = create_api_app(
        settings,
        engine=engine,
        channels=channels,
        redis=redis,
        clock=wiring.clock(settings, redis),
    )
    try:
        # log_config=None: keep the process's logging (with its redaction filter) as configured.
        uvicorn.run(
            app, host=host, port=port, log_config=None, access_log=False, proxy_headers=True
        )
    finally:
        for worker in channels.values():
            worker.close()
        redis.close()
        engine.dispose()
