"""Signing in and out of the console, and its home page.

Sign-in takes an API key (marketer, analyst or admin) or a single sign-on token from the
configured issuer (the JWT the API accepts as a bearer token). Either opens a session whose
random token goes into an HttpOnly, SameSite=Strict cookie (Secure when served over TLS); the
sign-in form itself carries a CSRF token tied to a short-lived cookie, as there is no session yet.
"""

from __future__ import annotations

import secrets
from typing import Annotated

from fastapi import APIRouter, Depends, Form, Query, Request
from fastapi.responses import Response

from outreach.api.access import caller_of, open_route
from outreach.api.bearer_tokens import InvalidBearerToken
from outreach.api.console.auth import (
    ANYONE,
    COOKIE_PATH,
    SESSION_COOKIE,
    SIGN_IN_COOKIE,
    ConsoleUser,
    console_allow,
    from_another_site,
    session_clock,
    session_policy,
    tokens_match,
)
from outreach.api.console.rendering import redirect, render
from outreach.credentials import key_prefix
from outreach.domain import Principal
from outreach.services.api_keys import authenticate_api_key
from outreach.services.console_sessions import (
    ConsoleSignInRefused,
    OpenedSession,
    close_session,
    open_session,
)

router = APIRouter(prefix="/console", include_in_schema=False)

SignedIn = Annotated[ConsoleUser, Depends(console_allow(*ANYONE))]
SIGN_IN_FORM_SECONDS = 3600
MAX_CREDENTIAL_CHARS = 8192


def safe_next(path: str | None) -> str:
    """Where to go after signing in: only a console path of this site (no open redirect)."""
    if path and path.startswith(COOKIE_PATH) and not path.startswith("//") and "\\" not in path:
        return path
    return COOKIE_PATH + "/"


def _over_tls(request: Request) -> bool:
    return request.url.scheme == "https"


def _sign_in_page(
    request: Request, *, next_path: str, error: str | None = None, status_code: int = 200
) -> Response:
    form_token = secrets.token_urlsafe(32)
    services = request.app.state.services
    response = render(
        request,
        "sign_in.html",
        None,
        status_code=status_code,
        csrf_token=form_token,
        next_path=next_path,
        error=error,
        sso_configured=services.bearer_tokens is not None,
    )
    response.set_cookie(
        SIGN_IN_COOKIE,
        form_token,
        max_age=SIGN_IN_FORM_SECONDS,
        path=COOKIE_PATH,
        httponly=True,
        secure=_over_tls(request),
        samesite="strict",
    )
    return response


@router.get("/sign-in", dependencies=[Depends(open_route("the sign-in page"))])
def sign_in_page(request: Request, next: Annotated[str | None, Query()] = None) -> Response:  # noqa: A002
    return _sign_in_page(request, next_path=safe_next(next))


def _opened(request: Request, opened: OpenedSession, next_path: str) -> Response:
    response = redirect(next_path)
    response.set_cookie(
        SESSION_COOKIE,
        opened.token,
        max_age=int((opened.session.expires_at - session_clock()).total_seconds()),
        path=COOKIE_PATH,
        httponly=True,
        secure=_over_tls(request),
        samesite="strict",
    )
    response.delete_cookie(SIGN_IN_COOKIE, path=COOKIE_PATH)
    return response


def _form_refused(request: Request, csrf_token: str) -> bool:
    return from_another_site(request) or not tokens_match(
        csrf_token, request.cookies.get(SIGN_IN_COOKIE, "")
    )


def _open(
    request: Request, principal: Principal | None, key: str | None, next_path: str
) -> Response:
    services = request.app.state.services
    if principal is None:
        return _sign_in_page(
            request,
            next_path=next_path,
            error="That credential was not accepted: it is unknown, revoked or has expired.",
            status_code=401,
        )
    try:
        opened = open_session(
            services.store,
            principal,
            actor=caller_of(request, principal).actor,
            policy=session_policy(request),
            now=session_clock(),
            api_key_prefix=key_prefix(key) if key else None,
        )
    except ConsoleSignInRefused as refused:
        return _sign_in_page(request, next_path=next_path, error=str(refused), status_code=403)
    return _opened(request, opened, next_path)


@router.post("/sign-in", dependencies=[Depends(open_route("the sign-in form: it checks a key"))])
def sign_in_with_key(
    request: Request,
    api_key: Annotated[str, Form(max_length=MAX_CREDENTIAL_CHARS)] = "",
    csrf_token: Annotated[str, Form(max_length=128)] = "",
    next: Annotated[str, Form(max_length=2000)] = "",  # noqa: A002
) -> Response:
    next_path = safe_next(next)
    if _form_refused(request, csrf_token):
        return _sign_in_page(
            request,
            next_path=next_path,
            error="The sign-in form had expired; please try again.",
            status_code=403,
        )
    key = api_key.strip()
    principal = authenticate_api_key(request.app.state.services.store, key) if key else None
    return _open(request, principal, key, next_path)


@router.post(
    "/sign-in/sso",
    dependencies=[Depends(open_route("the single sign-on form: it verifies a signed token"))],
)
def sign_in_with_token(
    request: Request,
    token: Annotated[str, Form(max_length=MAX_CREDENTIAL_CHARS)] = "",
    csrf_token: Annotated[str, Form(max_length=128)] = "",
    next: Annotated[str, Form(max_length=2000)] = "",  # noqa: A002
) -> Response:
    next_path = safe_next(next)
    verifier = request.app.state.services.bearer_tokens
    if _form_refused(request, csrf_token) or verifier is None:
        return _sign_in_page(
            request,
            next_path=next_path,
            error="Single sign-on is not available; sign in with an API key.",
            status_code=403,
        )
    try:
        principal: Principal | None = verifier.principal(token.strip())
    except InvalidBearerToken:
        principal = None
    return _open(request, principal, None, next_path)


@router.post("/sign-out")
def sign_out(request: Request, user: SignedIn) -> Response:
    services = request.app.state.services
    close_session(services.store, user.session, actor=user.caller.actor, now=session_clock())
    response = redirect(COOKIE_PATH + "/sign-in")
    response.delete_cookie(SESSION_COOKIE, path=COOKIE_PATH)
    return response


@router.get("/")
def home(request: Request, user: SignedIn) -> Response:
    return render(request, "home.html", user)
