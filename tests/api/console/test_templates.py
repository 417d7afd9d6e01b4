"""The console's Templates pages: families, the editor with the PHI policy's live verdict and the
SMS counter, previews for a sample patient, and the version history with activation."""

from __future__ import annotations

import html
import re
from typing import Any

import httpx
import pytest
from playwright.async_api import expect

from outreach.credentials import key_prefix
from outreach.domain import Channel, Purpose, Role
from outreach.services.template_versions import (
    list_versions,
    seed_shipped_templates,
    template_version,
)
from outreach.sql.models import CommTemplate
from outreach.sql.store import Store
from outreach.sql.template_repository import StoredTemplate, TemplateFilter
from outreach.templating import (
    DEFAULT_PHI_POLICY,
    VARIABLE_REGISTRY,
    Sensitivity,
    Surface,
    TemplateRecord,
    find_violations,
)
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
from tests.factories import audit_entries

pytestmark = pytest.mark.services

GOOD_SMS = "Hi {{ first_name }}, see you soon."  # 22 characters for the sample patient, Alex


def refused_variable(channel: Channel, purpose: Purpose) -> tuple[str, str]:
    """A variable the PHI policy refuses on ``channel``'s body, and the reason it gives."""
    name = next(
        spec.name
        for spec in VARIABLE_REGISTRY.values()
        if spec.sensitivity is Sensitivity.PHI
        and not DEFAULT_PHI_POLICY.allows(channel, Surface.BODY, spec.name)
    )
    record = TemplateRecord(
        id="probe",
        purpose=purpose,
        channel=channel,
        language="en",
        body="{{ " + name + " }}",
        declared_variables=(),
    )
    reason = next(
        v.message for v in find_violations(record) if v.subject == name and v.line is not None
    )
    return name, reason


def stored(site: ConsoleSite, template_id: int) -> TemplateRecord:
    found = template_version(Store(site.engine), template_id)
    assert found is not None
    return found.record


def csrf(client: httpx.Client, path: str = "/console/templates") -> str:
    return form_token(client.get(path).text)


def new_template(client: httpx.Client, **fields: str) -> httpx.Response:
    form = {
        "purpose": "appt_reminder",
        "channel": "sms",
        "language": "en",
        "variant": "A",
        "body": GOOD_SMS,
        "action": "save",
        "csrf_token": csrf(client),
    }
    return client.post("/console/templates/new", data=form | fields)


def saved_id(answer: httpx.Response) -> int:
    assert answer.status_code == 303, answer.text
    found = re.fullmatch(r"/console/templates/(\d+)\?saved=\1", answer.headers["location"])
    assert found, answer.headers["location"]
    return int(found.group(1))


def check(client: httpx.Client, **draft: Any) -> httpx.Response:
    token = csrf(client)
    return client.post(
        "/console/templates/check",
        json={"purpose": "appt_reminder", "channel": "sms"} | draft,
        headers={"X-CSRF-Token": token, "Accept": "application/json"},
    )


def text_of(page: httpx.Response) -> str:
    """The page's text with tags dropped and entities read, for assertions on what people see."""
    spaced = re.sub(r"\s+", " ", re.sub(r"<[^>]+>", " ", page.text))
    return html.unescape(re.sub(r" ([:,.;])", r"\1", spaced))


# --------------------------------------------------------------------------------------------
# Who may open the pages


