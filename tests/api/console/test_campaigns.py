"""The console's campaign pages: the list, the new-campaign form (the API's rules, problems next
to their fields), a campaign's actions and refusals, and its progress updating by itself while
the scheduler's campaign runner enrols the segment and creates the jobs."""

from __future__ import annotations

import asyncio
import html
import re
import uuid
from datetime import UTC, datetime
from typing import Any

import httpx
import pytest
from sqlalchemy import Engine, insert, select

from outreach.domain import Role
from outreach.services.run_campaigns import CampaignRunner
from outreach.sim.deployment import daytime_zone
from outreach.sql.models import CommCampaign, CommTemplate
from outreach.sql.store import Store
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
from tests.factories import add_recall_templates, add_segment, consenting_prefs_row, insert_rows

pytestmark = pytest.mark.services

campaigns_table = CommCampaign.__table__


def clinic(engine: Engine, org_id: str, patients: int = 3, region: str = "FL") -> int:
    """``patients`` consenting patients of ``org_id`` reachable by SMS (marketing opt-in, in a
    zone where it is daytime now), the shipped recall families, and a segment of the region."""
    now = datetime.now(UTC)
    ids = [f"p-{uuid.uuid4().hex[:10]}" for _ in range(patients)]
    insert_rows(
        engine,
        patients=[{"id": p, "org_id": org_id, "region": region} for p in ids],
        prefs=[
            consenting_prefs_row(
                p, now, timezone=daytime_zone(now), language="en", marketing_opt_in_sms=True
            )
            for p in ids
        ],
    )
    add_recall_templates(engine, org_id)
    return add_segment(engine, org_id, {"==": [{"var": "region"}, region]})


def campaign_form(segment_id: int, **fields: str) -> dict[str, str]:
    return {
        "name": "Spring recall",
        "segment_id": str(segment_id),
        "purpose": "campaign_education",
        "steps-0-offset_hours": "0",
        "steps-0-template_family": "dental_recall",
        "steps-0-channel": "best",
        "steps-1-offset_hours": "168",
        "steps-1-template_family": "dental_recall_reminder",
        "steps-1-channel": "sms",
        "variant-A": "50",
        "variant-B": "50",
        "holdout_percent": "0",
        **fields,
    }


def create(client: httpx.Client, form: dict[str, Any]) -> httpx.Response:
    token = form_token(client.get("/console/campaigns/new").text)
    return client.post(
        "/console/campaigns",
        data={**form, "exit_on": ["booked", "replied_stop"]} | {"csrf_token": token},
    )


def created_id(answer: httpx.Response) -> int:
    assert answer.status_code == 303, answer.text
    found = re.fullmatch(r"/console/campaigns/(\d+)", answer.headers["location"])
    assert found, answer.headers["location"]
    return int(found.group(1))


def field_error(page: str, name: str) -> str:
    """The message shown next to field ``name`` (empty when there is none)."""
    found = re.search(rf'<p class="field-error" id="{re.escape(name)}-error">([^<]*)</p>', page)
    return html.unescape(found.group(1)) if found else ""


def state_of(engine: Engine, campaign_id: int) -> str:
    with engine.connect() as connection:
        return connection.execute(
            select(campaigns_table.c.status).where(campaigns_table.c.id == campaign_id)
        ).scalar_one()


def act(client: httpx.Client, campaign_id: int, action: str) -> httpx.Response:
    token = form_token(client.get(f"/console/campaigns/{campaign_id}").text)
    return client.post(f"/console/campaigns/{campaign_id}/{action}", data={"csrf_token": token})


# ---- HTTP ----


