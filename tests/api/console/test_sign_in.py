"""Signing in and out of the console: the session cookie, CSRF, roles and the browser."""

from __future__ import annotations

import time
from datetime import UTC, datetime
from typing import Any

import httpx
import jwt
import pytest

from outreach.domain import Actor, Role
from outreach.services.api_keys import revoke_api_key
from outreach.sql.store import Store
from tests.api.console.conftest import JWT_ISSUER, JWT_SECRET
from tests.api.console.site import (
    PHONE,
    ConsoleSite,
    assert_accessible,
    form_token,
    new_org_id,
    on_browser_loop,
    sign_in,
    signed_in,
)

pytestmark = pytest.mark.services


def test_a_page_without_a_session_leads_to_the_sign_in_form(console_site: ConsoleSite) -> None:
    with httpx.Client(base_url=console_site.base_url, timeout=15) as client:
        answer = client.get("/console/", follow_redirects=False)
        assert answer.status_code == 303
        assert answer.headers["location"] == "/console/sign-in?next=/console/"
        as_script = client.get("/console/", headers={"Accept": "application/json"})
        assert as_script.status_code == 401
        assert as_script.json()["error"] == "unauthorized"


def test_the_session_cookie_is_http_only_strict_and_scoped(console_site: ConsoleSite) -> None:
    with httpx.Client(base_url=console_site.base_url, timeout=15) as client:
        form = form_token(client.get("/console/sign-in").text)
        answer = client.post(
            "/console/sign-in",
            data={"api_key": console_site.key(Role.MARKETER, new_org_id()), "csrf_token": form},
        )
        session = [
            value
            for name, value in answer.headers.multi_items()
            if name == "set-cookie" and value.startswith("outreach_console=")
        ]
        assert len(session) == 1
        assert "HttpOnly" in session[0] and "SameSite=strict" in session[0]
        assert "Path=/console" in session[0] and "Secure" not in session[0]  # plain http here
        assert client.get("/console/").status_code == 200


@on_browser_loop
async def test_the_session_cookie_is_secure_over_tls(console_site: ConsoleSite) -> None:
    transport = httpx.ASGITransport(app=console_site.app)

    async def sign_in_over_https() -> str:
        async with httpx.AsyncClient(
            transport=transport, base_url="https://console.clinic.example"
        ) as client:
            page = await client.get("/console/sign-in")
            answer = await client.post(
                "/console/sign-in",
                data={
                    "api_key": console_site.key(Role.ANALYST, new_org_id()),
                    "csrf_token": form_token(page.text),
                },
            )
            assert answer.status_code == 303
            return answer.headers["set-cookie"]

    header = await sign_in_over_https()
    assert header.startswith("outreach_console=") and "Secure" in header and "HttpOnly" in header


def test_sign_in_refuses_a_form_without_its_token_and_a_bad_key(console_site: ConsoleSite) -> None:
    key = console_site.key(Role.MARKETER, new_org_id())
    with httpx.Client(base_url=console_site.base_url, timeout=15) as client:
        client.get("/console/sign-in")
        forged = client.post("/console/sign-in", data={"api_key": key, "csrf_token": "forged"})
        assert forged.status_code == 403 and "outreach_console=" not in forged.headers.get(
            "set-cookie", ""
        )
        token = form_token(client.get("/console/sign-in").text)
        wrong = client.post("/console/sign-in", data={"api_key": key + "x", "csrf_token": token})
        assert wrong.status_code == 401
        assert "was not accepted" in wrong.text and key not in wrong.text


def test_the_platform_role_has_no_console(console_site: ConsoleSite) -> None:
    with httpx.Client(base_url=console_site.base_url, timeout=15) as client:
        token = form_token(client.get("/console/sign-in").text)
        answer = client.post(
            "/console/sign-in",
            data={"api_key": console_site.key(Role.PLATFORM, new_org_id()), "csrf_token": token},
        )
        assert answer.status_code == 403 and "has no console" in answer.text


def test_after_sign_in_it_goes_only_to_a_console_page(console_site: ConsoleSite) -> None:
    with httpx.Client(base_url=console_site.base_url, timeout=15) as client:
        for asked, landed in (
            ("/console/", "/console/"),
            ("//evil.example/console", "/console/"),
            ("https://evil.example/", "/console/"),
        ):
            client.cookies.clear()
            token = form_token(client.get("/console/sign-in").text)
            answer = client.post(
                "/console/sign-in",
                data={
                    "api_key": console_site.key(Role.ANALYST, new_org_id()),
                    "csrf_token": token,
                    "next": asked,
                },
            )
            assert answer.headers["location"] == landed