def test_marketers_and_admins_have_the_pages_analysts_a_403_page_and_strangers_the_sign_in(
    console_site: ConsoleSite,
) -> None:
    org_id = new_org_id()
    for role in (Role.MARKETER, Role.ADMIN):
        with signed_in(console_site, role, org_id) as client:
            listed = client.get("/console/templates")
            assert listed.status_code == 200 and "<h1>Templates</h1>" in listed.text
            assert client.get("/console/templates/new").status_code == 200
    with signed_in(console_site, Role.ANALYST, org_id) as client:
        for path in ("/console/templates", "/console/templates/new"):
            refused = client.get(path)
            assert refused.status_code == 403 and "<h1>Not allowed</h1>" in refused.text
            assert "analyst role may not open this page" in refused.text
        token = csrf(client, "/console/")
        assert (
            client.post(
                "/console/templates/check",
                json={"body": GOOD_SMS},
                headers={"X-CSRF-Token": token, "Accept": "application/json"},
            ).status_code
            == 403
        )
    with httpx.Client(base_url=console_site.base_url, timeout=15) as stranger:
        answer = stranger.get("/console/templates/new", follow_redirects=False)
        assert answer.status_code == 303
        assert answer.headers["location"] == "/console/sign-in?next=/console/templates/new"


def test_another_organisations_template_is_a_404_page_like_a_missing_one(
    console_site: ConsoleSite,
) -> None:
    owner, other = new_org_id(), new_org_id()
    with signed_in(console_site, Role.MARKETER, owner) as client:
        template_id = saved_id(new_template(client))
        assert client.get(f"/console/templates/{template_id}").status_code == 200
    with signed_in(console_site, Role.ADMIN, other) as client:
        token = csrf(client)
        for path in (
            f"/console/templates/{template_id}",
            f"/console/templates/{template_id}/new-version",
            f"/console/templates/{template_id}/preview",
            "/console/templates/999999999999",
            "/console/templates/99999999999999999999999",
            "/console/templates/0",
            "/console/templates/abc/preview",
        ):
            page = client.get(path)
            assert page.status_code == 404, path
            assert "<h1>Template not found</h1>" in page.text
            assert "Hi {{ first_name }}" not in page.text
        for path in (
            f"/console/templates/{template_id}/activate",
            f"/console/templates/{template_id}/new-version",
        ):
            answer = client.post(path, data={"csrf_token": token, "body": "x", "action": "save"})
            assert answer.status_code == 404, path
        live = client.post(
            "/console/templates/check",
            json={"family_of": template_id, "body": GOOD_SMS},
            headers={"X-CSRF-Token": token, "Accept": "application/json"},
        )
        assert live.status_code == 404
        assert (
            f'href="/console/templates/{template_id}"' not in client.get("/console/templates").text
        )
    untouched = stored(console_site, template_id)
    assert untouched.version == 1 and not untouched.is_active


def test_posts_without_the_session_token_change_nothing(console_site: ConsoleSite) -> None:
    org_id = new_org_id()
    with signed_in(console_site, Role.MARKETER, org_id) as client:
        first = saved_id(new_template(client, activate="yes"))
        token = csrf(client)
        new_version = client.post(
            f"/console/templates/{first}/new-version",
            data={"csrf_token": token, "body": "Hello {{ first_name }}.", "action": "save"},
        )
        second = saved_id(new_version)
        for forged in ({}, {"csrf_token": "x" * 43}):
            assert (
                client.post(f"/console/templates/{second}/activate", data=forged).status_code == 403
            )
            refused = client.post(
                "/console/templates/new",
                data=forged | {"body": GOOD_SMS, "language": "fr", "action": "save"},
            )
            assert refused.status_code == 403
        cross_site = client.post(
            f"/console/templates/{second}/activate",
            data={"csrf_token": token},
            headers={"Origin": "https://evil.example", "Sec-Fetch-Site": "cross-site"},
        )
        assert cross_site.status_code == 403
        no_header = client.post(
            "/console/templates/check",
            json={"body": GOOD_SMS},
            headers={"Accept": "application/json"},
        )
        assert no_header.status_code == 403 and no_header.json()["error"] == "forbidden"
    assert stored(console_site, first).is_active
    assert not stored(console_site, second).is_active
    families = {t.record.language for t in _versions(console_site, org_id)}
    assert families == {"en"}  # the forged French one was never saved


