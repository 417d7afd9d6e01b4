"""The console's Segments pages: who may open them, organisations kept apart, CSRF, refused rules
shown with their problems (422, what was typed kept), saves that read back the same rule, the
members count with its masked sample, and the builder in a browser: a rule built by clicking,
counted live, an invalid value marked at its node, fixed and saved."""

from __future__ import annotations

import html
import json
import re
from datetime import UTC, date, datetime
from typing import Any

import httpx
import pytest
from sqlalchemy import Engine, select

from outreach.domain import Actor, Role
from outreach.segments import PatientFacts
from outreach.services.segments import SegmentDraft, SegmentService
from outreach.sql.models import CommAuditLog, Patient, PatientCommPrefs
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
from tests.factories import insert_patient_facts

pytestmark = pytest.mark.services

FLORIDA = {"==": [{"var": "region"}, "FL"]}
SENIORS_IN_FLORIDA = {"and": [FLORIDA, {">=": [{"var": "age"}, 65]}]}


def born(years_ago: int) -> date:
    """A date of birth giving an age of exactly ``years_ago`` whole years today."""
    return date(datetime.now(UTC).year - years_ago, 1, 1)


def clinic(engine: Engine, org_id: str) -> None:
    """Six patients: three in Florida (aged 70, 66 and 30), one each in Georgia (72) and Texas
    (80), one without a region (90). The 66-year-old has a name, an e-mail and a phone."""
    people = [
        ("a", "FL", 70),
        ("b", "FL", 30),
        ("c", "GA", 72),
        ("d", "TX", 80),
        ("e", "FL", 66),
        ("f", None, 90),
    ]
    insert_patient_facts(
        engine,
        [
            PatientFacts(f"{org_id}-{key}", org_id, region=region, date_of_birth=born(age))
            for key, region, age in people
        ],
        datetime.now(UTC),
    )
    with engine.begin() as connection:
        connection.execute(
            Patient.__table__.update()
            .where(Patient.id == f"{org_id}-e")
            .values(first_name="Maria", last_name="Lopez")
        )
        connection.execute(
            PatientCommPrefs.__table__.insert().values(
                patient_id=f"{org_id}-e",
                email="maria.lopez@example.com",
                phone="+13055550123",
                contact_consent=True,
                whatsapp_opt_in=False,
                marketing_opt_in_email=True,
                marketing_opt_in_sms=False,
                marketing_opt_in_whatsapp=False,
            )
        )


def service(site: ConsoleSite) -> SegmentService:
    return SegmentService(
        Store(site.engine),
        site.settings.segment_catalogue(),
        site.settings.segment_rule_limits(),
    )


def saved_segment(site: ConsoleSite, org_id: str, name: str, definition: Any) -> int:
    draft = SegmentDraft(name=name, definition=definition, description="saved by the tests")
    return service(site).create(org_id, draft, Actor("system:tests", org_id)).id


def textarea_rule(page: str) -> Any:
    found = re.search(r'<textarea id="definition"[^>]*>(.*?)</textarea>', page, re.S)
    assert found, "the page has no rule textarea"
    return json.loads(html.unescape(found.group(1)))


def form(token: str, **fields: str) -> dict[str, str]:
    return {"csrf_token": token, "name": "", "description": "", "definition": "", **fields}


# ---- who may open the pages -------------------------------------------------------------


def test_without_a_session_the_pages_lead_to_sign_in(console_site: ConsoleSite) -> None:
    with httpx.Client(base_url=console_site.base_url, timeout=15) as client:
        for path in ("/console/segments", "/console/segments/new", "/console/segments/1"):
            answer = client.get(path, follow_redirects=False)
            assert answer.status_code == 303
            assert answer.headers["location"] == f"/console/sign-in?next={path}"
        preview = client.post(
            "/console/segments/preview",
            json={"definition": FLORIDA},
            headers={"Accept": "application/json"},
        )
        assert preview.status_code == 401


