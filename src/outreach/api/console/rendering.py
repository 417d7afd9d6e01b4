"""Console pages: one Jinja2 environment (autoescaped, templates shipped in the package) and the
headers every console answer carries.

The Content-Security-Policy admits only the console's own files: no inline script, nothing from
another origin, no framing. Pages work without JavaScript; the scripts only enhance them.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from fastapi import Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from jinja2 import Environment, PackageLoader, StrictUndefined, select_autoescape

from outreach.api.console.assets import asset_version
from outreach.api.console.auth import CSRF_FIELD, ConsoleUser
from outreach.domain import Role

SECURITY_HEADERS = {
    "Content-Security-Policy": (
        "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
        "connect-src 'self'; form-action 'self'; frame-ancestors 'none'; base-uri 'none'; "
        "object-src 'none'"
    ),
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "same-origin",
    "X-Frame-Options": "DENY",
    "Cache-Control": "no-store",
}


@dataclass(frozen=True, slots=True)
class NavItem:
    path: str
    label: str
    roles: tuple[Role, ...]


NAVIGATION = (
    NavItem("/console/segments", "Segments", (Role.MARKETER, Role.ADMIN)),
    NavItem("/console/templates", "Templates", (Role.MARKETER, Role.ADMIN)),
    NavItem("/console/campaigns", "Campaigns", (Role.MARKETER, Role.ADMIN)),
    NavItem("/console/reports", "Reports", (Role.ANALYST, Role.ADMIN)),
    NavItem("/console/operations", "Operations", (Role.ADMIN,)),
)


def _environment() -> Environment:
    environment = Environment(
        loader=PackageLoader("outreach.api.console", "templates"),
        autoescape=select_autoescape(["html"]),
        undefined=StrictUndefined,  # a missing variable is a bug, not an empty string
        trim_blocks=True,
        lstrip_blocks=True,
    )
    environment.globals["csrf_field"] = CSRF_FIELD
    environment.globals["asset_version"] = asset_version
    return environment


_ENVIRONMENT = _environment()


def secure(response: Response) -> Response:
    response.headers.update(SECURITY_HEADERS)
    return response


def render(
    request: Request,
    template: str,
    user: ConsoleUser | None,
    *,
    status_code: int = 200,
    **context: Any,
) -> HTMLResponse:
    """A console page: ``template`` with the user, their navigation and ``context``."""
    navigation = [item for item in NAVIGATION if user is not None and user.role in item.roles]
    html = _ENVIRONMENT.get_template(template).render(
        request_path=request.url.path,
        user=user,
        navigation=navigation,
        csrf_token=user.csrf_token if user is not None else context.pop("csrf_token", ""),
        **context,
    )
    return secure(HTMLResponse(html, status_code=status_code))  # type: ignore[return-value]


def redirect(path: str) -> Response:
    """After a POST: see the result with a GET (303), so a reload does not post again."""
    return secure(RedirectResponse(path, status_code=303))
