"""Hostile input is refused early and cleanly: oversized streams, malformed signed webhooks,
stale signatures, ids out of range. Each case is a regression test of an attack that worked."""

from __future__ import annotations

import json
import time
from collections.abc import AsyncIterator

import pytest
from cryptography.hazmat.primitives.asymmetric import ec

from outreach import topics
from outreach.channels.webhook_paths import (
    SENDGRID_EVENTS_PATH,
    SENDGRID_INBOUND_PATH,
    WHATSAPP_WEBHOOK_PATH,
)
from outreach.correlation import KAFKA_HEADER
from outreach.dead_letters import DeadLetterSealer
from outreach.domain import Role
from outreach.events import DlqEntry
from outreach.sim.provider.signing import meta_signature, sendgrid_signature

from .conftest import WHATSAPP_APP_SECRET, ApiHarness, TopicProbe, unique

pytestmark = pytest.mark.asyncio(loop_scope="session")

MIB = 1024 * 1024
CHUNK = 64 * 1024


class Stream:
    """A chunked request body that counts how much of it the server pulled."""

    def __init__(self, total: int) -> None:
        self.total = total
        self.pulled = 0

    async def __aiter__(self) -> AsyncIterator[bytes]:
        while self.pulled < self.total:
            self.pulled += CHUNK
            yield b"x" * CHUNK


@pytest.mark.parametrize(
    ("path", "limit"),
    [
        (WHATSAPP_WEBHOOK_PATH, 4 * MIB),
        (SENDGRID_INBOUND_PATH, 32 * MIB),
        ("/api/v1/comm/webhook/inbound", MIB),
        ("/api/v1/comm/schedule", MIB),
    ],
)
async def test_an_unsigned_48_mib_chunked_body_is_refused_while_it_streams(
    api: ApiHarness, path: str, limit: int
) -> None:
    stream = Stream(48 * MIB)
    response = await api.client.post(path, content=stream)
    assert response.status_code == 413, response.text
    assert response.json()["error"] == "payload_too_large"
    assert stream.pulled <= limit + CHUNK, f"{stream.pulled} bytes read before refusing"


async def test_a_declared_length_over_the_limit_is_refused_before_reading(
    api: ApiHarness,
) -> None:
    stream = Stream(5 * MIB)
    response = await api.client.post(
        WHATSAPP_WEBHOOK_PATH, content=stream, headers={"Content-Length": str(5 * MIB)}
    )
    assert response.status_code == 413
    assert stream.pulled <= CHUNK


def _signed_whatsapp(document: object) -> tuple[bytes, dict[str, str]]:
    body = json.dumps(document).encode()
    return body, {
        "Content-Type": "application/json",
        "X-Hub-Signature-256": meta_signature(WHATSAPP_APP_SECRET, body),
    }


def _signed_sendgrid(
    key: ec.EllipticCurvePrivateKey, body: bytes, content_type: str, at: int | None = None
) -> dict[str, str]:
    timestamp = str(at if at is not None else int(time.time()))
    return {
        "Content-Type": content_type,
        "X-Twilio-Email-Event-Webhook-Timestamp": timestamp,
        "X-Twilio-Email-Event-Webhook-Signature": sendgrid_signature(key, timestamp, body),
    }


def _unknown_charset_mail(marker: str) -> tuple[bytes, str]:
    boundary = "xYzZY"
    parts = [
        ("from", "Pat <patient@example.org>"),
        ("to", "replies@clinic.example"),
        ("headers", f"Message-ID: <{marker}@mail.example>"),
    ]
    body = "".join(
        f'--{boundary}\r\nContent-Disposition: form-data; name="{name}"\r\n\r\n{value}\r\n'
        for name, value in parts
    )
    body += (
        f'--{boundary}\r\nContent-Disposition: form-data; name="text"\r\n'
        "Content-Type: text/plain; charset=x-no-such-charset\r\n\r\n"
        f"STOP {marker}\r\n--{boundary}--\r\n"
    )
    return body.encode(), f"multipart/form-data; boundary={boundary}"