def test_an_analyst_gets_a_forbidden_page(console_site: ConsoleSite) -> None:
    org_id = new_org_id()
    segment_id = saved_segment(console_site, org_id, "Florida", FLORIDA)
    with signed_in(console_site, Role.ANALYST, org_id) as client:
        token = form_token(client.get("/console/").text)
        for path in (
            "/console/segments",
            "/console/segments/new",
            f"/console/segments/{segment_id}",
        ):
            answer = client.get(path)
            assert answer.status_code == 403, path
            assert "Not allowed" in answer.text and "Florida" not in answer.text
        posted = client.post(
            "/console/segments/new",
            data=form(token, name="Sneaky", definition=json.dumps(FLORIDA)),
        )
        assert posted.status_code == 403
        preview = client.post(
            "/console/segments/preview",
            json={"definition": FLORIDA},
            headers={"X-CSRF-Token": token, "Accept": "application/json"},
        )
        assert preview.status_code == 403 and preview.json()["error"] == "forbidden"
    assert [s.name for s in service(console_site).of_org(org_id)] == ["Florida"]


@pytest.mark.parametrize("role", [Role.MARKETER, Role.ADMIN])
def test_marketers_and_admins_see_their_segments(console_site: ConsoleSite, role: Role) -> None:
    org_id = new_org_id()
    clinic(console_site.engine, org_id)
    segment_id = saved_segment(console_site, org_id, "Florida", FLORIDA)
    with signed_in(console_site, role, org_id) as client:
        assert "not counted" in client.get("/console/segments").text
        # Counting a saved segment's own rule keeps the count with it.
        counted = client.post(
            "/console/segments/preview",
            json={"definition": FLORIDA, "segment_id": segment_id},
            headers={"X-CSRF-Token": form_token(client.get("/console/").text)},
        )
        assert counted.status_code == 200 and counted.json()["patient_count"] == 3
        listed = client.get("/console/segments")
        assert listed.status_code == 200
        assert f'href="/console/segments/{segment_id}"' in listed.text
        assert "Florida" in listed.text and "saved by the tests" in listed.text
        assert re.search(r'<td class="number">3</td>', listed.text), "the last count is shown"
        assert 'href="/console/segments/new"' in listed.text
        editor = client.get(f"/console/segments/{segment_id}")
        assert editor.status_code == 200
        assert textarea_rule(editor.text) == FLORIDA
        assert client.get("/console/segments/new").status_code == 200


def test_another_organisations_segment_is_not_found(console_site: ConsoleSite) -> None:
    owner = new_org_id()
    theirs = saved_segment(console_site, owner, "Their recall", FLORIDA)
    with signed_in(console_site, Role.MARKETER, new_org_id()) as client:
        token = form_token(client.get("/console/").text)
        for segment_id in (theirs, 987_654_321, 2**70):
            page = client.get(f"/console/segments/{segment_id}")
            assert page.status_code == 404, segment_id
            assert "Segment not found" in page.text and "Their recall" not in page.text
        posted = client.post(
            f"/console/segments/{theirs}",
            data=form(token, name="Taken over", definition=json.dumps({"var": "contact_consent"})),
        )
        assert posted.status_code == 404
        preview = client.post(
            "/console/segments/preview",
            json={"definition": FLORIDA, "segment_id": theirs},
            headers={"X-CSRF-Token": token, "Accept": "application/json"},
        )
        assert preview.status_code == 404
        assert "Their recall" not in client.get("/console/segments").text
    assert service(console_site).get(theirs, owner).name == "Their recall"