def _versions(site: ConsoleSite, org_id: str) -> list[StoredTemplate]:
    return list_versions(Store(site.engine), TemplateFilter(org_id=org_id))


# --------------------------------------------------------------------------------------------
# The editor: the policy's verdict, field errors, the SMS counter


def test_a_template_the_phi_policy_refuses_is_a_422_page_naming_variable_line_and_reason(
    console_site: ConsoleSite,
) -> None:
    org_id = new_org_id()
    variable, reason = refused_variable(Channel.SMS, Purpose.LAB_READY)
    body = "Hi {{ first_name }},\nyour {{ " + variable + " }} is ready."
    with signed_in(console_site, Role.MARKETER, org_id) as client:
        refused = new_template(client, purpose="lab_ready", body=body, language="es")
        assert refused.status_code == 422
        shown = text_of(refused)
        assert (
            "The PHI policy refused this template (1 problem, below). Nothing was saved." in shown
        )
        assert f"Body, line 2 · {variable} PHI: {reason}" in shown
        assert '<span class="tpl-flagged">2</span>' in refused.text  # the line is marked
        assert html.escape(body) in refused.text  # the author's text is kept
        assert 'value="es"' in refused.text and 'value="lab_ready" selected' in refused.text
        assert _versions(console_site, org_id) == []

        checked = client.post(
            "/console/templates/new",
            data={
                "purpose": "lab_ready",
                "channel": "sms",
                "language": "es",
                "body": body,
                "action": "check",
                "csrf_token": csrf(client),
            },
        )
        assert checked.status_code == 200
        assert f"Body, line 2 · {variable} PHI: {reason}" in text_of(checked)

        live = check(client, purpose="lab_ready", body=body)
        assert live.status_code == 200
        assert live.json()["accepted"] is False
        assert live.json()["problems"] == [
            {
                "code": "phi_not_allowed",
                "variable": variable,
                "line": 2,
                "surface": "body",
                "where": "Body, line 2",
                "reason": reason,
                "phi": True,
            }
        ]
        fixed = body.replace("{{ " + variable + " }}", "result")
        assert check(client, purpose="lab_ready", body=fixed).json()["problems"] == []
        assert saved_id(new_template(client, purpose="lab_ready", body=fixed, language="es"))
    [entry] = audit_entries(console_site.engine, "template_created", org_id)
    assert entry["actor"] == "key:" + key_prefix(console_site.key(Role.MARKETER, org_id))


def test_the_editor_reports_other_policy_problems_and_bad_fields_next_to_them(
    console_site: ConsoleSite,
) -> None:
    with signed_in(console_site, Role.MARKETER, new_org_id()) as client:
        email = new_template(client, channel="email", body="<p>Hi {{ first_name }}</p>")
        assert email.status_code == 422
        assert "Subject · subject: an e-mail template needs a subject" in text_of(email)
        syntax = check(client, body="Hi {{ first_name")
        assert [p["code"] for p in syntax.json()["problems"]] == ["syntax_error"]
        unknown = check(client, body="Hi\n\n{{ shoe_size }}").json()["problems"]
        assert [(p["variable"], p["line"], p["code"]) for p in unknown] == [
            ("shoe_size", 3, "unknown_variable")
        ]
        bad = new_template(client, language="not a language!", variant="", body="")
        assert bad.status_code == 422
        assert 'id="language-error" class="error">A language tag such as en, es or pt-BR.' in (
            bad.text
        )
        assert 'aria-invalid="true" aria-describedby="language-help language-error"' in bad.text
        assert 'id="body-error" class="error">Write the message: 1 to 20,000 characters.' in (
            bad.text
        )
        assert 'value="not a language!"' in bad.text
        too_long = new_template(client, body="x" * 20_001, subject="s" * 600, language="e" * 300)
        assert too_long.status_code == 422
        assert 'id="body-error" class="error">Write the message: 1 to 20,000' in too_long.text
        assert 'id="language-error"' in too_long.text
        named = new_template(client, whatsapp_template_name="appt_reminder_v1")
        assert named.status_code == 422
        assert "Only WhatsApp templates have an approved name." in named.text