def test_only_the_organisation_s_marketers_and_admins_see_its_campaigns(
    console_site: ConsoleSite,
) -> None:
    mine = new_org_id()
    segment = clinic(console_site.engine, mine)
    with signed_in(console_site, Role.MARKETER, mine) as client:
        campaign_id = created_id(create(client, campaign_form(segment)))
        listed = client.get("/console/campaigns")
        assert listed.status_code == 200
        assert f'href="/console/campaigns/{campaign_id}"' in listed.text
        assert "Spring recall" in listed.text
    with signed_in(console_site, Role.ADMIN, mine) as admin:
        assert admin.get(f"/console/campaigns/{campaign_id}").status_code == 200
    with signed_in(console_site, Role.ANALYST, mine) as analyst:
        for path in (
            "/console/campaigns",
            "/console/campaigns/new",
            f"/console/campaigns/{campaign_id}",
        ):
            refused = analyst.get(path)
            assert refused.status_code == 403 and "analyst role may not open" in refused.text
    with signed_in(console_site, Role.MARKETER, new_org_id()) as other:
        assert f"/console/campaigns/{campaign_id}" not in other.get("/console/campaigns").text
        for path in (
            f"/console/campaigns/{campaign_id}",
            f"/console/campaigns/{campaign_id}/progress",
            "/console/campaigns/987654321",
            "/console/campaigns/not-a-number",
            "/console/campaigns/%C2%B2",  # a digit, but not an ASCII one
        ):
            missing = other.get(path)
            assert missing.status_code == 404, path
            assert "Spring recall" not in missing.text
        token = form_token(other.get("/console/campaigns").text)
        for action in ("activate", "pause", "archive"):
            answer = other.post(
                f"/console/campaigns/{campaign_id}/{action}", data={"csrf_token": token}
            )
            assert answer.status_code == 404
    assert state_of(console_site.engine, campaign_id) == "draft"
    with httpx.Client(base_url=console_site.base_url, timeout=30) as anonymous:
        answer = anonymous.get(f"/console/campaigns/{campaign_id}", follow_redirects=False)
        assert answer.status_code == 303
        assert answer.headers["location"].startswith("/console/sign-in?next=")
        script = anonymous.get(
            f"/console/campaigns/{campaign_id}/progress", headers={"Accept": "application/json"}
        )
        assert script.status_code == 401


def test_a_post_without_the_session_s_token_changes_nothing(console_site: ConsoleSite) -> None:
    mine = new_org_id()
    segment = clinic(console_site.engine, mine)
    with signed_in(console_site, Role.MARKETER, mine) as client:
        campaign_id = created_id(create(client, campaign_form(segment)))
        before = client.get("/console/campaigns").text.count('href="/console/campaigns/')
        forged = client.post("/console/campaigns", data=campaign_form(segment))
        assert forged.status_code == 403 and "security token" in forged.text
        for token in ({}, {"csrf_token": "x" * 43}):
            answer = client.post(f"/console/campaigns/{campaign_id}/activate", data=token)
            assert answer.status_code == 403
        assert state_of(console_site.engine, campaign_id) == "draft"
        after = client.get("/console/campaigns").text.count('href="/console/campaigns/')
        assert after == before


def test_a_definition_that_does_not_hold_together_shows_each_problem_by_its_field(
    console_site: ConsoleSite,
) -> None:
    mine = new_org_id()
    segment = clinic(console_site.engine, mine)
    foreign_segment = add_segment(console_site.engine, new_org_id())
    with signed_in(console_site, Role.MARKETER, mine) as client:
        answer = create(
            client,
            campaign_form(
                segment,
                name="Autumn recall",
                holdout_percent="40",
                **{
                    # an empty row between two steps is left out; the problem is on row 2
                    "steps-1-offset_hours": "",
                    "steps-1-template_family": "",
                    "steps-1-channel": "best",
                    "steps-2-offset_hours": "-5",
                    "steps-2-template_family": "dental_recall_reminder",
                    "steps-2-channel": "best",
                    "variant-B": "many",
                },
            ),
        )
        assert answer.status_code == 422
        page = answer.text
        assert "The campaign was not created" in page
        assert "0 (none) or a percentage from 1 to 15" in field_error(page, "holdout_percent")
        assert "greater than or equal to 0" in field_error(page, "steps-2-offset_hours")
        assert "valid integer" in field_error(page, "variant-B")
        assert field_error(page, "steps-1-offset_hours") == ""
        assert 'id="holdout_percent"' in page and 'aria-invalid="true"' in page
        # what was typed is kept
        assert 'value="Autumn recall"' in page and 'value="40"' in page and 'value="many"' in page
        assert re.search(r'<option value="dental_recall_reminder" selected>', page)

        in_order = create(
            client,
            campaign_form(
                segment,
                **{"steps-0-offset_hours": "48", "steps-1-offset_hours": "24"},
                starts_at="2027-03-01T09:00",
                ends_at="2027-02-01T09:00",
            ),
        )
        assert in_order.status_code == 422
        assert "steps go in order" in field_error(in_order.text, "steps-1-offset_hours")
        assert "must come after the start" in field_error(in_order.text, "ends_at")
        assert 'value="2027-03-01T09:00"' in in_order.text

        nothing = create(client, {"name": "", "segment_id": ""})
        assert nothing.status_code == 422
        assert field_error(nothing.text, "name") and field_error(nothing.text, "segment_id")
        assert "at least one step" in field_error(nothing.text, "steps")

        foreign = create(client, campaign_form(foreign_segment))
        assert foreign.status_code == 422
        assert "your organisation's segments" in field_error(foreign.text, "segment_id")
    with console_site.engine.connect() as connection:
        assert not connection.execute(
            select(campaigns_table.c.id).where(campaigns_table.c.org_id == mine)
        ).all()


