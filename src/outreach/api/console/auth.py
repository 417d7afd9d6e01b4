"""Who may open a console page: the session cookie, the role each page admits, and CSRF.

Console routes declare their access like API routes, with exactly one rule: ``console_allow``
(a ``RoleGuard``, so the app's check that every route declares one covers them) or
``access.open_route``. The guard finds the live session the cookie names; without one a page
answers with a redirect to the sign-in page (a script's request gets a 401), and a role the page
does not admit gets a 403 page. The organisation always comes from the session.

CSRF: every state-changing request (POST) must carry the session's token, as the form field
``csrf_token`` or the header ``X-CSRF-Token`` (the console's scripts), compared in constant
time; a request that a browser marks as coming from another site is refused outright. The
cookie is also ``SameSite=Strict``: two independent defences.
"""

from __future__ import annotations

import hmac
from dataclasses import dataclass
from datetime import datetime, timedelta
from urllib.parse import urlsplit

from fastapi import Request

from outreach.api.access import Caller, RoleGuard, caller_of
from outreach.clock import system_clock
from outreach.domain import Role
from outreach.services.console_sessions import ConsoleSession, SessionPolicy, live_session

SESSION_COOKIE = "outreach_console"
SIGN_IN_COOKIE = "outreach_console_sign_in"  # the sign-in form's own CSRF token (no session yet)
CSRF_FIELD = "csrf_token"
CSRF_HEADER = "X-CSRF-Token"
COOKIE_PATH = "/console"
SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})


class ConsoleError(Exception):
    """A console request that cannot go on; the console's handlers answer it as a page."""


class SignInRequired(ConsoleError):
    def __init__(self, next_path: str) -> None:
        super().__init__("sign-in required")
        self.next_path = next_path


class ConsoleForbidden(ConsoleError):
    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


@dataclass(frozen=True, slots=True)
class ConsoleUser:
    """The signed-in user of one console request."""

    caller: Caller
    session: ConsoleSession

    @property
    def org_id(self) -> str:
        return self.caller.org_id

    @property
    def role(self) -> Role:
        return self.caller.role

    @property
    def csrf_token(self) -> str:
        return self.session.csrf_token

    def may(self, *roles: Role) -> bool:
        return self.role in roles


def session_clock() -> datetime:
    """Sessions run on the wall clock, even where a deployment shifts its business clock (the
    demo's simulated day): an expiry is a security promise in real time."""
    return system_clock()


def session_policy(request: Request) -> SessionPolicy:
    settings = request.app.state.services.settings
    return SessionPolicy(
        lifetime=timedelta(hours=settings.console_session_hours),
        idle=timedelta(minutes=settings.console_idle_minutes),
    )


def tokens_match(sent: str | None, expected: str) -> bool:
    return bool(sent) and hmac.compare_digest(str(sent).encode(), expected.encode())


def from_another_site(request: Request) -> bool:
    """True when the browser says the request comes from another site (Fetch metadata, or an
    Origin whose host is not this one)."""
    if request.headers.get("sec-fetch-site", "same-origin") not in {"same-origin", "none"}:
        return True
    origin = request.headers.get("origin")
    if origin and origin != "null":
        return urlsplit(origin).netloc != request.headers.get("host", "")
    return origin == "null"


async def sent_csrf_token(request: Request) -> str | None:
    header = request.headers.get(CSRF_HEADER)
    if header:
        return header
    content_type = request.headers.get("content-type", "")
    if content_type.startswith(("application/x-www-form-urlencoded", "multipart/form-data")):
        value = (await request.form()).get(CSRF_FIELD)  # parsed once; the route reads it again
        return value if isinstance(value, str) else None
    return None


async def _csrf_holds(request: Request, session: ConsoleSession) -> bool:
    if from_another_site(request):
        return False
    return tokens_match(await sent_csrf_token(request), session.csrf_token)


class ConsoleGuard(RoleGuard):
    """The dependency ``console_allow`` builds: a live session, a role, and CSRF on POST."""

    async def __call__(self, request: Request) -> ConsoleUser:  # type: ignore[override]
        services = request.app.state.services
        session = live_session(
            services.store,
            request.cookies.get(SESSION_COOKIE, ""),
            policy=session_policy(request),
            now=session_clock(),
        )
        if session is None:
            raise SignInRequired(request.url.path)
        if session.principal.role not in self.roles:
            raise ConsoleForbidden(
                f"the {session.principal.role.value} role may not open this page; it is for "
                + ", ".join(sorted(r.value for r in self.roles))
            )
        if request.method not in SAFE_METHODS and not await _csrf_holds(request, session):
            raise ConsoleForbidden(
                "the form's security token is missing or stale: reload the page and try again"
            )
        return ConsoleUser(caller_of(request, session.principal), session)

    def __repr__(self) -> str:
        return f"console_allow({', '.join(sorted(r.value for r in self.roles))})"


def console_allow(*roles: Role) -> ConsoleGuard:
    """Admit signed-in console users with one of ``roles``."""
    if not roles:
        raise ValueError("console_allow() needs at least one role")
    return ConsoleGuard(frozenset(roles))


MARKETING = (Role.MARKETER, Role.ADMIN)
ANALYSIS = (Role.ANALYST, Role.ADMIN)
ANYONE = (Role.MARKETER, Role.ANALYST, Role.ADMIN)