def test_a_second_template_of_a_family_is_sent_to_the_existing_one(
    console_site: ConsoleSite,
) -> None:
    with signed_in(console_site, Role.MARKETER, new_org_id()) as client:
        first = saved_id(new_template(client, language="pt"))
        again = new_template(client, language="pt", body="Olá {{ first_name }}.")
        assert again.status_code == 409
        assert f'href="/console/templates/{first}/new-version"' in again.text


@pytest.mark.parametrize(
    ("body", "figures"),
    [
        # GSM-7: 160 characters fit one segment; a longer text goes in parts of 153.
        (GOOD_SMS, (22, "GSM-7", 1, 160)),
        ("Hi {{ first_name }}, " + "a" * 150, (159, "GSM-7", 1, 160)),
        ("Hi {{ first_name }}, " + "a" * 152, (161, "GSM-7", 2, 153)),
        # One character outside GSM-7 makes it UCS-2: 70 per segment, 67 per part.
        ("¡Hola {{ first_name }}! ¿Confirmas? ✅", (25, "UCS-2", 1, 70)),
        ("Olá {{ first_name }} " + "ç" * 62, (71, "UCS-2", 2, 67)),
    ],
)
def test_the_sms_counter_counts_the_sample_patients_message(
    console_site: ConsoleSite, body: str, figures: tuple[int, str, int, int]
) -> None:
    with signed_in(console_site, Role.MARKETER, new_org_id()) as client:
        sms = check(client, body=body).json()["sms"]
        assert (sms["characters"], sms["encoding"], sms["segments"], sms["per_segment"]) == figures
        assert sms["for_sample"] is True and sms["limit"] == 2
        assert sms["over_limit"] is False
        noun = "segment" if figures[2] == 1 else "segments"
        summary = f"{figures[0]} characters · {figures[1]} · {figures[2]} {noun} ({figures[3]} "
        assert sms["summary"].startswith(summary)
        page = client.post(
            "/console/templates/new",
            data={
                "purpose": "appt_reminder",
                "channel": "sms",
                "language": "en",
                "body": body,
                "action": "check",
                "csrf_token": csrf(client),
            },
        )
        assert summary in text_of(page)  # the same figures without JavaScript


def test_the_counter_warns_over_the_purposes_limit_and_counts_a_refused_text_as_written(
    console_site: ConsoleSite,
) -> None:
    variable, _ = refused_variable(Channel.SMS, Purpose.APPT_REMINDER)
    with signed_in(console_site, Role.MARKETER, new_org_id()) as client:
        long = check(client, body="Hi {{ first_name }} " + "ç" * 400).json()["sms"]
        assert (long["encoding"], long["segments"], long["over_limit"]) == ("UCS-2", 7, True)
        refused = check(client, body="Your {{ " + variable + " }}").json()["sms"]
        written = len("Your {{ " + variable + " }}")
        assert (refused["characters"], refused["for_sample"]) == (written, False)
        marketing = check(client, purpose="campaign_education", body="News from us.").json()
        assert marketing["sms"]["characters"] > len("News from us.")  # the opt-out line counts
        assert check(client, channel="email", subject="Hi", body="<p>x</p>").json()["sms"] is None


# --------------------------------------------------------------------------------------------
# History, activation, preview, global templates


