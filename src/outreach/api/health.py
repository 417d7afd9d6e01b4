"""Liveness (the process answers) and readiness (it can reach the database and Kafka)."""

from __future__ import annotations

import asyncio
import logging

from fastapi import APIRouter
from fastapi.responses import JSONResponse
from sqlalchemy import Engine, text
from starlette.concurrency import run_in_threadpool

from outreach.api.dependencies import ServicesDep
from outreach.api.errors import error_response

logger = logging.getLogger(__name__)

router = APIRouter(tags=["health"])

DATABASE_PING_TIMEOUT_SECONDS = 3.0


def _ping(engine: Engine) -> None:
    with engine.connect() as connection:
        connection.execute(text("SELECT 1"))


@router.get("/healthz")
async def healthz() -> dict[str, str]:
    return {"status": "ok"}


@router.get("/readyz")
async def readyz(services: ServicesDep) -> JSONResponse:
    checks: dict[str, str] = {}
    try:
        await asyncio.wait_for(
            run_in_threadpool(_ping, services.engine), DATABASE_PING_TIMEOUT_SECONDS
        )
        checks["database"] = "ok"
    except Exception as exc:  # any failure means "not ready"; the type is enough to act on
        logger.warning("readiness: database ping failed: %s", type(exc).__name__)
        checks["database"] = "unavailable"
    checks["publisher"] = "ok" if services.publisher.started else "unavailable"
    if all(value == "ok" for value in checks.values()):
        return JSONResponse({"status": "ready", "checks": checks})
    return error_response(503, "not_ready", checks)
