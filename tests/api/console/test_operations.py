"""The console's Operations pages, for admins: the organisation's dead letters (replayed or
discarded once, through the CLI's service, on the tansu broker), each provider's circuit and
pace (Redis), recent webhook failures, and the organisation's API keys."""

from __future__ import annotations

import asyncio
import dataclasses
import json
import re
import uuid
from collections.abc import Iterator
from datetime import UTC, datetime
from typing import Any

import httpx
import pytest
from aiokafka import AIOKafkaProducer
from aiokafka.admin import AIOKafkaAdminClient, NewTopic
from sqlalchemy import select

from outreach.channels.breaker_board import RedisBreakerBoard
from outreach.channels.webhook_paths import WHATSAPP_WEBHOOK_PATH
from outreach.dead_letters import DeadLetterSealer, dead_letter
from outreach.delivery.circuit_breaker import BreakerState
from outreach.domain import Role
from outreach.events import DlqEntry, SendRequest
from outreach.kafka_reader import read_topic
from outreach.redis_store import KeySpace
from outreach.sim.provider.signing import meta_signature
from outreach.sql.models import CommAuditLog, CommJob
from outreach.topics import DLQ
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
from tests.factories import consenting_prefs_row, insert_rows, job_row, patient_row

pytestmark = pytest.mark.services

CANARY = "Ana Canary +14155550199"  # personal data inside an original: never on a page


def sealer_of(site: ConsoleSite) -> DeadLetterSealer:
    return site.app.state.services.sealer


def create_topic(kafka: str) -> str:
    topic = f"test.console.{uuid.uuid4().hex[:10]}"

    async def run() -> None:
        admin = AIOKafkaAdminClient(bootstrap_servers=kafka)
        await admin.start()
        try:
            await admin.create_topics([NewTopic(topic, num_partitions=1, replication_factor=1)])
        finally:
            await admin.close()

    asyncio.run(run())
    return topic


async def publish_async(kafka: str, entries: list[DlqEntry]) -> None:
    producer = AIOKafkaProducer(bootstrap_servers=kafka)
    await producer.start()
    try:
        for entry in entries:
            await producer.send_and_wait(
                DLQ,
                entry.model_dump_json().encode(),
                key=entry.key.encode() if entry.key else None,
            )
    finally:
        await producer.stop()


def publish(kafka: str, entries: list[DlqEntry]) -> None:
    """Onto the deployment's dead-letter topic, as the worker and the API put them there."""
    asyncio.run(publish_async(kafka, entries))


def letter(
    site: ConsoleSite,
    *,
    org_id: str | None,
    source_topic: str = "core.events",
    stage: str = "orchestrator.handle",
    original: bytes | None = None,
    kind: str = "processing",
) -> DlqEntry:
    """A dead letter built and sealed by ``outreach.dead_letters``, with the site's key."""
    return sealer_of(site).seal(
        dead_letter(
            source_topic=source_topic,
            stage=stage,
            kind=kind,
            error="OperationalError",
            failed_at=datetime.now(UTC),
            original=original or json.dumps({"event_id": uuid.uuid4().hex, "n": CANARY}).encode(),
            key=f"p-{uuid.uuid4().hex[:6]}",
            org_id=org_id,
        )
    )


@pytest.fixture(scope="module")
def kafka(console_site: ConsoleSite) -> str:
    return console_site.settings.kafka_bootstrap_servers


@pytest.fixture
def admin(console_site: ConsoleSite) -> Iterator[tuple[str, httpx.Client]]:
    org_id = new_org_id()
    with signed_in(console_site, Role.ADMIN, org_id) as client:
        yield org_id, client