def test_posts_without_the_session_token_are_refused(console_site: ConsoleSite) -> None:
    org_id = new_org_id()
    with signed_in(console_site, Role.MARKETER, org_id) as client:
        token = form_token(client.get("/console/segments/new").text)
        rule = json.dumps(FLORIDA)
        assert (
            client.post(
                "/console/segments/new", data=form("", name="A", definition=rule)
            ).status_code
            == 403
        )
        forged = form("x" * 43, name="A", definition=rule)
        assert client.post("/console/segments/new", data=forged).status_code == 403
        cross_site = client.post(
            "/console/segments/new",
            data=form(token, name="A", definition=rule),
            headers={"Origin": "https://evil.example", "Sec-Fetch-Site": "cross-site"},
        )
        assert cross_site.status_code == 403
        no_header = client.post(
            "/console/segments/preview",
            json={"definition": FLORIDA},
            headers={"Accept": "application/json"},
        )
        assert no_header.status_code == 403
        assert service(console_site).of_org(org_id) == []
        saved = client.post("/console/segments/new", data=form(token, name="A", definition=rule))
        assert saved.status_code == 303


# ---- editing ----------------------------------------------------------------------------


def test_a_refused_rule_comes_back_with_its_problems_and_what_was_typed(
    console_site: ConsoleSite,
) -> None:
    org_id = new_org_id()
    with signed_in(console_site, Role.MARKETER, org_id) as client:
        token = form_token(client.get("/console/segments/new").text)
        rule = {
            "and": [
                FLORIDA,
                {">=": [{"var": "age"}, "sixty"]},
                {"==": [{"var": "first_name"}, "A"]},
            ]
        }
        answer = client.post(
            "/console/segments/new",
            data=form(token, name="Seniors", description="Over 65", definition=json.dumps(rule)),
        )
        assert answer.status_code == 422
        page = answer.text
        assert "&#39;&gt;=&#39; compares a number with a string" in page
        assert "/and/1/&gt;=/1" in page
        assert "unknown field &#39;first_name&#39;" in page and "/and/2/==/0/var" in page
        assert 'value="Seniors"' in page and "Over 65</textarea>" in page
        assert textarea_rule(page) == rule
        builder_problems = re.search(r'data-problems="([^"]*)"', page)
        assert builder_problems
        problems = json.loads(html.unescape(builder_problems.group(1)))
        pointers = [p["pointer"] for p in problems]
        assert pointers == ["/and/1/>=/1", "/and/2/==/0/var"]
        assert service(console_site).of_org(org_id) == []


def test_unreadable_json_a_missing_name_and_a_taken_name_are_shown_at_their_fields(
    console_site: ConsoleSite,
) -> None:
    org_id = new_org_id()
    saved_segment(console_site, org_id, "Florida", FLORIDA)
    with signed_in(console_site, Role.MARKETER, org_id) as client:
        token = form_token(client.get("/console/segments/new").text)
        broken = client.post(
            "/console/segments/new",
            data=form(token, name="Broken", definition='{"==": [{"var": "region"}, "FL"]'),
        )
        assert broken.status_code == 422
        assert "The rule is not valid JSON" in broken.text and "line 1" in broken.text
        assert "{&#34;==&#34;: [{&#34;var&#34;: &#34;region&#34;}, &#34;FL&#34;]" in broken.text
        unnamed = client.post(
            "/console/segments/new", data=form(token, name="  ", definition=json.dumps(FLORIDA))
        )
        assert unnamed.status_code == 422 and "Give the segment a name." in unnamed.text
        assert 'aria-invalid="true" aria-describedby="name-error"' in unnamed.text
        taken = client.post(
            "/console/segments/new",
            data=form(token, name="Florida", definition=json.dumps(FLORIDA)),
        )
        assert taken.status_code == 422
        assert "already has a segment of that name" in taken.text
    assert [s.name for s in service(console_site).of_org(org_id)] == ["Florida"]


