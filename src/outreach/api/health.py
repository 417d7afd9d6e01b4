"""Liveness (the process answers), readiness (it reaches the database, Redis and Kafka), and the
Prometheus exposition of the API process.

``/health`` and ``/ready`` are the names to probe; ``/healthz`` and ``/readyz`` answer the same
for probes configured before. None of them needs a credential and none says anything about
anyone: they carry check names and states only.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable
from typing import Any

from fastapi import APIRouter, Depends, Response
from fastapi.responses import JSONResponse
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest
from sqlalchemy import Engine, text
from starlette.concurrency import run_in_threadpool

from outreach.api.access import open_route
from outreach.api.dependencies import ServicesDep
from outreach.api.errors import error_response

logger = logging.getLogger(__name__)

router = APIRouter(tags=["health"])

CHECK_TIMEOUT_SECONDS = 3.0
PROBES = open_route("liveness, readiness and metrics carry no personal data")


def _ping_database(engine: Engine) -> None:
    with engine.connect() as connection:
        connection.execute(text("SELECT 1"))


async def _check(name: str, probe: Callable[[], Awaitable[Any]]) -> str:
    try:
        await asyncio.wait_for(probe(), CHECK_TIMEOUT_SECONDS)
    except Exception as exc:  # any failure means "not ready"; the type is enough to act on
        logger.warning("readiness: %s check failed: %s", name, type(exc).__name__)
        return "unavailable"
    return "ok"


@router.get("/health", dependencies=[Depends(PROBES)])
async def health() -> dict[str, str]:
    """The process is up."""
    return {"status": "ok"}


@router.get("/ready", dependencies=[Depends(PROBES)])
async def ready(services: ServicesDep) -> JSONResponse:
    """200 when the database, Redis and Kafka answer within 3 s each; else 503 naming the
    failing check."""
    checks = {
        "database": await _check(
            "database", lambda: run_in_threadpool(_ping_database, services.engine)
        ),
        "kafka": await _check("kafka", services.publisher.check_reachable),
    }
    redis = services.redis
    if redis is not None:
        checks["redis"] = await _check("redis", lambda: run_in_threadpool(redis.ping))
    if all(value == "ok" for value in checks.values()):
        return JSONResponse({"status": "ready", "checks": checks})
    return error_response(503, "not_ready", checks)


@router.get("/metrics", dependencies=[Depends(PROBES)], response_class=Response)
def metrics(services: ServicesDep) -> Response:
    """The API process's metrics in Prometheus's text format."""
    return Response(generate_latest(services.metrics.registry), media_type=CONTENT_TYPE_LATEST)


router.add_api_route("/healthz", health, methods=["GET"], dependencies=[Depends(PROBES)])
router.add_api_route("/readyz", ready, methods=["GET"], dependencies=[Depends(PROBES)])
