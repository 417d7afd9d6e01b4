"""``install_console``: the console's routes and error pages, added to the API app."""

from __future__ import annotations

from urllib.parse import quote

from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse, Response

from outreach.api.console import (
    campaigns,
    operations,
    reports,
    segments,
    sign_in,
    static_files,
    templates_pages,
)
from outreach.api.console.auth import COOKIE_PATH, ConsoleForbidden, SignInRequired
from outreach.api.console.rendering import redirect, render, secure

ROUTERS = (
    sign_in.router,
    static_files.router,
    segments.router,
    templates_pages.router,
    campaigns.router,
    reports.router,
    operations.router,
)


def _wants_json(request: Request) -> bool:
    """The console's scripts ask for JSON; a browser navigating asks for a page."""
    return "application/json" in request.headers.get("accept", "")


async def _sign_in_required(request: Request, error: Exception) -> Response:
    assert isinstance(error, SignInRequired)
    if _wants_json(request) or request.method != "GET":
        return secure(
            JSONResponse(
                {"error": "unauthorized", "detail": "sign in again: the session has ended"},
                status_code=401,
            )
        )
    return redirect(f"{COOKIE_PATH}/sign-in?next={quote(error.next_path)}")


async def _forbidden(request: Request, error: Exception) -> Response:
    assert isinstance(error, ConsoleForbidden)
    if _wants_json(request):
        return secure(
            JSONResponse({"error": "forbidden", "detail": error.message}, status_code=403)
        )
    return render(request, "error.html", None, status_code=403, message=error.message)


def install_console(app: FastAPI) -> None:
    for router in ROUTERS:
        app.include_router(router)
    app.add_exception_handler(SignInRequired, _sign_in_required)
    app.add_exception_handler(ConsoleForbidden, _forbidden)