def test_activating_a_version_from_the_history_changes_the_active_version(
    console_site: ConsoleSite,
) -> None:
    org_id = new_org_id()
    with signed_in(console_site, Role.MARKETER, org_id) as client:
        first = saved_id(new_template(client, activate="yes"))
        history = client.get(f"/console/templates/{first}?saved={first}")
        assert "Version 1 saved (active)." in history.text
        second = saved_id(
            client.post(
                f"/console/templates/{first}/new-version",
                data={
                    "csrf_token": csrf(client),
                    "body": "Hello {{ first_name }}.\r\nSee you {{ appointment_date }}.",
                    "action": "save",
                },
            )
        )
        history = client.get(f"/console/templates/{second}?saved={second}")
        assert "Version 2 saved (not active yet: activate it below)." in history.text
        assert "Activate version 2" in history.text and "Activate version 1" not in history.text
        activated = client.post(
            f"/console/templates/{second}/activate", data={"csrf_token": csrf(client)}
        )
        assert activated.status_code == 303
        assert activated.headers["location"] == f"/console/templates/{second}?activated={second}"
        after = client.get(activated.headers["location"])
        assert "Version 2 is now the active version." in after.text
        assert "Activate version 1" in after.text and "Activate version 2" not in after.text
        listed = text_of(client.get("/console/templates?channel=sms&language=en"))
        assert "Appointment reminder sms en A " + org_id + " v2 2" in listed
    assert stored(console_site, second).is_active
    assert stored(console_site, second).body == (
        "Hello {{ first_name }}.\nSee you {{ appointment_date }}."
    )
    assert not stored(console_site, first).is_active
    [entry] = audit_entries(console_site.engine, "template_activated", org_id)
    assert entry["actor"] == "key:" + key_prefix(console_site.key(Role.MARKETER, org_id))


def test_the_preview_shows_the_sample_patients_message_with_phi_masked(
    console_site: ConsoleSite,
) -> None:
    org_id = new_org_id()
    with signed_in(console_site, Role.MARKETER, org_id) as client:
        template_id = saved_id(
            new_template(
                client,
                channel="email",
                subject="See you at {{ clinic_name }}",
                body="<p>Hi {{ first_name }}, see you {{ appointment_date }}.</p>",
            )
        )
        preview = client.get(f"/console/templates/{template_id}/preview?timezone=Europe/Paris")
        assert preview.status_code == 200
        shown = text_of(preview)
        assert "See you at Sunrise Clinic" in shown and "<p>Hi Alex, see you " in shown
        assert "PHI variables masked: none (this version reads no PHI)." in shown
        bad_zone = client.get(f"/console/templates/{template_id}/preview?timezone=Nowhere/Land")
        assert bad_zone.status_code == 422 and 'id="timezone-error"' in bad_zone.text

    # A version that reached the database past the policy is neither previewed nor activated.
    variable, reason = refused_variable(Channel.SMS, Purpose.LAB_READY)
    with console_site.engine.begin() as connection:
        smuggled = connection.execute(
            CommTemplate.__table__.insert().values(
                family_key=f"{org_id}|-|lab_ready|sms|en|A",
                org_id=org_id,
                purpose="lab_ready",
                channel="sms",
                language="en",
                variant="A",
                version=1,
                body="Your {{ " + variable + " }} is ready",
                declared_variables=[variable],
                is_active=False,
            )
        ).inserted_primary_key[0]
    with signed_in(console_site, Role.MARKETER, org_id) as client:
        refused = client.get(f"/console/templates/{smuggled}/preview")
        assert refused.status_code == 422 and reason in text_of(refused)
        activation = client.post(
            f"/console/templates/{smuggled}/activate", data={"csrf_token": csrf(client)}
        )
        assert activation.status_code == 422
        assert "Version 1 cannot go live" in activation.text and reason in text_of(activation)
    assert not stored(console_site, smuggled).is_active


