"""Every error the API answers is ``{"error": <code>, "detail": ...}``; none carries a stack trace.

Routes raise ``ApiError``; validation errors, unknown routes and anything unexpected are turned
into the same shape here. An unexpected exception is logged with its type, the route and the ids
in its path (job, patient, template), never its message: messages of database drivers and
libraries may quote the values they choked on, which can be PHI.
"""

from __future__ import annotations

import logging
import traceback
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from pydantic import BaseModel, Field
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.types import ASGIApp, Message, Receive, Scope, Send

logger = logging.getLogger(__name__)

# Codes for the HTTP errors Starlette raises itself (unknown route, wrong method...).
_STATUS_CODES = {
    400: "bad_request",
    401: "unauthorized",
    403: "forbidden",
    404: "not_found",
    405: "method_not_allowed",
    413: "payload_too_large",
    415: "unsupported_media_type",
    422: "validation_error",
    503: "unavailable",
}
INTERNAL_ERROR = {"error": "internal", "detail": "internal error; the request was logged"}


class ErrorBody(BaseModel):
    """Every error answer (for OpenAPI; the handlers below write it)."""

    error: str = Field(description="A machine-readable code, e.g. `validation_error`.")
    detail: Any = Field(
        default=None,
        description="A sentence, or for validation errors a list of `{loc, msg, type}`: the "
        "field path, what is wrong and the kind of error, never the value sent.",
    )


class ApiError(Exception):
    """An answer other than success: HTTP status, a machine-readable code and a detail."""

    def __init__(
        self,
        status_code: int,
        code: str,
        detail: Any = None,
        *,
        headers: dict[str, str] | None = None,
    ) -> None:
        super().__init__(code)
        self.status_code = status_code
        self.code = code
        self.detail = detail
        self.headers = headers


def error_response(
    status_code: int, code: str, detail: Any = None, headers: dict[str, str] | None = None
) -> JSONResponse:
    return JSONResponse({"error": code, "detail": detail}, status_code=status_code, headers=headers)


def validation_details(errors: Any) -> list[dict[str, str]]:
    """Field paths and messages of a pydantic validation error, never the rejected input."""
    details = []
    for item in errors:
        location = ".".join(str(part) for part in item.get("loc", ())) or "(root)"
        details.append({"loc": location, "msg": str(item.get("msg", "")), "type": item["type"]})
    return details


async def _api_error(_request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, ApiError)
    return error_response(exc.status_code, exc.code, exc.detail, exc.headers)


async def _validation_error(_request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, RequestValidationError)
    return error_response(422, "validation_error", validation_details(exc.errors()))


async def _http_error(_request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, StarletteHTTPException)
    code = _STATUS_CODES.get(exc.status_code, "http_error")
    return error_response(exc.status_code, code, exc.detail, getattr(exc, "headers", None))


def _ids_in(scope: Scope) -> dict[str, str]:
    params = scope.get("path_params") or {}
    return {name: str(value) for name, value in params.items() if name.endswith("id")}


# The innermost frames say where it broke; a recursion's thousand frames say nothing more.
LOGGED_FRAMES = 25


def log_unexpected(scope: Scope, exc: BaseException) -> None:
    """The exception's type, route, ids and innermost frames (code lines only): never its
    message, and never more than ``LOGGED_FRAMES`` frames."""
    route = scope.get("route")
    path = getattr(route, "path", None) or "(unrouted)"
    frames = "".join(traceback.format_tb(exc.__traceback__, limit=-LOGGED_FRAMES))
    logger.error(
        "unhandled %s in %s %s %s\n%s",
        type(exc).__name__,
        scope.get("method", ""),
        path,
        _ids_in(scope),
        frames,
    )


class CatchUnexpectedErrors:
    """ASGI middleware answering 500 ``{"error": "internal"}`` for any exception.

    Starlette's own 500 handler re-raises after answering, so the server would log the
    exception's text; this one answers and stops there.
    """

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        started = False

        async def tracking_send(message: Message) -> None:
            nonlocal started
            if message["type"] == "http.response.start":
                started = True
            await send(message)

        try:
            await self.app(scope, receive, tracking_send)
        except Exception as exc:
            log_unexpected(scope, exc)
            if started:
                return  # the answer is on its way; nothing better to send
            response = JSONResponse(INTERNAL_ERROR, status_code=500)
            await response(scope, receive, send)


def install_error_handling(app: FastAPI) -> None:
    app.add_exception_handler(ApiError, _api_error)
    app.add_exception_handler(RequestValidationError, _validation_error)
    app.add_exception_handler(StarletteHTTPException, _http_error)
    app.add_middleware(CatchUnexpectedErrors)
