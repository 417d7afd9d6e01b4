"""The console's Reports page: the funnel of the session's organisation with its charts and
tables, the API's filters and small-cell policy, and the API's CSV; analysts and admins only."""

from __future__ import annotations

import re
from html import unescape
from typing import Any

import httpx
import pytest

from outreach.domain import Role
from outreach.services.roll_up_stats import roll_up_jobs
from outreach.sql.store import Store
from tests.api.console.site import (
    PHONE,
    ConsoleSite,
    assert_accessible,
    new_org_id,
    on_browser_loop,
    sign_in,
    signed_in,
)
from tests.funnel_fixture import EXPECTED, at, build_funnel_clinic, ingest
from tests.sql.test_experiment_repository import build_campaign

pytestmark = pytest.mark.services

DAY = "2026-03-02"


@pytest.fixture(scope="module")
def clinic(console_site: ConsoleSite) -> str:
    """The hand-counted clinic of ``tests/funnel_fixture.py``, rolled up: its organisation."""
    built = build_funnel_clinic(console_site.engine)
    for minute, batch in enumerate(built.status_batches(), start=1):
        ingest(built, batch, at(minute))
    built.replies_and_visits(lambda step: at(10 + step))
    roll_up_jobs(Store(console_site.engine), list(built.jobs.values()), at(30))
    return built.org_id


def funnel_counts(html: str) -> dict[str, str]:
    """Step -> messages, as the page's funnel table shows them."""
    table = html[html.index('id="report-funnel"') :]
    table = table[: table.index("</table>")]
    return {
        unescape(step): unescape(count)
        for step, count in re.findall(r"<tr><td>([^<]+)</td><td>([^<]+)</td>", table)
    }


def test_an_analyst_reads_the_funnel_of_a_period(console_site: ConsoleSite, clinic: str) -> None:
    with signed_in(console_site, Role.ANALYST, clinic) as client:
        hidden = client.get("/console/reports", params={"from": DAY, "to": DAY})
        assert hidden.status_code == 200, hidden.text
        assert funnel_counts(hidden.text)["Sent"] == "<11"  # small counts hidden by default
        exact = client.get("/console/reports", params={"from": DAY, "to": DAY, "exact": "1"})
        counts = funnel_counts(exact.text)
        assert counts["Planned"] == str(EXPECTED["planned"])
        assert (counts["Sent"], counts["Delivered"], counts["Replied"]) == ("7", "4", "3")
        for section in ("funnel", "daily", "channels", "variants", "suppressions", "intents"):
            assert f'id="report-{section}"' in exact.text
        assert "no consent" in exact.text  # the suppression reason, charted and tabled
        assert 'role="img"' in exact.text and "<title>Funnel: messages at each step" in exact.text
        assert 'value="2026-03-02"' in exact.text and "checked" in exact.text  # filters kept


def test_purpose_and_channel_narrow_the_funnel(console_site: ConsoleSite, clinic: str) -> None:
    with signed_in(console_site, Role.ADMIN, clinic) as client:
        params = {"from": DAY, "to": DAY, "exact": "1"}
        sms = funnel_counts(
            client.get("/console/reports", params={**params, "channel": "sms"}).text
        )
        assert (sms["Planned"], sms["Sent"], sms["Delivered"]) == ("6", "4", "2")
        reminders = client.get("/console/reports", params={**params, "purpose": "appt_reminder"})
        assert funnel_counts(reminders.text)["Planned"] == "2"
        assert "Median times are not kept per purpose" in reminders.text


def test_the_csv_is_the_apis_for_the_same_filters(console_site: ConsoleSite, clinic: str) -> None:
    key = console_site.key(Role.ANALYST, clinic)
    with (
        signed_in(console_site, Role.ANALYST, clinic) as client,
        httpx.Client(base_url=console_site.base_url, timeout=15) as api,
    ):
        for params in (
            {"from": DAY, "to": DAY},
            {"from": DAY, "to": DAY, "exact": "1", "channel": "sms"},
            {"from": "2026-03-01", "to": "2026-03-07", "exact": "1", "purpose": "appt_confirm"},
        ):
            page = client.get("/console/reports", params=params)
            link = re.search(r'href="(/console/reports/funnel\.csv\?[^"]+)"', page.text)
            assert link, "no Download CSV link"
            console_csv = client.get(unescape(link.group(1)))
            api_params = {**params, "format": "csv"} | (
                {"exact": "true"} if params.get("exact") else {}
            )
            api_csv = api.get(
                "/api/v1/reports/funnel", params=api_params, headers={"X-API-Key": key}
            )
            assert console_csv.status_code == api_csv.status_code == 200
            assert console_csv.headers["content-type"].startswith("text/csv")
            assert "attachment" in console_csv.headers["content-disposition"]
            assert console_csv.text == api_csv.text
            assert console_csv.text.count("\n") > 1  # a header and lines, not nothing
        assert "<11" in client.get("/console/reports/funnel.csv", params={"from": DAY}).text