def test_an_admin_sees_only_the_dead_letters_of_its_organisation(
    console_site: ConsoleSite, kafka: str, admin: tuple[str, httpx.Client]
) -> None:
    org_id, client = admin
    ours = letter(console_site, org_id=org_id)
    theirs = letter(console_site, org_id=new_org_id())
    nobodys = letter(console_site, org_id=None, stage="orchestrator.parse", kind="malformed")
    publish(kafka, [ours, theirs, nobodys])

    page = client.get("/console/operations")
    assert page.status_code == 200, page.text
    assert ours.entry_id in page.text and "OperationalError" in page.text
    assert theirs.entry_id not in page.text and nobodys.entry_id not in page.text
    assert "Ana" not in page.text and "4155550199" not in page.text

    shown = client.get(f"/console/operations/dead-letters/{ours.entry_id}")
    assert shown.status_code == 200
    assert ours.key is not None and ours.key in shown.text and "new" in shown.text
    assert CANARY not in shown.text and "Canary" not in shown.text  # the original stays sealed
    for other in (theirs, nobodys):
        missing = client.get(f"/console/operations/dead-letters/{other.entry_id}")
        assert missing.status_code == 404 and "Not found" in missing.text
        assert other.entry_id not in missing.text
    assert client.get("/console/operations/dead-letters/no-such-entry").status_code == 404
    assert client.get("/console/operations/dead-letters/" + "x" * 300).status_code == 404


def test_replay_republishes_once_and_discard_marks_handled(
    console_site: ConsoleSite, kafka: str, admin: tuple[str, httpx.Client]
) -> None:
    org_id, client = admin
    topic = create_topic(kafka)
    original = json.dumps({"event_id": uuid.uuid4().hex, "note": CANARY}).encode()
    replayed = letter(console_site, org_id=org_id, source_topic=topic, original=original)
    discarded = letter(console_site, org_id=org_id, source_topic=topic)
    publish(kafka, [replayed, discarded])
    path = f"/console/operations/dead-letters/{replayed.entry_id}"
    token = form_token(client.get(path).text)

    assert client.post(f"{path}/replay", data={}).status_code == 403  # no CSRF token
    cross_site = client.post(
        f"{path}/replay",
        data={"csrf_token": token},
        headers={"Origin": "https://evil.example", "Sec-Fetch-Site": "cross-site"},
    )
    assert cross_site.status_code == 403
    with signed_in(console_site, Role.ADMIN, new_org_id()) as stranger:
        other_token = form_token(stranger.get("/console/operations").text)
        refused = stranger.post(f"{path}/replay", data={"csrf_token": other_token})
        assert refused.status_code == 404
    assert asyncio.run(read_topic(kafka, topic)) == []  # nothing replayed so far

    done = client.post(f"{path}/replay", data={"csrf_token": token})
    assert done.status_code == 303 and done.headers["location"] == f"{path}?done=replayed"
    after = client.get(done.headers["location"])
    assert 'id="dead-letter-state">replayed<' in after.text and "Replayed:" in after.text
    assert "Replay</button>" not in after.text
    [landed] = asyncio.run(read_topic(kafka, topic))
    assert landed.value == original and landed.key == replayed.key.encode()

    again = client.post(f"{path}/replay", data={"csrf_token": token})
    assert again.status_code == 409 and "already replayed or discarded" in again.text
    assert len(asyncio.run(read_topic(kafka, topic))) == 1

    gone = client.post(
        f"/console/operations/dead-letters/{discarded.entry_id}/discard",
        data={"csrf_token": token},
    )
    assert gone.status_code == 303
    listing = client.get("/console/operations").text
    states = dict(
        (entry_id, state)
        for state, entry_id in re.findall(
            r'state-(\w+)">\w+</span></td>\s*<td><a href="/console/operations/dead-letters/(\w+)"',
            listing,
        )
    )
    assert states == {replayed.entry_id: "replayed", discarded.entry_id: "discarded"}
    assert 'id="dead-letter-state">discarded<' in client.get(gone.headers["location"]).text
    assert len(asyncio.run(read_topic(kafka, topic))) == 1  # a discard publishes nothing

    log = CommAuditLog.__table__
    with console_site.engine.connect() as connection:
        actions = connection.execute(
            select(log.c.action, log.c.detail).where(
                log.c.org_id == org_id, log.c.action.like("dead_letter_%")
            )
        ).all()
    recorded = {row.action: row.detail["entry_id"] for row in actions}
    assert recorded == {
        "dead_letter_replayed": replayed.entry_id,
        "dead_letter_discarded": discarded.entry_id,
    }