async def _expect_dead_letter(
    api: ApiHarness, probe: TopicProbe, path: str, original: bytes
) -> DlqEntry:
    sealer: DeadLetterSealer = api.app.state.services.sealer
    records = await probe.expect(
        lambda v: (
            v.get("stage") == "api.webhook"
            and v.get("source_topic") == f"http:{path}"
            and sealer.open(DlqEntry.model_validate(v)) == original
        )
    )
    return DlqEntry.model_validate_json(records[0].value)


@pytest.mark.parametrize(
    ("document", "reason"),
    [
        ({"entry": 5, "marker": "{marker}"}, "'entry' is not a list"),
        (
            {"entry": [{"changes": [{"value": {"statuses": 1.5}}]}], "marker": "{marker}"},
            "'statuses' is not a list",
        ),
        (
            {
                "entry": [
                    {
                        "changes": [
                            {
                                "value": {
                                    "messages": [
                                        {"from": "1", "id": "{marker}", "type": "text", "text": 7}
                                    ]
                                }
                            }
                        ]
                    }
                ]
            },  # noqa: E501
            None,
        ),
        ({"entry": [{"changes": {"value": {}}}], "marker": "{marker}"}, "'changes' is not a list"),
    ],
)
async def test_malformed_signed_whatsapp_bodies_are_400_and_dead_lettered(
    api: ApiHarness, document: dict, reason: str | None
) -> None:
    marker = unique("m")
    document = json.loads(json.dumps(document).replace("{marker}", marker))
    body, headers = _signed_whatsapp(document)
    async with TopicProbe(api.bootstrap, topics.DLQ) as probe:
        response = await api.client.post(WHATSAPP_WEBHOOK_PATH, content=body, headers=headers)
        if reason is None:  # readable after all (a text that is no object is skipped)
            assert response.status_code == 200, response.text
            return
        assert response.status_code == 400, response.text
        assert response.json()["error"] == "malformed_webhook"
        assert reason in response.json()["detail"]
        entry = await _expect_dead_letter(api, probe, WHATSAPP_WEBHOOK_PATH, body)
    assert reason in entry.error and entry.kind == "malformed"
    assert marker not in entry.model_dump_json()  # the original travels sealed only


async def test_an_inbound_mail_with_an_unknown_charset_is_400_and_dead_lettered(
    api: ApiHarness, sendgrid_key: ec.EllipticCurvePrivateKey
) -> None:
    marker = unique("mail")
    body, content_type = _unknown_charset_mail(marker)
    headers = _signed_sendgrid(sendgrid_key, body, content_type)
    async with TopicProbe(api.bootstrap, topics.DLQ) as probe:
        response = await api.client.post(SENDGRID_INBOUND_PATH, content=body, headers=headers)
        assert response.status_code == 400, response.text
        entry = await _expect_dead_letter(api, probe, SENDGRID_INBOUND_PATH, body)
    assert "unknown charset" in entry.error
    assert marker not in response.text and marker not in entry.model_dump_json()


async def test_a_stale_sendgrid_signature_is_refused(
    api: ApiHarness, sendgrid_key: ec.EllipticCurvePrivateKey
) -> None:
    body = json.dumps([{"event": "delivered", "sg_message_id": unique("sg")}]).encode()
    for at in (int(time.time()) - 3600, int(time.time()) + 3600):
        headers = _signed_sendgrid(sendgrid_key, body, "application/json", at=at)
        response = await api.client.post(SENDGRID_EVENTS_PATH, content=body, headers=headers)
        assert response.status_code == 403, response.text
        assert response.json()["error"] == "stale_webhook"
    fresh = _signed_sendgrid(sendgrid_key, body, "application/json")
    response = await api.client.post(SENDGRID_EVENTS_PATH, content=body, headers=fresh)
    assert response.status_code == 200