def test_a_variant_verdict_shows_its_intervals(console_site: ConsoleSite) -> None:
    org_id, campaign_id = build_campaign(console_site.engine)
    with signed_in(console_site, Role.ANALYST, org_id) as client:
        page = client.get(
            "/console/reports",
            params={"from": "2026-03-01", "to": "2026-03-07", "campaign_id": campaign_id},
        )
        variants = page.text[page.text.index('id="report-variants"') :]
        variants = variants[: variants.index('id="report-suppressions"')]
        assert f"Campaign {campaign_id}: booked a visit after enrolment" in variants
        assert "<td>hold-out (control)</td><td>10.0%</td>" in variants
        assert re.search(r"<td>B</td><td>30\.0%</td><td>\d+\.\d–\d+\.\d%</td>", variants)


def test_bad_filters_show_the_form_again_with_the_reason(console_site: ConsoleSite) -> None:
    with signed_in(console_site, Role.ANALYST, new_org_id()) as client:
        answer = client.get(
            "/console/reports",
            params={"from": "2026-13-40", "campaign_id": "seven", "channel": "SMS!"},
        )
        assert answer.status_code == 422
        assert 'id="from-error"' in answer.text and "YYYY-MM-DD" in answer.text
        assert 'id="campaign_id-error"' in answer.text and 'value="seven"' in answer.text
        assert 'id="channel-error"' in answer.text
        backwards = client.get("/console/reports", params={"from": "2026-03-05", "to": DAY})
        assert backwards.status_code == 422 and 'id="to-error"' in backwards.text
        too_long = client.get("/console/reports", params={"from": "2020-01-01", "to": DAY})
        assert too_long.status_code == 422 and "at most 731 days" in too_long.text
        assert client.get("/console/reports/funnel.csv", params={"to": "x"}).status_code == 422
        assert "Traceback" not in answer.text


def test_roles_and_organisations(console_site: ConsoleSite, clinic: str) -> None:
    with httpx.Client(base_url=console_site.base_url, timeout=15) as anonymous:
        answer = anonymous.get("/console/reports/funnel.csv", follow_redirects=False)
        assert answer.status_code == 303 and "/console/sign-in" in answer.headers["location"]
    for role in (Role.MARKETER,):
        with signed_in(console_site, role, clinic) as client:
            for path in ("/console/reports", "/console/reports/funnel.csv"):
                refused = client.get(path, params={"from": DAY, "to": DAY})
                assert refused.status_code == 403 and "Not allowed" in refused.text
    # An analyst of another organisation sees only their own (empty) funnel, whatever is asked.
    with signed_in(console_site, Role.ANALYST, new_org_id()) as client:
        page = client.get(
            "/console/reports", params={"from": DAY, "to": DAY, "exact": "1", "org_id": clinic}
        )
        assert page.status_code == 200 and clinic not in page.text
        assert funnel_counts(page.text)["Planned"] == "0"
        csv_text = client.get(
            "/console/reports/funnel.csv", params={"from": DAY, "to": DAY, "exact": "1"}
        ).text
        assert clinic not in csv_text and csv_text.count("\n") == 1  # the header only


@on_browser_loop
async def test_an_analyst_signs_in_filters_and_reads_the_funnel(
    console_site: ConsoleSite, clinic: str, page: Any
) -> None:
    await sign_in(page, console_site, Role.ANALYST, clinic, path="/console/reports")
    assert await page.get_by_role("heading", name="Reports", exact=True).is_visible()
    await page.get_by_label("First day").fill(DAY)
    await page.get_by_label("Last day (included)").fill(DAY)
    await page.get_by_label("Exact counts").check()
    await page.get_by_role("button", name="Show the report").click()
    await page.wait_for_load_state()
    funnel = page.locator("#report-funnel table")

    async def count_of(step: str) -> str:
        row = funnel.locator("tr").filter(has=page.get_by_role("cell", name=step, exact=True))
        return (await row.locator("td").nth(1).inner_text()).strip()

    assert [await count_of(s) for s in ("Planned", "Sent", "Delivered", "Replied")] == [
        "10",
        "7",
        "4",
        "3",
    ]
    assert await page.locator("#report-funnel svg[role=img]").count() == 1
    await assert_accessible(page, "reports-funnel")

    await page.get_by_label("Channel", exact=True).select_option("sms")
    await page.get_by_role("button", name="Show the report").click()
    await page.wait_for_load_state()
    assert [await count_of(s) for s in ("Planned", "Sent", "Delivered")] == ["6", "4", "2"]
    assert "channel=sms" in page.url
    await page.set_viewport_size(PHONE)
    await assert_accessible(page, "reports-funnel-phone")
    overflow = await page.evaluate(
        "document.documentElement.scrollWidth - document.documentElement.clientWidth"
    )
    assert overflow <= 0, f"the page scrolls sideways by {overflow}px at phone width"