def test_replaying_a_failed_send_plans_it_again(
    console_site: ConsoleSite, kafka: str, admin: tuple[str, httpx.Client]
) -> None:
    org_id, client = admin
    now = datetime.now(UTC)
    tag = uuid.uuid4().hex[:8]
    [job_id] = insert_rows(
        console_site.engine,
        patients=[patient_row(f"p-{tag}", org_id=org_id)],
        prefs=[consenting_prefs_row(f"p-{tag}", now)],
        jobs=[job_row(f"k-{tag}", f"p-{tag}", now, org_id=org_id, status="failed", attempt=3)],
    )
    failed_send = letter(
        console_site,
        org_id=org_id,
        source_topic="outreach.send.sms",
        stage="channel.send",
        kind="send",
        original=SendRequest(job_id=job_id, attempt=3).model_dump_json().encode(),
    )
    publish(kafka, [failed_send])
    path = f"/console/operations/dead-letters/{failed_send.entry_id}"
    token = form_token(client.get(path).text)
    assert client.post(f"{path}/replay", data={"csrf_token": token}).status_code == 303
    jobs = CommJob.__table__
    with console_site.engine.connect() as connection:
        planned = connection.execute(
            select(jobs.c.status, jobs.c.org_id, jobs.c.patient_id).where(
                jobs.c.idempotency_key == f"replay:{failed_send.entry_id}"
            )
        ).one()
    assert tuple(planned) == ("queued", org_id, f"p-{tag}")


def test_each_providers_circuit_and_pace(
    console_site: ConsoleSite, admin: tuple[str, httpx.Client]
) -> None:
    _, client = admin
    services = console_site.app.state.services
    board = RedisBreakerBoard(
        services.redis, KeySpace(console_site.settings.redis_key_prefix), "worker-test"
    )
    now = datetime.now(UTC)
    board.post("twilio", BreakerState.OPEN, now, now.replace(year=now.year + 1))
    try:
        page = client.get("/console/operations").text
    finally:
        board.post("twilio", BreakerState.CLOSED, now)
    providers = page[page.index('id="providers"') : page.index('id="webhooks"')]
    rows = {
        provider: body
        for provider, body in re.findall(
            r'<th scope="row"[^>]*>(\w+)</th>(.*?)</tr>', providers, re.S
        )
    }
    assert set(rows) >= {"twilio", "sendgrid", "whatsapp"}
    assert 'class="badge open"' in rows["twilio"] and "reported by 1 worker" in rows["twilio"]
    assert 'class="badge closed"' in rows["sendgrid"]
    sms = services.channels["sms"]
    assert f"<code>{sms.pacing_key}</code>" in rows["twilio"]
    assert f"{sms.default_rate_per_sec:g}" in rows["twilio"] and "channel default" in providers
    assert re.search(r"\d+\.\d of \d+", rows["twilio"])  # the bucket, read without taking
    after = client.get("/console/operations").text
    assert 'class="badge closed"' in after[after.index('id="providers"') :]