def test_without_javascript_a_button_adds_a_step_row(console_site: ConsoleSite) -> None:
    mine = new_org_id()
    segment = clinic(console_site.engine, mine)
    with signed_in(console_site, Role.MARKETER, mine) as client:
        answer = create(client, campaign_form(segment) | {"form_action": "add_step"})
        assert answer.status_code == 200
        assert 'name="steps-2-template_family"' in answer.text
        assert 'value="168"' in answer.text  # the rows typed so far are kept
        assert "Spring recall" not in client.get("/console/campaigns").text


def test_activation_refused_shows_its_reasons_and_the_campaign_stays_a_draft(
    console_site: ConsoleSite,
) -> None:
    mine = new_org_id()
    segment = clinic(console_site.engine, mine)
    with console_site.engine.begin() as connection:
        leaky = connection.execute(
            insert(CommTemplate.__table__).values(
                family_key=f"fk-{uuid.uuid4().hex[:10]}",
                org_id=mine,
                purpose="campaign_education",
                channel="sms",
                language="en",
                body="{{ first_name }}, your {{ lab_test_name }} results: book a visit.",
                declared_variables=["first_name", "lab_test_name"],
                is_active=True,
                family="leaky_promo",
            )
        ).inserted_primary_key[0]
    with signed_in(console_site, Role.MARKETER, mine) as client:
        form = campaign_form(
            segment,
            **{"steps-0-template_family": "leaky_promo", "steps-1-template_family": ""},
        )
        form.pop("steps-1-offset_hours")
        campaign_id = created_id(create(client, form))
        refused = act(client, campaign_id, "activate")
        assert refused.status_code == 422
        assert "Activate was refused (phi policy violation)" in refused.text
        assert "Step 1: " in refused.text and f"(template {leaky})" in refused.text
        assert 'role="alert"' in refused.text
        assert state_of(console_site.engine, campaign_id) == "draft"

        empty = add_segment(console_site.engine, mine, {"==": [{"var": "region"}, "AK"]})
        nobody = created_id(create(client, campaign_form(empty)))
        refused = act(client, nobody, "activate")
        assert refused.status_code == 422
        assert "empty segment" in refused.text and "matches no patient today" in refused.text
        assert state_of(console_site.engine, nobody) == "draft"


def test_pause_resume_complete_and_archive_as_the_state_allows(console_site: ConsoleSite) -> None:
    mine = new_org_id()
    segment = clinic(console_site.engine, mine)
    with signed_in(console_site, Role.ADMIN, mine) as client:
        campaign_id = created_id(create(client, campaign_form(segment)))
        page = client.get(f"/console/campaigns/{campaign_id}").text
        assert buttons(page) == ["Activate", "Archive"]

        activated = act(client, campaign_id, "activate")
        assert activated.headers["location"] == f"/console/campaigns/{campaign_id}?done=activate"
        page = client.get(activated.headers["location"]).text
        assert "Activated" in page and buttons(page) == ["Pause", "Complete"]
        assert state_of(console_site.engine, campaign_id) == "active"

        assert act(client, campaign_id, "pause").status_code == 303
        page = client.get(f"/console/campaigns/{campaign_id}").text
        assert buttons(page) == ["Resume", "Complete"]
        again = act(client, campaign_id, "pause")  # e.g. a second tab's stale button
        assert again.status_code == 409
        assert "cannot pause a paused campaign (allowed: complete, resume)" in again.text

        assert act(client, campaign_id, "resume").status_code == 303
        assert state_of(console_site.engine, campaign_id) == "active"
        assert act(client, campaign_id, "complete").status_code == 303
        assert act(client, campaign_id, "archive").status_code == 303
        page = client.get(f"/console/campaigns/{campaign_id}").text
        assert buttons(page) == [] and 'data-final="true"' in page
        assert state_of(console_site.engine, campaign_id) == "archived"
        assert act(client, campaign_id, "explode").status_code == 404


def buttons(page: str) -> list[str]:
    """The labels of the campaign's action buttons, in order."""
    return re.findall(
        r'<form method="post" action="/console/campaigns/\d+/\w+">\s*<input[^>]*>\s*'
        r"<button[^>]*>([^<]+)</button>",
        page,
    )


# ---- the browser ----