async def test_a_whatsapp_event_older_than_the_window_is_refused(api: ApiHarness) -> None:
    old = str(int(time.time()) - 30 * 24 * 3600)
    body, headers = _signed_whatsapp(
        {
            "entry": [
                {
                    "changes": [
                        {
                            "value": {
                                "statuses": [
                                    {"id": unique("w"), "status": "delivered", "timestamp": old}
                                ]
                            }
                        }  # fmt: skip
                    ]
                }
            ]
        }
    )
    response = await api.client.post(WHATSAPP_WEBHOOK_PATH, content=body, headers=headers)
    assert response.status_code == 403 and response.json()["error"] == "stale_webhook"


@pytest.mark.parametrize("template_id", [2**63, 2**63 + 5, 10**30, 0, -1])
async def test_template_ids_out_of_range_are_404(api: ApiHarness, template_id: int) -> None:
    api.act_as(Role.MARKETER, unique("org"))
    for method, suffix, body in (
        ("GET", "", None),
        ("POST", "/preview", {}),
        ("POST", "/activate", None),
        ("POST", "/versions", {"body": "Hello"}),
    ):
        response = await api.client.request(
            method, f"/api/v1/templates/{template_id}{suffix}", json=body
        )
        assert response.status_code == 404, (suffix, response.text)
        assert response.json() == {"error": "not_found", "detail": "unknown template"}


async def test_the_correlation_id_travels_from_http_into_kafka_headers(
    api: ApiHarness, sendgrid_key: ec.EllipticCurvePrivateKey
) -> None:
    message_id = unique("sg")
    body = json.dumps([{"event": "delivered", "sg_message_id": message_id}]).encode()
    headers = {
        **_signed_sendgrid(sendgrid_key, body, "application/json"),
        "X-Correlation-ID": "trace-42.a",
    }
    async with TopicProbe(api.bootstrap, topics.STATUS) as probe:
        response = await api.client.post(SENDGRID_EVENTS_PATH, content=body, headers=headers)
        assert response.status_code == 200
        [record] = await probe.expect(lambda v: v["provider_message_id"] == message_id)
    assert response.headers["X-Correlation-ID"] == "trace-42.a"
    assert (KAFKA_HEADER, b"trace-42.a") in list(record.headers)
    made = await api.client.get("/health", headers={"X-Correlation-ID": "bad id with spaces"})
    assert len(made.headers["X-Correlation-ID"]) == 32  # refused as given: a new one


async def test_metrics_count_requests_and_time_webhooks(
    api: ApiHarness, sendgrid_key: ec.EllipticCurvePrivateKey
) -> None:
    body = b"[]"
    headers = _signed_sendgrid(sendgrid_key, body, "application/json")
    await api.client.post(SENDGRID_EVENTS_PATH, content=body, headers=headers)
    await api.client.get("/api/v1/keys")
    exposition = (await api.client.get("/metrics")).text
    assert (
        'outreach_http_requests_total{method="GET",route="/api/v1/keys",status="401"}' in exposition
    )
    assert f'outreach_webhook_seconds_count{{route="{SENDGRID_EVENTS_PATH}",status="200"}}' in (
        exposition
    )


async def test_a_template_that_could_render_megabytes_is_refused_at_save(api: ApiHarness) -> None:
    org_id = unique("org")
    api.act_as(Role.MARKETER, org_id)
    response = await api.client.post(
        "/api/v1/templates",
        json={
            "org_id": org_id,
            "purpose": "appt_reminder",
            "channel": "sms",
            "language": "en",
            "body": "Hi {{ first_name" + "|replace('','xxxxxxxxxx')" * 7 + " }}",
            "declared_variables": ["first_name"],
        },
    )
    assert response.status_code == 422, response.text
    assert response.json()["error"] == "template_policy_violation"
    assert any(v["code"] == "structure" for v in response.json()["detail"])