def test_a_saved_segment_reads_back_the_same_rule(console_site: ConsoleSite) -> None:
    org_id = new_org_id()
    recall = {
        "and": [
            {">=": [{"days_since": {"var": "last_attended_at"}}, 182]},
            {"!": {"var": "has_future_appointment"}},
            {"in": [{"var": "region"}, ["FL", "GA"]]},
        ]
    }
    with signed_in(console_site, Role.MARKETER, org_id) as client:
        token = form_token(client.get("/console/segments/new").text)
        created = client.post(
            "/console/segments/new",
            data=form(
                token,
                name="Recall",
                description="Six months",
                definition=json.dumps(recall, indent=2),
                is_active="on",
            ),
        )
        assert created.status_code == 303
        location = created.headers["location"]
        segment_id = int(re.fullmatch(r"/console/segments/(\d+)\?saved=created", location)[1])
        page = client.get(location)
        assert "Segment created." in page.text and textarea_rule(page.text) == recall
        stored = service(console_site).get(segment_id, org_id)
        assert (stored.definition, stored.description, stored.is_active) == (
            recall,
            "Six months",
            True,
        )
        prefix = console_site.key(Role.MARKETER, org_id)[:12]
        assert stored.created_by == f"key:{prefix}"

        updated = client.post(
            f"/console/segments/{segment_id}",
            data=form(token, name="Recall FL", definition=json.dumps(FLORIDA)),
        )
        assert updated.status_code == 303
        assert updated.headers["location"] == f"/console/segments/{segment_id}?saved=updated"
        assert "Segment updated." in client.get(updated.headers["location"]).text
        stored = service(console_site).get(segment_id, org_id)
        assert (stored.name, stored.definition, stored.description, stored.is_active) == (
            "Recall FL",
            FLORIDA,
            None,
            False,
        )
    with console_site.engine.connect() as connection:
        actions = connection.execute(
            select(CommAuditLog.action, CommAuditLog.actor)
            .where(CommAuditLog.org_id == org_id)
            .order_by(CommAuditLog.id)
        ).all()
    assert [tuple(a) for a in actions if a[0].startswith("segment_")] == [
        ("segment_created", f"key:{prefix}"),
        ("segment_updated", f"key:{prefix}"),
    ]


def test_count_members_without_scripts_shows_the_count_and_a_masked_sample(
    console_site: ConsoleSite,
) -> None:
    org_id = new_org_id()
    clinic(console_site.engine, org_id)
    with signed_in(console_site, Role.MARKETER, org_id) as client:
        token = form_token(client.get("/console/segments/new").text)
        counted = client.post(
            "/console/segments/new",
            data=form(token, definition=json.dumps(SENIORS_IN_FLORIDA), intent="count"),
        )
        assert counted.status_code == 200, counted.text
        assert "2 patients match this rule." in counted.text
        assert f"<td>{org_id}-a</td>" in counted.text and f"<td>{org_id}-e</td>" in counted.text
        assert "<td>M. L.</td><td>m***@***</td><td>+*********23</td>" in counted.text
        assert "Maria" not in counted.text and "lopez" not in counted.text
        assert "5550123" not in counted.text
        assert textarea_rule(counted.text) == SENIORS_IN_FLORIDA
    assert service(console_site).of_org(org_id) == []  # counting saves nothing


def test_the_live_preview_answers_the_apis_masked_preview_or_the_problems(
    console_site: ConsoleSite,
) -> None:
    org_id = new_org_id()
    clinic(console_site.engine, org_id)
    segment_id = saved_segment(console_site, org_id, "Florida", FLORIDA)
    with signed_in(console_site, Role.MARKETER, org_id) as client:
        token = form_token(client.get("/console/segments/new").text)
        headers = {"X-CSRF-Token": token, "Accept": "application/json"}
        answer = client.post(
            "/console/segments/preview", json={"definition": SENIORS_IN_FLORIDA}, headers=headers
        )
        assert answer.status_code == 200, answer.text
        body = answer.json()
        assert body["patient_count"] == 2
        assert body["sample"] == [
            {"patient_id": f"{org_id}-a", "initials": None, "email": None, "phone": None},
            {
                "patient_id": f"{org_id}-e",
                "initials": "M. L.",
                "email": "m***@***",
                "phone": "+*********23",
            },
        ]
        assert org_id not in body["sql"] and "FL" not in body["sql"]

        refused = client.post(
            "/console/segments/preview",
            json={"definition": {"and": [FLORIDA, {">=": [{"var": "age"}, "6x"]}]}},
            headers=headers,
        )
        assert refused.status_code == 422
        assert refused.json() == {
            "error": "invalid_segment_rule",
            "detail": [
                {
                    "pointer": "/and/1/>=/1",
                    "code": "wrong_type",
                    "message": "'>=' compares a number with a string",
                }
            ],
        }
        cycle = client.post(
            "/console/segments/preview",
            json={"definition": {"in_segment": segment_id}, "segment_id": segment_id},
            headers=headers,
        )
        assert cycle.status_code == 422 and cycle.json()["detail"][0]["code"] == "segment_cycle"
        uncompilable = client.post(
            "/console/segments/preview",
            json={"definition": {"==": [{"var": "region"}, {"var": "sex"}]}},
            headers=headers,
        )
        assert uncompilable.status_code == 422
        assert uncompilable.json()["error"] == "segment_not_compilable"
    with console_site.engine.connect() as connection:
        previews = connection.execute(
            select(CommAuditLog.detail).where(
                CommAuditLog.org_id == org_id, CommAuditLog.action == "segment_previewed"
            )
        ).all()
    assert len(previews) == 1 and previews[0][0]["patient_count"] == 2