def test_global_templates_are_read_only_for_marketers_and_changed_by_admins(
    console_site: ConsoleSite,
) -> None:
    store = Store(console_site.engine)
    seed_shipped_templates(store)
    shipped = next(
        t
        for t in _global_versions(console_site)
        if t.record.purpose is Purpose.APPT_REMINDER and t.record.channel is Channel.SMS
    )
    org_id = new_org_id()
    with signed_in(console_site, Role.MARKETER, org_id) as client:
        listed = client.get("/console/templates?purpose=appt_reminder&channel=sms")
        assert "Global (read only)" in listed.text
        history = client.get(f"/console/templates/{shipped.id}")
        assert history.status_code == 200 and "only admins change it" in history.text
        assert "Activate version" not in history.text and "New version</a>" not in history.text
        assert client.get(f"/console/templates/{shipped.id}/new-version").status_code == 403
        assert (
            client.post(
                f"/console/templates/{shipped.id}/activate", data={"csrf_token": csrf(client)}
            ).status_code
            == 403
        )
        long_filter = client.get("/console/templates?language=" + "x" * 40)
        assert long_filter.status_code == 422 and 'id="filter-language-error"' in long_filter.text
        bad_filter = client.get("/console/templates?purpose=gossip")
        assert (
            bad_filter.status_code == 422 and "Choose a purpose from the list." in bad_filter.text
        )
    with signed_in(console_site, Role.ADMIN, org_id) as client:
        assert client.get(f"/console/templates/{shipped.id}/new-version").status_code == 200


def _global_versions(site: ConsoleSite) -> list[StoredTemplate]:
    return [
        t
        for t in list_versions(Store(site.engine), TemplateFilter(visible_to_org="none"))
        if t.record.org_id is None
    ]


# --------------------------------------------------------------------------------------------
# In a browser: write a template the PHI policy refuses, fix it, save, preview, activate


@on_browser_loop
async def test_writing_a_refused_template_and_fixing_it_in_a_browser(
    console_site: ConsoleSite, page: Any
) -> None:
    org_id = new_org_id()
    variable, reason = refused_variable(Channel.SMS, Purpose.LAB_READY)
    await sign_in(page, console_site, Role.MARKETER, org_id, path="/console/templates")
    assert await page.get_by_role("heading", name="Templates", exact=True).is_visible()
    await assert_accessible(page, "templates-list-empty")

    await page.get_by_role("link", name="New template").click()
    await page.get_by_label("Purpose").select_option("lab_ready")
    await page.get_by_label("Channel").select_option("sms")
    assert await page.get_by_label("Subject (e-mail only)").is_hidden()
    body = page.get_by_label("Body")
    await body.fill("Hi {{ first_name }},\nyour {{ " + variable + " }} is ready.")
    feedback = page.locator("#policy-feedback")
    problem = feedback.locator(".tpl-problem")
    await expect(problem.locator(".tpl-where")).to_have_text("Body, line 2")
    assert await feedback.get_attribute("aria-live") == "polite"
    assert await problem.count() == 1
    await expect(problem.locator(".tpl-variable")).to_have_text(variable)
    await expect(problem.locator(".tpl-reason")).to_have_text(reason)
    await expect(page.locator("#body-gutter .tpl-flagged")).to_have_text("2")
    counter = page.locator("#sms-counter")
    await expect(counter).to_contain_text("· GSM-7 ·")
    await expect(counter).to_contain_text("the text as written")
    await assert_accessible(page, "template-editor-refused")
    await page.set_viewport_size(PHONE)
    await assert_accessible(page, "template-editor-refused-phone")
    await page.set_viewport_size({"width": 1280, "height": 800})

    await problem.get_by_role("button", name="Go to line 2").click()
    selected = await body.evaluate("e => e.value.slice(e.selectionStart, e.selectionEnd)")
    assert selected == "your {{ " + variable + " }} is ready."
    await body.fill("Hi {{ first_name }},\nyour result is ready: {{ portal_link }}")
    await expect(feedback).to_have_text("No problems: the PHI policy accepts this template.")
    await expect(page.locator("#body-gutter .tpl-flagged")).to_have_count(0)
    await expect(counter).to_contain_text("for the sample patient, as sent")
    await expect(counter).to_contain_text("· GSM-7 · 1 segment (160 per segment)")
    await assert_accessible(page, "template-editor-accepted")

    await page.get_by_role("button", name="Save template").click()
    await page.wait_for_url("**/console/templates/*?saved=*")
    assert await page.get_by_role("status").inner_text() == (
        "Version 1 saved (not active yet: activate it below)."
    )
    await assert_accessible(page, "template-history")
    await page.set_viewport_size(PHONE)
    await assert_accessible(page, "template-history-phone")
    await page.set_viewport_size({"width": 1280, "height": 800})

    await page.get_by_role("link", name="Preview version 1").click()
    await page.get_by_role("heading", name="Preview of version 1").wait_for()
    shown = await page.locator("#preview-body").inner_text()
    assert shown.startswith("Hi Alex,\nyour result is ready: https://portal.clinic.example/p/")
    assert variable not in shown
    assert "PHI variables masked: none" in await page.locator("#masked-variables").inner_text()
    await assert_accessible(page, "template-preview")

    await page.get_by_role("link", name="Back to the versions").click()
    await page.get_by_role("button", name="Activate version 1").click()
    await page.wait_for_url("**/console/templates/*?activated=*")
    assert await page.get_by_role("status").inner_text() == "Version 1 is now the active version."
    assert await page.get_by_role("button", name="Activate version 1").count() == 0

    await page.get_by_role("link", name="Templates", exact=True).first.click()
    row = page.locator("tbody tr", has_text=org_id)  # its own family (global ones listed too)
    assert await row.count() == 1
    assert "v1" in await row.inner_text()
    await assert_accessible(page, "templates-list")
    await page.set_viewport_size(PHONE)
    await assert_accessible(page, "templates-list-phone")
    overflow = await page.evaluate(
        "document.documentElement.scrollWidth - document.documentElement.clientWidth"
    )
    assert overflow <= 0


