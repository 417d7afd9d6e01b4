"""The generic webhooks: outreach's own JSON shapes, authenticated by an HMAC of the raw body."""

from __future__ import annotations

import json
from typing import Any

import pytest
from sqlalchemy import Engine

from outreach import topics
from outreach.api.generic_webhooks import generic_signature
from outreach.channels import ChannelWorker
from outreach.config import Settings
from outreach.events import InboundEnvelope, StatusUpdate
from outreach.topics import inbound_key

from .conftest import GENERIC_SECRET, ApiHarness, TopicProbe, running_api, unique

pytestmark = pytest.mark.asyncio(loop_scope="session")

STATUS_PATH = "/api/v1/comm/webhook/outbound-status"
INBOUND_PATH = "/api/v1/comm/webhook/inbound"


def _signed(document: Any, secret: str = GENERIC_SECRET) -> tuple[bytes, dict[str, str]]:
    body = json.dumps(document).encode()
    return body, {
        "Content-Type": "application/json",
        "X-Outreach-Signature": generic_signature(secret, body),
    }


def _status(message_id: str, status: str = "delivered") -> dict[str, Any]:
    return {
        "provider": "gateway",
        "provider_message_id": message_id,
        "status": status,
        "occurred_at": "2026-11-21T10:00:00Z",
    }


async def test_signed_statuses_are_published(api: ApiHarness) -> None:
    first, second = unique("gw"), unique("gw")
    body, headers = _signed([_status(first), _status(second, "failed")])
    async with TopicProbe(api.bootstrap, topics.STATUS) as probe:
        response = await api.client.post(STATUS_PATH, content=body, headers=headers)
        assert response.status_code == 202, response.text
        assert response.json() == {"status": "accepted", "count": 2}
        records = await probe.expect(lambda v: v["provider_message_id"] in (first, second), count=2)
    updates = {StatusUpdate.model_validate_json(r.value).provider_message_id: r for r in records}
    assert set(updates) == {first, second}
    assert updates[first].key == first.encode()


async def test_signed_inbound_is_published_by_alias(api: ApiHarness) -> None:
    message_id = unique("gw-in")
    envelope = {
        "provider": "gateway",
        "channel": "sms",
        "from": "+15005550123",
        "to": "+15005550006",
        "body": "STOP",
        "received_at": "2026-11-21T10:00:00Z",
        "provider_message_id": message_id,
    }
    body, headers = _signed(envelope)
    async with TopicProbe(api.bootstrap, topics.INBOUND) as probe:
        response = await api.client.post(INBOUND_PATH, content=body, headers=headers)
        assert response.status_code == 202, response.text
        [record] = await probe.expect(lambda v: v["provider_message_id"] == message_id)
    assert json.loads(record.value)["from"] == "+15005550123"
    assert InboundEnvelope.model_validate_json(record.value).body == "STOP"
    assert record.key == inbound_key("+15005550123")  # the sender's bucket, not the number


async def test_the_gateway_status_body_becomes_the_same_status_message(api: ApiHarness) -> None:
    ours, gateways = unique("gw"), unique("gw")
    gateway = {
        "provider": "gateway",
        "message_id": gateways,
        "status": "bounced",
        "timestamp": "2026-11-21T11:00:00+01:00",
        "error_code": "550",
        "event_data": {"reason": "mailbox full", "attempt": 2},
    }
    body, headers = _signed([_status(ours), gateway])  # both shapes in one array
    async with TopicProbe(api.bootstrap, topics.STATUS) as probe:
        response = await api.client.post(STATUS_PATH, content=body, headers=headers)
        assert response.status_code == 202, response.text
        assert response.json() == {"status": "accepted", "count": 2}
        records = await probe.expect(lambda v: v["provider_message_id"] in (ours, gateways), 2)
    by_key = {r.key: json.loads(r.value) for r in records}
    # Both shapes become the same message: the same fields.
    assert set(by_key[ours.encode()]) == set(by_key[gateways.encode()])
    [record] = [r for r in records if r.key == gateways.encode()]
    assert json.loads(record.value) == {
        "provider": "gateway",
        "provider_message_id": gateways,
        "status": "bounced",
        "occurred_at": "2026-11-21T11:00:00+01:00",
        "error_code": "550",
        "price": None,
        "price_unit": None,
        "job_id": None,
        "raw": {"reason": "mailbox full", "attempt": 2},
    }


@pytest.mark.parametrize(
    ("sender", "channel"),
    [
        ("+15005550123", "sms"),
        ("whatsapp:+15005550123", "whatsapp"),
        ("ana@example.org", "email"),
    ],
)
async def test_the_gateway_inbound_body_becomes_the_same_inbound_message(
    api: ApiHarness, sender: str, channel: str
) -> None:
    message_id = unique("gw-in")
    gateway = {
        "provider": "gateway",
        "from": sender,
        "to": "+15005550006",
        "body": "C",
        "timestamp": "2026-11-21T10:00:00Z",
        "message_id": message_id,
    }
    body, headers = _signed(gateway)
    async with TopicProbe(api.bootstrap, topics.INBOUND) as probe:
        response = await api.client.post(INBOUND_PATH, content=body, headers=headers)
        assert response.status_code == 202, response.text
        [record] = await probe.expect(lambda v: v["provider_message_id"] == message_id)
    assert record.key == inbound_key(sender)
    envelope = InboundEnvelope.model_validate_json(record.value)
    assert (envelope.provider, envelope.from_, envelope.to, envelope.body) == (
        "gateway",
        sender,
        "+15005550006",
        "C",
    )
    assert envelope.channel.value == channel
    assert envelope.received_at.isoformat() == "2026-11-21T10:00:00+00:00"
    # The same keys as outreach's own shape, "from" by alias.
    assert set(json.loads(record.value)) == {
        "provider",
        "channel",
        "from",
        "to",
        "body",
        "received_at",
        "provider_message_id",
    }


