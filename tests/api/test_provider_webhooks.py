"""Provider webhooks, signed as the providers sign them: verified, normalised, handed to Kafka.

A bad signature is a 403 and nothing reaches Kafka; a broker that cannot take the message is a
503 (the provider retries), never a 200.
"""

from __future__ import annotations

import json
import time
from datetime import UTC, datetime
from urllib.parse import urlencode

import pytest
from cryptography.hazmat.primitives.asymmetric import ec

from outreach import topics
from outreach.channels.webhook_paths import (
    SENDGRID_EVENTS_PATH,
    SENDGRID_INBOUND_PATH,
    TWILIO_INBOUND_PATH,
    TWILIO_STATUS_PATH,
    WHATSAPP_WEBHOOK_PATH,
)
from outreach.events import InboundEnvelope, StatusUpdate
from outreach.sim.provider.signing import meta_signature, sendgrid_signature, twilio_signature
from outreach.sim.provider.webhooks import (
    SENDGRID_PARSE_BOUNDARY,
    meta_json,
    multipart_body,
    sendgrid_parse_fields,
    twilio_inbound_params,
)
from outreach.topics import inbound_key

from .conftest import (
    PUBLIC_BASE_URL,
    TWILIO_AUTH_TOKEN,
    WHATSAPP_APP_SECRET,
    WHATSAPP_VERIFY_TOKEN,
    ApiHarness,
    TopicProbe,
    running_api,
    unique,
)

pytestmark = pytest.mark.asyncio(loop_scope="session")

ACCOUNT_SID = "AC" + "0" * 32
PATIENT_PHONE = "+15005550123"
CLINIC_PHONE = "+15005550006"


def _twilio(
    path: str, params: list[tuple[str, str]], query: str = "", token: str = TWILIO_AUTH_TOKEN
) -> tuple[str, bytes, dict[str, str]]:
    """(path to call, body, headers) signed over the public URL Twilio called."""
    target = path + (f"?{query}" if query else "")
    signature = twilio_signature(token, PUBLIC_BASE_URL + target, params)
    headers = {"Content-Type": "application/x-www-form-urlencoded", "X-Twilio-Signature": signature}
    return target, urlencode(params).encode(), headers


def _twilio_status_params(sid: str, status: str, error_code: str | None = None):
    params = [
        ("MessageSid", sid),
        ("SmsSid", sid),
        ("MessageStatus", status),
        ("SmsStatus", status),
        ("AccountSid", ACCOUNT_SID),
        ("From", CLINIC_PHONE),
        ("To", PATIENT_PHONE),
        ("ApiVersion", "2010-04-01"),
    ]
    if error_code:
        params.append(("ErrorCode", error_code))
    return params


def _sendgrid(key: ec.EllipticCurvePrivateKey, body: bytes, content_type: str):
    timestamp = str(int(time.time()))
    return {
        "Content-Type": content_type,
        "X-Twilio-Email-Event-Webhook-Timestamp": timestamp,
        "X-Twilio-Email-Event-Webhook-Signature": sendgrid_signature(key, timestamp, body),
    }


def _whatsapp_document(
    statuses: list[dict] | None = None, messages: list[dict] | None = None
) -> bytes:
    value: dict = {
        "messaging_product": "whatsapp",
        "metadata": {"display_phone_number": "15550001111", "phone_number_id": "100000000000001"},
    }
    if statuses:
        value["statuses"] = statuses
    if messages:
        value["messages"] = messages
    return meta_json(
        {
            "object": "whatsapp_business_account",
            "entry": [{"id": "1", "changes": [{"value": value, "field": "messages"}]}],
        }
    )


# ---- Twilio ---------------------------------------------------------------------------------