def test_recent_webhook_failures_and_refusals(
    console_site: ConsoleSite, admin: tuple[str, httpx.Client]
) -> None:
    _, client = admin
    secret = console_site.settings.whatsapp_app_secret
    assert secret is not None
    body = json.dumps({"entry": 5, "marker": uuid.uuid4().hex}).encode()
    with httpx.Client(base_url=console_site.base_url, timeout=15) as provider:
        signed = provider.post(
            WHATSAPP_WEBHOOK_PATH,
            content=body,
            headers={
                "Content-Type": "application/json",
                "X-Hub-Signature-256": meta_signature(secret.get_secret_value(), body),
            },
        )
        assert signed.status_code == 400
        forged = provider.post(
            WHATSAPP_WEBHOOK_PATH,
            content=body,
            headers={"Content-Type": "application/json", "X-Hub-Signature-256": "sha256=00"},
        )
        assert forged.status_code == 403
    page = client.get("/console/operations").text
    webhooks = page[page.index('id="webhooks"') : page.index('id="keys"')]
    failures = webhooks[: webhooks.index('id="refusals-heading"')]
    assert f"<code>{WHATSAPP_WEBHOOK_PATH}</code>" in failures
    assert "&#39;entry&#39; is not a list" in failures
    assert body.decode() not in page and "marker" not in failures
    refusals = webhooks[webhooks.index('id="refusals-heading"') :]
    assert re.search(rf"<code>{re.escape(WHATSAPP_WEBHOOK_PATH)}</code></td><td>403</td>", refusals)


def test_keys_are_created_once_listed_and_revoked(
    console_site: ConsoleSite, admin: tuple[str, httpx.Client]
) -> None:
    org_id, client = admin
    token = form_token(client.get("/console/operations").text)
    assert (
        client.post("/console/operations/keys", data={"name": "x", "role": "analyst"}).status_code
        == 403
    )

    bad = client.post(
        "/console/operations/keys", data={"name": "  ", "role": "root", "csrf_token": token}
    )
    assert bad.status_code == 422
    assert 'id="key-name-error"' in bad.text and 'id="key-role-error"' in bad.text

    created = client.post(
        "/console/operations/keys",
        data={"name": "weekly export", "role": "analyst", "csrf_token": token},
    )
    assert created.status_code == 201, created.text
    found = re.search(r'id="new-key"[^>]*value="([^"]+)"', created.text)
    assert found, "the new key is not on the page"
    key = found.group(1)
    prefix = key[:12]
    with httpx.Client(base_url=console_site.base_url, timeout=15) as api:
        assert api.get("/api/v1/reports/funnel", headers={"X-API-Key": key}).status_code == 200
        listed = client.get("/console/operations").text
        assert f"<code>{prefix}</code>" in listed and "weekly export" in listed
        assert key not in listed  # shown once, on the answer to the form only

        with signed_in(console_site, Role.ADMIN, new_org_id()) as stranger:
            other_token = form_token(stranger.get("/console/operations").text)
            assert prefix not in stranger.get("/console/operations").text
            refused = stranger.post(
                f"/console/operations/keys/{prefix}/revoke", data={"csrf_token": other_token}
            )
            assert refused.status_code == 404
        assert api.get("/api/v1/reports/funnel", headers={"X-API-Key": key}).status_code == 200

        revoked = client.post(
            f"/console/operations/keys/{prefix}/revoke", data={"csrf_token": token}
        )
        assert revoked.status_code == 303
        assert api.get("/api/v1/reports/funnel", headers={"X-API-Key": key}).status_code == 401
    again = client.post(f"/console/operations/keys/{prefix}/revoke", data={"csrf_token": token})
    assert again.status_code == 404
    log = CommAuditLog.__table__
    with console_site.engine.connect() as connection:
        rows = connection.execute(
            select(log.c.action, log.c.actor, log.c.detail)
            .where(log.c.org_id == org_id, log.c.action.like("api_key_%"))
            .order_by(log.c.id)
        ).all()
    admin_actor = "key:" + console_site.key(Role.ADMIN, org_id)[:12]
    actions = [row.action for row in rows if row.detail.get("prefix") == prefix]
    assert {row.actor for row in rows if row.detail.get("prefix") == prefix} == {admin_actor}
    assert actions == ["api_key_created", "api_key_revoked"]