def test_a_post_without_the_session_token_or_from_another_site_is_refused(
    console_site: ConsoleSite,
) -> None:
    with signed_in(console_site, Role.MARKETER, new_org_id()) as client:
        home = client.get("/console/")
        token = form_token(home.text)
        assert client.post("/console/sign-out", data={}).status_code == 403
        assert client.post("/console/sign-out", data={"csrf_token": "x" * 43}).status_code == 403
        cross_site = client.post(
            "/console/sign-out",
            data={"csrf_token": token},
            headers={"Origin": "https://evil.example", "Sec-Fetch-Site": "cross-site"},
        )
        assert cross_site.status_code == 403
        assert client.get("/console/").status_code == 200  # still signed in
        assert client.post("/console/sign-out", data={"csrf_token": token}).status_code == 303


def test_sign_out_ends_the_session_even_for_a_copied_cookie(console_site: ConsoleSite) -> None:
    with signed_in(console_site, Role.ADMIN, new_org_id()) as client:
        copied = client.cookies.get("outreach_console", path="/console")
        token = form_token(client.get("/console/").text)
        client.post("/console/sign-out", data={"csrf_token": token})
        with httpx.Client(base_url=console_site.base_url, timeout=15) as thief:
            thief.cookies.set("outreach_console", copied or "", path="/console")
            assert thief.get("/console/", follow_redirects=False).status_code == 303


def test_revoking_the_key_ends_its_sessions(console_site: ConsoleSite) -> None:
    org_id = new_org_id()
    with signed_in(console_site, Role.MARKETER, org_id) as client:
        assert client.get("/console/").status_code == 200
        prefix = console_site.key(Role.MARKETER, org_id)[:12]
        assert revoke_api_key(
            Store(console_site.engine), prefix, actor=Actor("system:tests"), now=datetime.now(UTC)
        )
        assert client.get("/console/", follow_redirects=False).status_code == 303


def test_single_sign_on_opens_a_session(console_site: ConsoleSite) -> None:
    org_id = new_org_id()
    token = jwt.encode(
        {
            "iss": JWT_ISSUER,
            "sub": "ana@clinic",
            "exp": int(time.time()) + 600,
            "org_id": org_id,
            "role": "analyst",
        },
        JWT_SECRET,
        algorithm="HS256",
    )
    with httpx.Client(base_url=console_site.base_url, timeout=15) as client:
        form = form_token(client.get("/console/sign-in").text)
        answer = client.post("/console/sign-in/sso", data={"token": token, "csrf_token": form})
        assert answer.status_code == 303
        home = client.get("/console/")
        assert home.status_code == 200 and org_id in home.text and "analyst" in home.text
        forged = jwt.encode(
            {
                "iss": JWT_ISSUER,
                "sub": "x",
                "exp": int(time.time()) + 600,
                "org_id": org_id,
                "role": "admin",
            },
            "another-secret-of-sufficient-length-here",
            algorithm="HS256",
        )
        client.cookies.clear()
        form = form_token(client.get("/console/sign-in").text)
        refused = client.post("/console/sign-in/sso", data={"token": forged, "csrf_token": form})
        assert refused.status_code == 401


def test_every_console_answer_carries_a_strict_content_security_policy(
    console_site: ConsoleSite,
) -> None:
    with httpx.Client(base_url=console_site.base_url, timeout=15) as client:
        page = client.get("/console/sign-in")
        policy = page.headers["content-security-policy"]
        assert "script-src 'self'" in policy and "frame-ancestors 'none'" in policy
        assert "unsafe-inline" not in policy
        assert page.headers["x-frame-options"] == "DENY"
        assert client.get("/console/static/console.css").status_code == 200
        assert client.get("/console/static/..%2Fauth.py").status_code == 404


@on_browser_loop
async def test_signing_in_in_a_browser_at_laptop_and_phone_width(
    console_site: ConsoleSite, page: Any
) -> None:
    org_id = new_org_id()
    await page.goto(console_site.url("/console/"))
    assert "/console/sign-in" in page.url
    await assert_accessible(page, "sign-in")
    await sign_in(page, console_site, Role.ADMIN, org_id, path="/console/")
    assert await page.get_by_role("heading", name=f"Console of {org_id}").is_visible()
    await assert_accessible(page, "home-admin")
    await page.set_viewport_size(PHONE)
    await assert_accessible(page, "home-admin-phone")
    await page.get_by_role("button", name="Sign out").click()
    await page.wait_for_url("**/console/sign-in")
    await page.goto(console_site.url("/console/"))
    assert "/console/sign-in" in page.url
