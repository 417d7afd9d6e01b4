"""Every console page declares who may open it, and the table below is the whole list: a new
page fails here until its roles are written down (as the API's routes do in test_access)."""

from __future__ import annotations

import httpx
import pytest

from outreach.api.access import OpenAccess, access_rules, api_routes
from outreach.api.console.auth import ConsoleGuard
from outreach.domain import Role
from tests.api.console.site import ConsoleSite

pytestmark = pytest.mark.services

ANYONE = {Role.MARKETER, Role.ANALYST, Role.ADMIN}
MARKETING = {Role.MARKETER, Role.ADMIN}
ANALYSIS = {Role.ANALYST, Role.ADMIN}
ADMIN = {Role.ADMIN}

CONSOLE_ROLES_BY_ROUTE = {
    ("GET", "/console/"): ANYONE,
    ("POST", "/console/sign-out"): ANYONE,
    ("GET", "/console/campaigns"): MARKETING,
    ("GET", "/console/campaigns/new"): MARKETING,
    ("POST", "/console/campaigns"): MARKETING,
    ("GET", "/console/campaigns/{campaign_id}"): MARKETING,
    ("GET", "/console/campaigns/{campaign_id}/progress"): MARKETING,
    ("POST", "/console/campaigns/{campaign_id}/{action}"): MARKETING,
    ("GET", "/console/templates"): MARKETING,
    ("GET", "/console/templates/new"): MARKETING,
    ("POST", "/console/templates/new"): MARKETING,
    ("POST", "/console/templates/check"): MARKETING,
    ("GET", "/console/templates/{template_id}"): MARKETING,
    ("GET", "/console/templates/{template_id}/new-version"): MARKETING,
    ("POST", "/console/templates/{template_id}/new-version"): MARKETING,
    ("POST", "/console/templates/{template_id}/activate"): MARKETING,
    ("GET", "/console/templates/{template_id}/preview"): MARKETING,
    ("GET", "/console/reports"): ANALYSIS,
    ("GET", "/console/reports/funnel.csv"): ANALYSIS,
    ("GET", "/console/operations"): ADMIN,
    ("GET", "/console/operations/dead-letters/{entry_id}"): ADMIN,
    ("POST", "/console/operations/dead-letters/{entry_id}/replay"): ADMIN,
    ("POST", "/console/operations/dead-letters/{entry_id}/discard"): ADMIN,
    ("POST", "/console/operations/keys"): ADMIN,
    ("POST", "/console/operations/keys/{prefix}/revoke"): ADMIN,
    ("GET", "/console/segments"): MARKETING,
    ("GET", "/console/segments/new"): MARKETING,
    ("POST", "/console/segments/new"): MARKETING,
    ("GET", "/console/segments/{segment_id:int}"): MARKETING,
    ("POST", "/console/segments/{segment_id:int}"): MARKETING,
    ("POST", "/console/segments/preview"): MARKETING,
}
OPEN_CONSOLE_ROUTES = {
    ("GET", "/console/sign-in"),
    ("POST", "/console/sign-in"),
    ("POST", "/console/sign-in/sso"),
    ("GET", "/console/static/{name}"),
}


def test_every_console_route_declares_its_roles(console_site: ConsoleSite) -> None:
    guarded, opened = {}, set()
    for route in api_routes(console_site.app):
        if not route.path.startswith("/console"):
            continue
        (rule,) = access_rules(route)
        for method in route.methods:
            if isinstance(rule, OpenAccess):
                opened.add((method, route.path))
            else:
                assert isinstance(rule, ConsoleGuard), f"{route.path} takes API credentials"
                guarded[(method, route.path)] = set(rule.roles)
    assert guarded == CONSOLE_ROLES_BY_ROUTE
    assert opened == OPEN_CONSOLE_ROUTES


def test_an_api_key_opens_no_console_page_and_a_console_cookie_no_api_route(
    console_site: ConsoleSite,
) -> None:
    key = console_site.key(Role.ADMIN, "org-access")
    with httpx.Client(base_url=console_site.base_url, timeout=15) as client:
        page = client.get("/console/", headers={"X-API-Key": key}, follow_redirects=False)
        assert page.status_code == 303
        client.cookies.set("outreach_console", key, path="/console")
        assert client.get("/console/", follow_redirects=False).status_code == 303
        assert client.get("/api/v1/keys").status_code == 401