@on_browser_loop
async def test_create_and_activate_a_campaign_and_watch_its_jobs_appear(
    console_site: ConsoleSite, page: Any
) -> None:
    mine = new_org_id()
    segment = clinic(console_site.engine, mine, patients=4)
    await sign_in(page, console_site, Role.MARKETER, mine, path="/console/campaigns")
    assert await page.get_by_role("heading", name="Campaigns", exact=True).is_visible()
    await assert_accessible(page, "campaigns-list-empty")

    await page.get_by_role("link", name="New campaign").click()
    await page.wait_for_url("**/console/campaigns/new")
    await assert_accessible(page, "campaign-form")
    await page.set_viewport_size(PHONE)
    await assert_accessible(page, "campaign-form-phone")
    await assert_no_page_overflow(page)
    await page.set_viewport_size({"width": 1280, "height": 800})

    await page.get_by_label("Name", exact=True).fill("Spring recall")
    await page.get_by_label("Segment", exact=True).select_option(str(segment))
    await page.get_by_label("Offset (hours)", exact=True).fill("48")
    await page.get_by_label("Template family", exact=True).select_option("dental_recall")
    await page.evaluate("window.formNotPostedBack = true")
    await page.get_by_role("button", name="Add a step", exact=True).click()
    assert await page.evaluate("window.formNotPostedBack === true")  # added in place
    second = page.locator("#steps-1")
    await second.get_by_label("Offset (hours)", exact=True).fill("24")  # before step 1: refused
    await second.get_by_label("Template family", exact=True).select_option("dental_recall_reminder")
    await second.get_by_label("Channel", exact=True).select_option("sms")
    await page.get_by_label("Variant B", exact=True).fill("50")
    await page.get_by_label("Variant A", exact=True).fill("50")
    await page.get_by_role("button", name="Create campaign").click()
    await page.wait_for_load_state()
    problem = page.locator("#steps-1-offset_hours-error")
    assert "steps go in order" in await problem.inner_text()
    await assert_accessible(page, "campaign-form-problems")

    await page.locator("#steps-0-offset_hours").fill("0")
    await page.locator("#steps-1-offset_hours").fill("168")
    await page.get_by_role("button", name="Create campaign").click()
    await page.wait_for_url(re.compile(r".*/console/campaigns/\d+$"))
    campaign_id = int(page.url.rsplit("/", 1)[1])
    assert await page.locator("#campaign-state").inner_text() == "draft"
    await assert_accessible(page, "campaign-draft")

    await page.get_by_role("button", name="Activate").click()
    await page.wait_for_url(re.compile(rf".*/console/campaigns/{campaign_id}\?done=activate$"))
    assert await page.locator("#campaign-state").inner_text() == "active"
    enrolled = page.locator('[data-figure="enrolled"]')
    assert await enrolled.inner_text() == "0"
    await page.evaluate("window.stillTheSamePage = true")  # gone if the page reloads

    # The scheduler's campaign round, in this process, over the served console's database.
    settings = console_site.settings
    runner = CampaignRunner(
        Store(console_site.engine), settings.segment_catalogue(), settings.segment_rule_limits()
    )
    ran = await asyncio.to_thread(runner.expand, campaign_id)
    assert ran.enrolled == 4 and ran.jobs_created == 4

    from playwright.async_api import expect

    await expect(enrolled).to_have_text("4", timeout=15_000)
    await expect(page.locator('[data-figure="jobs"]')).to_have_text("4")
    assert await page.evaluate("window.stillTheSamePage === true")
    assert await page.locator("table.variant-progress tbody tr").count() >= 1
    assert await page.locator("#progress-refresh").is_hidden()  # the script refreshes instead
    await assert_accessible(page, "campaign-active-progress")
    await page.set_viewport_size(PHONE)
    await assert_accessible(page, "campaign-active-progress-phone")
    await assert_no_page_overflow(page)

    await page.goto(console_site.url("/console/campaigns"))
    row = page.get_by_role("row", name=re.compile("Spring recall"))
    assert "active" in await row.inner_text()
    await assert_accessible(page, "campaigns-list-phone")
    await page.set_viewport_size({"width": 1280, "height": 800})
    await assert_accessible(page, "campaigns-list")


async def assert_no_page_overflow(page: Any) -> None:
    """Nothing wider than the screen, except inside a scrolling table wrapper."""
    overflow = await page.evaluate(
        "document.documentElement.scrollWidth - document.documentElement.clientWidth"
    )
    assert overflow <= 0, f"the page scrolls sideways by {overflow}px"