async def test_twilio_status_is_published_normalised(api: ApiHarness) -> None:
    sid = unique("SM")
    target, body, headers = _twilio(
        TWILIO_STATUS_PATH, _twilio_status_params(sid, "undelivered", "30003"), query="job_id=42"
    )
    async with TopicProbe(api.bootstrap, topics.STATUS) as probe:
        response = await api.client.post(target, content=body, headers=headers)
        assert response.status_code == 200, response.text
        [record] = await probe.expect(lambda v: v["provider_message_id"] == sid)
    assert record.key == sid.encode()
    update = StatusUpdate.model_validate_json(record.value)
    assert (update.provider, update.status, update.error_code) == ("twilio", "failed", "30003")
    assert json.loads(record.value)["job_id"] == "42"  # from the signed callback URL


async def test_a_twilio_status_is_stamped_on_the_apis_clock(
    api_settings, mariadb_engine, channels, redis_client, kafka_topics
) -> None:
    """Twilio's reports carry no event time: the API's clock stamps their arrival, so a job's
    times are all read on one clock (the demo's runs days ahead of the wall clock)."""
    ahead = datetime(2031, 5, 6, 7, 8, 9, tzinfo=UTC)
    sid = unique("SM")
    async with running_api(
        api_settings, mariadb_engine, channels, redis_client, clock=lambda: ahead
    ) as shifted:
        target, body, headers = _twilio(TWILIO_STATUS_PATH, _twilio_status_params(sid, "sent"))
        async with TopicProbe(shifted.bootstrap, topics.STATUS) as probe:
            response = await shifted.client.post(target, content=body, headers=headers)
            assert response.status_code == 200, response.text
            [record] = await probe.expect(lambda v: v["provider_message_id"] == sid)
    assert StatusUpdate.model_validate_json(record.value).occurred_at == ahead


async def test_twilio_status_signed_for_another_url_is_refused(api: ApiHarness) -> None:
    sid = unique("SM")
    # Signed over the internal URL the app sees, not the public one Twilio called.
    params = _twilio_status_params(sid, "delivered")
    headers = {
        "Content-Type": "application/x-www-form-urlencoded",
        "X-Twilio-Signature": twilio_signature(
            TWILIO_AUTH_TOKEN, "http://api.internal:8000" + TWILIO_STATUS_PATH, params
        ),
    }
    async with TopicProbe(api.bootstrap, topics.STATUS) as probe:
        response = await api.client.post(
            TWILIO_STATUS_PATH, content=urlencode(params).encode(), headers=headers
        )
        assert response.status_code == 403
        assert response.json()["error"] == "invalid_signature"
        await probe.expect_none(lambda v: v["provider_message_id"] == sid)


async def test_twilio_inbound_is_published_and_answered_with_empty_twiml(api: ApiHarness) -> None:
    sid = unique("SM")
    params = twilio_inbound_params(sid, ACCOUNT_SID, PATIENT_PHONE, CLINIC_PHONE, "CONFIRM")
    target, body, headers = _twilio(TWILIO_INBOUND_PATH, params)
    async with TopicProbe(api.bootstrap, topics.INBOUND) as probe:
        response = await api.client.post(target, content=body, headers=headers)
        assert response.status_code == 200
        assert response.headers["content-type"].startswith("text/xml")
        assert response.text.endswith("<Response/>")
        [record] = await probe.expect(lambda v: v["provider_message_id"] == sid)
    assert record.key == inbound_key(PATIENT_PHONE)
    raw = json.loads(record.value)
    assert raw["from"] == PATIENT_PHONE  # by alias, as consumers read it
    envelope = InboundEnvelope.model_validate(raw)
    assert (envelope.channel.value, envelope.body, envelope.to) == ("sms", "CONFIRM", CLINIC_PHONE)