# ---- in a browser ---------------------------------------------------------------------------


async def builder_rule(page: Any) -> Any:
    return json.loads(await page.get_by_label("Rule as JSON Logic").input_value())


async def wait_for_count(page: Any, sentence: str) -> None:
    await page.locator("#member-count").filter(has_text=sentence).wait_for()


@on_browser_loop
async def test_a_marketer_builds_a_segment_by_clicking_and_sees_its_count(
    console_site: ConsoleSite, page: Any
) -> None:
    org_id = new_org_id()
    clinic(console_site.engine, org_id)
    await sign_in(page, console_site, Role.MARKETER, org_id, path="/console/segments")
    assert await page.get_by_role("heading", name="Segments", level=1).is_visible()
    await assert_accessible(page, "segments-list-empty")

    await page.get_by_role("link", name="New segment").click()
    await page.wait_for_url("**/console/segments/new")
    await wait_for_count(page, "Add a condition to count members.")
    await page.get_by_label("Name").fill("Seniors in Florida")

    await page.get_by_role("button", name="Add condition", exact=True).click()
    first = page.get_by_role("group", name="Condition 1")
    await first.get_by_label("Field").select_option("region")
    await first.get_by_label("Operator").select_option(label="is")
    await first.get_by_label("Value").fill("FL")
    await wait_for_count(page, "3 patients match this rule.")
    assert await builder_rule(page) == {"and": [FLORIDA]}

    await page.get_by_role("button", name="Add condition", exact=True).click()
    second = page.get_by_role("group", name="Condition 2")
    await second.get_by_label("Field").select_option("age")
    await second.get_by_label("Operator").select_option(label="is at least")
    await second.get_by_label("Value").fill("6S")  # a typo: not a number
    value = second.get_by_label("Value")
    await page.locator("#member-count").filter(has_text="a problem").wait_for()
    assert await value.get_attribute("aria-invalid") == "true"
    message = second.locator(".sb-errors li")
    assert await message.inner_text() == "'>=' compares a number with a string"
    described = (await value.get_attribute("aria-describedby")).split()
    assert await message.locator("xpath=..").get_attribute("id") in described
    assert await page.get_by_role("link", name="Condition 2: '>=' compares").is_visible()
    assert await first.get_by_label("Value").get_attribute("aria-invalid") is None
    await assert_accessible(page, "segment-editor-problem")

    await value.fill("65")
    await wait_for_count(page, "2 patients match this rule.")
    assert await value.get_attribute("aria-invalid") is None
    assert not await page.locator("#segment-problems").is_visible()
    sample = page.get_by_role("table", name="A few of them (masked)")
    assert await sample.get_by_role("cell", name="m***@***").is_visible()
    assert "Maria" not in await page.content()
    shown = await builder_rule(page)
    assert shown == SENIORS_IN_FLORIDA
    await assert_accessible(page, "segment-editor-built")
    await page.set_viewport_size(PHONE)
    await assert_accessible(page, "segment-editor-built-phone")
    overflow = await page.evaluate(
        "document.documentElement.scrollWidth > document.documentElement.clientWidth"
    )
    assert not overflow, "the editor overflows a phone's width"

    await page.get_by_role("button", name="Save segment").click()
    await page.wait_for_url(re.compile(r".*/console/segments/\d+\?saved=created$"))
    assert await page.get_by_role("status").inner_text() == "Segment created."
    (saved,) = service(console_site).of_org(org_id)
    assert saved.name == "Seniors in Florida" and saved.definition == shown
    # The saved rule opens in the builder as it was built, and counts at once.
    await wait_for_count(page, "2 patients match this rule.")
    reopened = page.get_by_role("group", name="Condition 2")
    assert await reopened.get_by_label("Value").input_value() == "65"

    await page.goto(console_site.url("/console/segments"))
    assert await page.get_by_role("link", name="Seniors in Florida").is_visible()
    await assert_accessible(page, "segments-list-phone")
    await page.set_viewport_size({"width": 1280, "height": 800})
    await assert_accessible(page, "segments-list")


