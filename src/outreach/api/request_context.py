"""Per request: a correlation id (taken from ``X-Correlation-ID`` or made, echoed, logged, put on
what the request publishes) and the request's metrics (count by route and status, webhook
latency)."""

from __future__ import annotations

import time

from starlette.types import ASGIApp, Message, Receive, Scope, Send

from outreach import correlation
from outreach.metrics import Metrics

WEBHOOK_PREFIXES = ("/webhooks/", "/api/v1/comm/webhook/")


class RequestContext:
    def __init__(self, app: ASGIApp, metrics: Metrics) -> None:
        self.app = app
        self.metrics = metrics

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        given = dict(scope.get("headers") or []).get(correlation.HTTP_HEADER.lower().encode())
        with correlation.correlated(correlation.well_formed(given)) as correlation_id:
            status = 500
            started = time.perf_counter()

            async def send_with_id(message: Message) -> None:
                nonlocal status
                if message["type"] == "http.response.start":
                    status = message["status"]
                    message["headers"] = [
                        *message.get("headers", []),
                        (correlation.HTTP_HEADER.lower().encode(), correlation_id.encode()),
                    ]
                await send(message)

            try:
                await self.app(scope, receive, send_with_id)
            finally:
                self._observe(scope, status, time.perf_counter() - started)

    def _observe(self, scope: Scope, status: int, seconds: float) -> None:
        route = getattr(scope.get("route"), "path", None) or "(unmatched)"
        self.metrics.http_requests.labels(
            method=scope.get("method", ""), route=route, status=str(status)
        ).inc()
        if route.startswith(WEBHOOK_PREFIXES):
            self.metrics.webhook_seconds.labels(route=route, status=str(status)).observe(seconds)