@pytest.mark.parametrize("role", [Role.MARKETER, Role.ANALYST])
def test_only_admins_open_operations(console_site: ConsoleSite, role: Role) -> None:
    with signed_in(console_site, role, new_org_id()) as client:
        token = form_token(client.get("/console/").text)
        for path in ("/console/operations", "/console/operations/dead-letters/x"):
            answer = client.get(path)
            assert answer.status_code == 403 and "Not allowed" in answer.text
        for path in (
            "/console/operations/keys",
            "/console/operations/keys/abc/revoke",
            "/console/operations/dead-letters/x/replay",
            "/console/operations/dead-letters/x/discard",
        ):
            assert client.post(path, data={"csrf_token": token}).status_code == 403
    with httpx.Client(base_url=console_site.base_url, timeout=15) as anonymous:
        answer = anonymous.get("/console/operations", follow_redirects=False)
        assert answer.status_code == 303
        assert answer.headers["location"] == "/console/sign-in?next=/console/operations"


@on_browser_loop
async def test_an_admin_replays_a_dead_letter_in_the_browser(
    console_site: ConsoleSite, page: Any
) -> None:
    org_id = new_org_id()
    kafka = console_site.settings.kafka_bootstrap_servers
    topic = await asyncio.to_thread(create_topic, kafka)
    original = json.dumps({"event_id": uuid.uuid4().hex}).encode()
    entry = letter(console_site, org_id=org_id, source_topic=topic, original=original)
    await publish_async(kafka, [entry])

    await sign_in(page, console_site, Role.ADMIN, org_id, path="/console/operations")
    assert await page.get_by_role("heading", name="Operations", exact=True).is_visible()
    row = page.locator("#dead-letters tr").filter(has_text=entry.error)
    assert await row.count() == 1
    assert await row.locator(".badge.state-new").inner_text() == "new"
    await assert_accessible(page, "operations")
    await page.set_viewport_size(PHONE)
    await assert_accessible(page, "operations-phone")
    overflow = await page.evaluate(
        "document.documentElement.scrollWidth - document.documentElement.clientWidth"
    )
    assert overflow <= 0, f"the page scrolls sideways by {overflow}px at phone width"

    await row.get_by_role("link", name=f"Open dead letter {entry.entry_id}").click()
    await page.wait_for_load_state()
    assert await page.locator("#dead-letter-state").inner_text() == "new"
    await assert_accessible(page, "operations-dead-letter-phone")
    await page.get_by_role("button", name="Replay").click()
    await page.wait_for_load_state()
    assert await page.locator("#dead-letter-state").inner_text() == "replayed"
    assert await page.get_by_role("status").inner_text() != ""
    assert await page.get_by_role("button", name="Replay").count() == 0
    await page.set_viewport_size({"width": 1280, "height": 800})
    await assert_accessible(page, "operations-dead-letter-replayed")

    landed = await read_topic(kafka, topic)
    assert [(r.key, r.value) for r in landed] == [(entry.key.encode(), original)]

    await page.get_by_role("link", name="Back to operations").click()
    await page.wait_for_load_state()
    replayed_row = page.locator("#dead-letters tr").filter(has_text=entry.error)
    assert await replayed_row.locator(".badge.state-replayed").inner_text() == "replayed"


def test_a_broker_that_does_not_answer_is_said_so(
    console_site: ConsoleSite, admin: tuple[str, httpx.Client], monkeypatch: pytest.MonkeyPatch
) -> None:
    _, client = admin
    services = console_site.app.state.services
    unreachable = services.settings.model_copy(update={"kafka_bootstrap_servers": "127.0.0.1:9"})
    monkeypatch.setattr(
        console_site.app.state, "services", dataclasses.replace(services, settings=unreachable)
    )
    page = client.get("/console/operations")
    assert page.status_code == 200  # providers and keys do not need the broker
    assert "did not answer in time" in page.text and 'id="keys"' in page.text
    entry = client.get("/console/operations/dead-letters/0123456789abcdef")
    assert entry.status_code == 503 and "nothing was changed" in entry.text