@on_browser_loop
async def test_the_raw_json_and_the_builder_stay_in_step(
    console_site: ConsoleSite, page: Any
) -> None:
    org_id = new_org_id()
    clinic(console_site.engine, org_id)
    await sign_in(page, console_site, Role.ADMIN, org_id, path="/console/segments/new")
    raw = page.get_by_label("Rule as JSON Logic")
    await raw.fill('{"or": [')
    error = page.locator("#definition-error")
    await error.filter(has_text="The JSON is not valid").wait_for()
    assert await raw.get_attribute("aria-invalid") == "true"

    written = {
        "or": [
            {"<=": [60, {"var": "age"}, 75]},
            {"!": {"or": [{"in": [{"var": "region"}, ["FL", "GA"]]}]}},
            {"==": [{"var": "region"}, {"var": "sex"}]},
        ]
    }
    await raw.fill(json.dumps(written))
    assert not await error.is_visible()
    assert await raw.get_attribute("aria-invalid") is None
    assert await page.get_by_label("Match").first.input_value() == "or"
    between = page.get_by_role("group", name="Condition 1")
    assert await between.get_by_label("Operator").input_value() == "between"
    assert await between.get_by_label("From", exact=True).input_value() == "60"
    assert await between.get_by_label("To", exact=True).input_value() == "75"
    group = page.get_by_role("group", name="Group 2", exact=True)
    assert await group.get_by_label("Match").input_value() == "none"
    custom = page.get_by_role("group", name="Condition 3 (written as JSON)")
    assert json.loads(await custom.get_by_label("JSON Logic").input_value()) == written["or"][2]
    # A rule SQL cannot answer is marked at its node.
    await custom.locator(".sb-errors li").wait_for()
    assert await custom.get_by_label("JSON Logic").get_attribute("aria-invalid") == "true"
    assert await raw.input_value() == json.dumps(written), "reading a rule never rewrites it"

    await custom.get_by_role("button", name="Remove condition 3").click()
    await page.get_by_role("button", name="Add condition to group 2").click()
    added = page.get_by_role("group", name="Condition 2.2")
    await added.get_by_label("Field").select_option("#event_count")
    await added.get_by_label("Status").select_option("no_show")
    await added.get_by_label("In the last … days").fill("365")
    await added.get_by_label("Count").fill("1")
    expected = {
        "or": [
            {"<=": [60, {"var": "age"}, 75]},
            {
                "!": {
                    "or": [
                        {"in": [{"var": "region"}, ["FL", "GA"]]},
                        {">=": [{"event_count": ["no_show", 365]}, 1]},
                    ]
                }
            },
        ]
    }
    assert json.loads(await raw.input_value()) == expected
    # 60 to 75: a (70), c (72), e (66); none of FL/GA and no no-shows: d (TX), f (no region).
    await wait_for_count(page, "5 patients match this rule.")
    await assert_accessible(page, "segment-editor-nested")