async def test_twilio_inbound_with_a_tampered_body_is_refused(api: ApiHarness) -> None:
    sid = unique("SM")
    params = twilio_inbound_params(sid, ACCOUNT_SID, PATIENT_PHONE, CLINIC_PHONE, "YES")
    target, _body, headers = _twilio(TWILIO_INBOUND_PATH, params)
    forged = twilio_inbound_params(sid, ACCOUNT_SID, PATIENT_PHONE, CLINIC_PHONE, "STOP")
    async with TopicProbe(api.bootstrap, topics.INBOUND) as probe:
        response = await api.client.post(
            target, content=urlencode(forged).encode(), headers=headers
        )
        assert response.status_code == 403
        await probe.expect_none(lambda v: v["provider_message_id"] == sid)


async def test_a_webhook_kafka_cannot_take_is_a_503(api: ApiHarness) -> None:
    target, body, headers = _twilio(
        TWILIO_STATUS_PATH, _twilio_status_params(unique("SM"), "delivered")
    )
    await api.publisher.stop()
    response = await api.client.post(target, content=body, headers=headers)
    assert response.status_code == 503
    assert response.json()["error"] == "unavailable"


# ---- SendGrid -------------------------------------------------------------------------------


async def test_sendgrid_events_are_published_normalised(
    api: ApiHarness, sendgrid_key: ec.EllipticCurvePrivateKey
) -> None:
    message_id = unique("sg")
    events = [
        {
            "email": "pat@example.org",
            "timestamp": 1_780_000_000,
            "event": "delivered",
            "sg_event_id": "e1",
            "sg_message_id": f"{message_id}.filter0001.1.2.0",
            "job_id": "7",
        },
        {
            "email": "pat@example.org",
            "timestamp": 1_780_000_060,
            "event": "open",
            "sg_event_id": "e2",
            "sg_message_id": f"{message_id}.filter0001.1.2.0",
            "job_id": "7",
        },
        {
            "email": "pat@example.org",
            "timestamp": 1_780_000_090,
            "event": "spamreport",
            "sg_event_id": "e3",
            "sg_message_id": f"{message_id}.filter0001.1.2.0",
        },
    ]
    body = json.dumps(events).encode() + b"\r\n"
    headers = _sendgrid(sendgrid_key, body, "application/json")
    async with TopicProbe(api.bootstrap, topics.STATUS) as probe:
        response = await api.client.post(SENDGRID_EVENTS_PATH, content=body, headers=headers)
        assert response.status_code == 200, response.text
        records = await probe.expect(lambda v: v["provider_message_id"] == message_id, count=2)
    updates = [StatusUpdate.model_validate_json(r.value) for r in records]
    # A spam report is no delivery state: it travels as the recipient's opt-out.
    assert [u.status for u in updates] == ["delivered", "opened", "unsubscribed"]
    assert all(r.key == message_id.encode() for r in records)
    assert updates[0].occurred_at.timestamp() == 1_780_000_000


async def test_sendgrid_events_with_a_foreign_signature_are_refused(api: ApiHarness) -> None:
    message_id = unique("sg")
    body = json.dumps(
        [{"event": "delivered", "sg_message_id": message_id, "timestamp": 1}]
    ).encode()
    other_key = ec.generate_private_key(ec.SECP256R1())
    async with TopicProbe(api.bootstrap, topics.STATUS) as probe:
        response = await api.client.post(
            SENDGRID_EVENTS_PATH,
            content=body,
            headers=_sendgrid(other_key, body, "application/json"),
        )
        assert response.status_code == 403
        await probe.expect_none(lambda v: v["provider_message_id"] == message_id)


async def test_sendgrid_inbound_parse_is_published(
    api: ApiHarness, sendgrid_key: ec.EllipticCurvePrivateKey
) -> None:
    message_id = unique("mail") + "@mail.example.org"
    body = multipart_body(
        sendgrid_parse_fields(
            "Pat <pat@example.org>",
            "replies@clinic.example",
            "Re: appointment",
            "Yes, confirmed",
            message_id,
        )
    )
    headers = _sendgrid(
        sendgrid_key, body, f"multipart/form-data; boundary={SENDGRID_PARSE_BOUNDARY}"
    )
    async with TopicProbe(api.bootstrap, topics.INBOUND) as probe:
        response = await api.client.post(SENDGRID_INBOUND_PATH, content=body, headers=headers)
        assert response.status_code == 200, response.text
        [record] = await probe.expect(lambda v: v["provider_message_id"] == message_id)
    envelope = InboundEnvelope.model_validate_json(record.value)
    assert (envelope.channel.value, envelope.from_, envelope.body) == (
        "email",
        "pat@example.org",
        "Yes, confirmed",
    )