@on_browser_loop
async def test_without_javascript_the_check_button_gives_the_same_verdict(
    console_site: ConsoleSite, browser: Any
) -> None:
    org_id = new_org_id()
    variable, reason = refused_variable(Channel.EMAIL, Purpose.APPT_CONFIRM)
    context = await browser.new_context(java_script_enabled=False)
    context.set_default_timeout(15_000)
    try:
        page = await context.new_page()
        await sign_in(page, console_site, Role.MARKETER, org_id, path="/console/templates/new")
        await page.get_by_label("Purpose").select_option("appt_confirm")
        await page.get_by_label("Channel").select_option("email")
        await page.get_by_label("Subject (e-mail only)").fill("Your visit to {{ clinic_name }}")
        body = page.get_by_label("Body")
        await body.fill("<p>Hi {{ first_name }},</p>\n<p>\nabout your {{ " + variable + " }}</p>")
        await page.get_by_role("button", name="Check").click()
        problem = page.locator("#policy-feedback .tpl-problem")
        await expect(problem).to_have_count(1)
        await expect(problem.locator(".tpl-where")).to_have_text("Body, line 3")
        await expect(problem.locator(".tpl-reason")).to_have_text(reason)
        await expect(page.locator("#body-gutter .tpl-flagged")).to_have_text("3")
        assert await body.input_value() == (
            "<p>Hi {{ first_name }},</p>\n<p>\nabout your {{ " + variable + " }}</p>"
        )
        await page.get_by_role("button", name="Save template").click()
        await expect(page.get_by_role("alert")).to_contain_text("Nothing was saved.")
        await page.get_by_label("Body").fill("<p>Hi {{ first_name }},</p>\n<p>See you soon.</p>")
        await page.get_by_role("button", name="Save template").click()
        await page.wait_for_url("**/console/templates/*?saved=*")
        assert await page.get_by_role("heading", level=1).inner_text() == (
            "Appointment confirmation · email · en"
        )
    finally:
        await context.close()