@on_browser_loop
async def test_a_rule_refused_on_save_is_marked_at_its_node_when_the_page_returns(
    console_site: ConsoleSite, page: Any
) -> None:
    org_id = new_org_id()
    await sign_in(page, console_site, Role.MARKETER, org_id, path="/console/segments/new")
    await page.get_by_label("Name").fill("Refused")
    refused = {"and": [FLORIDA, {"<": [{"var": "age"}, {"var": "no_show_count"}]}]}
    await page.get_by_label("Rule as JSON Logic").fill(json.dumps(refused))
    async with page.expect_response(lambda r: r.request.method == "POST" and r.status == 422):
        await page.get_by_role("button", name="Save segment").click()
    await page.wait_for_load_state()
    assert await page.get_by_label("Name").input_value() == "Refused"
    assert await builder_rule(page) == refused
    second = page.get_by_role("group", name="Condition 2 (written as JSON)")
    assert await second.get_by_label("JSON Logic").get_attribute("aria-invalid") == "true"
    assert "compar" in await second.locator(".sb-errors li").inner_text()
    heading = page.get_by_role("heading", name="The rule cannot be used yet")
    assert await heading.is_visible()
    assert await page.locator("#member-count").inner_text() == (
        "No count until the rule's problems are fixed."
    )
    assert service(console_site).of_org(org_id) == []
    await assert_accessible(page, "segment-editor-refused")
    await page.set_viewport_size(PHONE)
    await assert_accessible(page, "segment-editor-refused-phone")


@on_browser_loop
async def test_every_shape_the_builder_offers_reads_and_writes_back_unchanged(
    console_site: ConsoleSite, page: Any
) -> None:
    org_id = new_org_id()
    clinic(console_site.engine, org_id)
    other = saved_segment(console_site, org_id, "Florida", FLORIDA)
    region, age = {"var": "region"}, {"var": "age"}
    shapes = [
        {"==": [region, "FL"]},
        {"!=": [region, "TX"]},
        {"in": [region, ["FL", "GA"]]},
        {"in": ["33", {"var": "postal_prefix"}]},
        {"===": [region, None]},
        {"!==": [{"var": "language"}, None]},
        *({op: [age, 65]} for op in ("==", "!=", ">", ">=", "<", "<=")),
        {"<=": [18, age, 99.5]},
        {"in": [age, [30, 70]]},
        {"var": "contact_consent"},
        {"!": {"var": "marketing_opt_in_sms"}},
        {">=": [{"days_since": {"var": "last_attended_at"}}, 182]},
        {"<=": [0, {"days_since": {"var": "last_attended_at"}}, 30]},
        {"<=": [0, {"days_until": {"var": "next_appointment_at"}}, 7]},
        {">": [{"days_until": {"var": "next_appointment_at"}}, 7]},
        {"<": [{"event_count": ["cancelled", 90]}, 3]},
        {"in_segment": other},
        {"!": {"in_segment": other}},
    ]
    rule = {"or": [{"and": shapes[:10]}, {"!": {"or": shapes[10:]}}]}
    await sign_in(page, console_site, Role.MARKETER, org_id, path="/console/segments/new")
    raw = page.get_by_label("Rule as JSON Logic")
    await raw.fill(json.dumps(rule))
    assert await page.get_by_role("group", name=re.compile("written as JSON")).count() == 0
    assert await page.locator(".sb-condition").count() == len(shapes)
    await page.locator("#member-count").filter(has_text="match this rule").wait_for()
    # Rewrite the textarea from the tree: add a condition, then remove it.
    await page.get_by_role("button", name="Add condition", exact=True).click()
    await page.get_by_role("button", name="Remove condition 3").click()
    assert json.loads(await raw.input_value()) == rule
    reference = page.get_by_role("group", name=f"Condition 2.{len(shapes) - 10}")
    assert await reference.get_by_label("Segment").input_value() == str(other)
    assert await reference.get_by_label("Operator").input_value() == "not_in"
