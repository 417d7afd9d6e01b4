"""Request bodies are bounded while they stream in, before anything parses or verifies them.

``BodySizeLimit`` is ASGI middleware: a declared ``Content-Length`` over the route's limit is a 413
at once, without reading a byte; a chunked body is counted as it arrives and refused the moment
it passes the limit, so no route (and no signature check) ever holds more than the limit in
memory. Provider webhook paths get their channel's declared ``max_webhook_bytes``; every other
path gets ``api_max_body_bytes``.
"""

from __future__ import annotations

from collections.abc import Mapping

from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from outreach.api.errors import error_response


class BodyTooLarge(StarletteHTTPException):
    """Raised inside ``receive`` once a body passes its limit: the app's HTTP error handling
    answers it 413 wherever the body was being read (FastAPI passes HTTP errors through)."""

    def __init__(self, limit: int) -> None:
        super().__init__(413, f"request body larger than {limit} bytes")


class BodySizeLimit:
    def __init__(self, app: ASGIApp, default_limit: int, limits: Mapping[str, int]) -> None:
        self.app = app
        self.default_limit = default_limit
        self.limits = dict(limits)

    def limit_for(self, path: str) -> int:
        return self.limits.get(path.rstrip("/") or "/", self.default_limit)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        limit = self.limit_for(scope.get("path", ""))
        declared = dict(scope.get("headers") or []).get(b"content-length", b"")
        if declared.isdigit() and int(declared) > limit:
            await self._refuse(scope, receive, send, limit)
            return
        seen = 0
        started = False

        async def counting_receive() -> Message:
            nonlocal seen
            message = await receive()
            if message["type"] == "http.request":
                seen += len(message.get("body", b""))
                if seen > limit:
                    raise BodyTooLarge(limit)
            return message

        async def tracking_send(message: Message) -> None:
            nonlocal started
            if message["type"] == "http.response.start":
                started = True
            await send(message)

        try:
            await self.app(scope, counting_receive, tracking_send)
        except BodyTooLarge:
            if not started:
                await self._refuse(scope, receive, send, limit)

    @staticmethod
    async def _refuse(scope: Scope, receive: Receive, send: Send, limit: int) -> None:
        response = error_response(
            413,
            "payload_too_large",
            f"request body larger than {limit} bytes",
            headers={"Connection": "close"},
        )
        await response(scope, receive, send)
