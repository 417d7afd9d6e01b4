"""The simulator's FastAPI application."""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from datetime import datetime

from fastapi import FastAPI

from outreach.sim.provider import control_api, sendgrid_api, twilio_api, whatsapp_api
from outreach.sim.provider.config import SimConfig
from outreach.sim.provider.state import SimState


def create_sim_app(
    config: SimConfig | None = None, clock: Callable[[], datetime] | None = None
) -> FastAPI:
    """A provider simulator speaking Twilio, SendGrid and WhatsApp Cloud API to the real SDKs.

    Its callbacks start with the application (lifespan) and stop with it. ``clock`` is the time
    it lives in (default: the system's).
    """
    state = SimState(config or SimConfig(), *([clock] if clock is not None else []))

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        await state.dispatcher.start()
        try:
            yield
        finally:
            await state.dispatcher.stop()

    app = FastAPI(
        title="outreach provider simulator", lifespan=lifespan, docs_url=None, redoc_url=None
    )
    app.state.sim = state
    app.include_router(control_api.router)
    app.include_router(twilio_api.router)
    app.include_router(sendgrid_api.router)
    app.include_router(whatsapp_api.router)  # last: its path pattern is the most general
    return app