async def test_a_correctly_signed_but_unreadable_body_is_a_400(
    api: ApiHarness, sendgrid_key: ec.EllipticCurvePrivateKey
) -> None:
    body = b"{not json"
    response = await api.client.post(
        SENDGRID_EVENTS_PATH,
        content=body,
        headers=_sendgrid(sendgrid_key, body, "application/json"),
    )
    assert response.status_code == 400
    assert response.json()["error"] == "malformed_webhook"


# ---- WhatsApp -------------------------------------------------------------------------------


async def test_whatsapp_statuses_and_messages_share_one_url(api: ApiHarness) -> None:
    wamid, reply_id = unique("wamid.s"), unique("wamid.m")
    body = _whatsapp_document(
        statuses=[
            {
                "id": wamid,
                "status": "read",
                "timestamp": str(int(time.time()) - 60),
                "recipient_id": "15005550123",
            }
        ],
        messages=[
            {
                "from": "15005550123",
                "id": reply_id,
                "timestamp": str(int(time.time())),
                "type": "text",
                "text": {"body": "Reschedule please"},
            }
        ],
    )
    headers = {
        "Content-Type": "application/json",
        "X-Hub-Signature-256": meta_signature(WHATSAPP_APP_SECRET, body),
    }
    async with (
        TopicProbe(api.bootstrap, topics.STATUS) as statuses,
        TopicProbe(api.bootstrap, topics.INBOUND) as inbound,
    ):
        response = await api.client.post(WHATSAPP_WEBHOOK_PATH, content=body, headers=headers)
        assert response.status_code == 200, response.text
        [status] = await statuses.expect(lambda v: v["provider_message_id"] == wamid)
        [message] = await inbound.expect(lambda v: v["provider_message_id"] == reply_id)
    assert StatusUpdate.model_validate_json(status.value).status == "opened"
    envelope = InboundEnvelope.model_validate_json(message.value)
    assert (envelope.from_, envelope.body) == ("+15005550123", "Reschedule please")
    assert message.key == inbound_key("+15005550123")


async def test_whatsapp_with_a_bad_signature_is_refused(api: ApiHarness) -> None:
    wamid = unique("wamid.s")
    body = _whatsapp_document(
        statuses=[{"id": wamid, "status": "delivered", "timestamp": "1780000000"}]
    )
    headers = {
        "Content-Type": "application/json",
        "X-Hub-Signature-256": meta_signature("not-the-app-secret", body),
    }
    async with TopicProbe(api.bootstrap, topics.STATUS) as probe:
        response = await api.client.post(WHATSAPP_WEBHOOK_PATH, content=body, headers=headers)
        assert response.status_code == 403
        await probe.expect_none(lambda v: v["provider_message_id"] == wamid)


async def test_whatsapp_subscription_handshake(api: ApiHarness) -> None:
    query = {
        "hub.mode": "subscribe",
        "hub.verify_token": WHATSAPP_VERIFY_TOKEN,
        "hub.challenge": "1158201444",
    }
    accepted = await api.client.get(WHATSAPP_WEBHOOK_PATH, params=query)
    assert accepted.status_code == 200 and accepted.text == "1158201444"
    refused = await api.client.get(
        WHATSAPP_WEBHOOK_PATH, params=query | {"hub.verify_token": "guess"}
    )
    assert refused.status_code == 403
    assert refused.json()["error"] == "invalid_signature"