async def test_invalid_gateway_bodies_are_422s_naming_fields_not_values(api: ApiHarness) -> None:
    body, headers = _signed(
        [
            {
                "provider": "gateway",
                "message_id": "m-1",
                "status": "SECRET-STATUS",
                "timestamp": "2026-11-21T10:00:00Z",
            },
            {"provider": "gateway", "message_id": "m-2", "status": "sent", "timestamp": "noon"},
            {
                "provider": "gateway",
                "message_id": "m-3",
                "provider_message_id": "m-3",
                "status": "sent",
                "timestamp": "2026-11-21T10:00:00",  # no zone
            },
        ]
    )
    response = await api.client.post(STATUS_PATH, content=body, headers=headers)
    assert response.status_code == 422
    locations = {item["loc"] for item in response.json()["detail"]}
    assert {
        "body.0.status",
        "body.1.timestamp",
        "body.2.provider_message_id",  # one shape or the other, not both
        "body.2.timestamp",
    } == locations
    assert "SECRET" not in response.text and "noon" not in response.text

    body, headers = _signed(
        {
            "provider": "gateway",
            "from": "+15005550123",
            "body": "SECRET-BODY",
            "message_id": "m-4",
            "channel": "pigeon",
        }
    )
    response = await api.client.post(INBOUND_PATH, content=body, headers=headers)
    assert response.status_code == 422
    locations = {item["loc"] for item in response.json()["detail"]}
    assert locations == {"body.timestamp", "body.channel"}
    assert "SECRET" not in response.text and "pigeon" not in response.text


@pytest.mark.parametrize("signature", [None, "sha256=" + "0" * 64, "deadbeef", "sha256="])
async def test_missing_or_wrong_signatures_are_refused(
    api: ApiHarness, signature: str | None
) -> None:
    message_id = unique("gw")
    body, headers = _signed(_status(message_id))
    if signature is None:
        del headers["X-Outreach-Signature"]
    else:
        headers["X-Outreach-Signature"] = signature
    async with TopicProbe(api.bootstrap, topics.STATUS) as probe:
        response = await api.client.post(STATUS_PATH, content=body, headers=headers)
        assert response.status_code == 403
        assert response.json()["error"] == "invalid_signature"
        await probe.expect_none(lambda v: v["provider_message_id"] == message_id)


async def test_a_body_changed_after_signing_is_refused(api: ApiHarness) -> None:
    _, headers = _signed(_status("gw-1"))
    forged, _ = _signed(_status("gw-1", "failed"))
    response = await api.client.post(STATUS_PATH, content=forged, headers=headers)
    assert response.status_code == 403


async def test_signed_but_invalid_documents_are_422s(api: ApiHarness) -> None:
    body, headers = _signed([_status("gw-2", "teleported"), {"provider": "gateway"}])
    response = await api.client.post(STATUS_PATH, content=body, headers=headers)
    assert response.status_code == 422
    locations = {item["loc"] for item in response.json()["detail"]}
    # Every document's problems at once, each at its index.
    assert {"body.0.status", "body.1.provider_message_id"} <= locations
    body, headers = _signed(_status("gw-3", "teleported"))
    response = await api.client.post(STATUS_PATH, content=body, headers=headers)
    assert response.status_code == 422
    # A single document's fields are at body.<field>, like every other error of the API.
    assert [item["loc"] for item in response.json()["detail"]] == ["body.status"]
    assert "teleported" not in response.text
    body, headers = _signed(
        {
            "provider": "gateway",
            "channel": "pigeon",
            "from": "+1",
            "body": "hi",
            "received_at": "2026-11-21T10:00:00Z",
            "provider_message_id": "x",
        }
    )
    response = await api.client.post(INBOUND_PATH, content=body, headers=headers)
    assert response.status_code == 422
    assert any(i["loc"] == "body.channel" for i in response.json()["detail"])


async def test_without_a_configured_secret_everything_is_refused(
    api_settings: Settings,
    mariadb_engine: Engine,
    channels: dict[str, ChannelWorker],
    kafka_topics: str,
) -> None:
    settings = api_settings.model_copy(update={"generic_webhook_secret": None})
    body, headers = _signed(_status(unique("gw")))
    async with running_api(settings, mariadb_engine, channels, None) as harness:
        response = await harness.client.post(STATUS_PATH, content=body, headers=headers)
    assert response.status_code == 403
    assert response.json() == {
        "error": "invalid_signature",
        "detail": "generic webhooks are not enabled",
    }
