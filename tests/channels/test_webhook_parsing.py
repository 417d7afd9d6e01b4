"""Provider webhook payloads, as the providers document them, normalised by each channel."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from decimal import Decimal
from urllib.parse import urlencode

import pytest

from outreach.channels import MalformedWebhook, WebhookRequest
from outreach.channels.email_sendgrid import SendGridEmailChannel
from outreach.channels.sms_twilio import TwilioSmsChannel
from outreach.channels.whatsapp_cloud import WhatsAppCloudChannel
from outreach.config import Settings
from outreach.sim.provider.signing import generate_sendgrid_keypair

_, PUBLIC_KEY = generate_sendgrid_keypair()
SETTINGS = Settings(
    twilio_auth_token="twilio-token",
    sendgrid_api_key="SG.key",
    sendgrid_webhook_public_key=PUBLIC_KEY,
    whatsapp_token="wa-token",
    whatsapp_app_secret="app-secret",
    whatsapp_verify_token="subscribe-me",
    public_base_url="https://api.clinic.example",
)


def form_request(url: str, fields: dict[str, str]) -> WebhookRequest:
    return WebhookRequest(
        url=url,
        headers={"Content-Type": "application/x-www-form-urlencoded"},
        body=urlencode(fields).encode(),
    )


def json_request(document: object) -> WebhookRequest:
    return WebhookRequest(
        url="https://api.clinic.example/webhooks/x",
        headers={"Content-Type": "application/json"},
        body=json.dumps(document).encode(),
    )


# ---- Twilio ----


@pytest.fixture(scope="module")
def twilio() -> TwilioSmsChannel:
    return TwilioSmsChannel.from_settings(SETTINGS)


@pytest.mark.parametrize(
    ("twilio_status", "error_code", "expected"),
    [
        ("sent", None, "sent"),
        ("delivered", None, "delivered"),
        ("undelivered", "30003", "failed"),
        ("failed", "30008", "failed"),
        ("read", None, "opened"),
        ("queued", None, None),
        ("accepted", None, None),
        ("sending", None, None),
    ],
)
def test_twilio_status_callbacks(twilio, twilio_status, error_code, expected) -> None:
    fields = {
        "SmsSid": "SM0123",
        "SmsStatus": twilio_status,
        "MessageStatus": twilio_status,
        "To": "+15551230001",
        "MessageSid": "SM0123",
        "AccountSid": "AC0",
        "From": "+15005550006",
        "ApiVersion": "2010-04-01",
    }
    if error_code:
        fields["ErrorCode"] = error_code
    url = "https://api.clinic.example/webhooks/twilio/status?job_id=job-9"

    statuses = twilio.parse_status(form_request(url, fields))

    if expected is None:
        assert statuses == []
        return
    [status] = statuses
    assert (status.provider_message_id, status.status, status.error_code, status.job_id) == (
        "SM0123",
        expected,
        error_code,
        "job-9",
    )
    assert status.raw["MessageStatus"] == twilio_status


@pytest.mark.parametrize(
    ("price", "unit", "expected"),
    [
        ("-0.00790", "USD", Decimal("0.00790")),
        ("-0.0450", None, Decimal("0.0450")),
        ("", "USD", None),
    ],
)
def test_twilio_reports_what_a_message_cost(twilio, price, unit, expected) -> None:
    fields = {"MessageSid": "SM0124", "MessageStatus": "delivered", "Price": price}
    if unit:
        fields["PriceUnit"] = unit
    [status] = twilio.parse_status(form_request("https://api.clinic.example/s", fields))
    assert status.price == expected
    assert status.price_unit == ("USD" if expected is not None else None)


def test_twilio_inbound_sms(twilio) -> None:
    fields = {
        "MessageSid": "SMabc",
        "SmsMessageSid": "SMabc",
        "AccountSid": "AC0",
        "From": "+15551230001",
        "To": "+15005550006",
        "Body": "STOP",
        "NumMedia": "0",
    }

    [inbound] = twilio.parse_inbound(form_request("https://api.clinic.example/x", fields))

    assert (inbound.provider_message_id, inbound.from_address, inbound.to_address) == (
        "SMabc",
        "+15551230001",
        "+15005550006",
    )
    assert inbound.body == "STOP" and inbound.channel == "sms"


def test_twilio_reads_an_already_decoded_form(twilio) -> None:
    request = WebhookRequest(
        url="https://api.clinic.example/x",
        headers={},
        body=b"",
        form={"MessageSid": "SM1", "MessageStatus": "delivered"},
    )

    assert [s.status for s in twilio.parse_status(request)] == ["delivered"]


# ---- SendGrid ----


@pytest.fixture(scope="module")
def sendgrid() -> SendGridEmailChannel:
    return SendGridEmailChannel.from_settings(SETTINGS)


def sg_event(event: str, **extra: object) -> dict:
    return {
        "email": "ana@example.com",
        "timestamp": 1_700_000_000,
        "event": event,
        "sg_event_id": "evt",
        "sg_message_id": "14c5d75ce93.filter0001.16648.5515E0B88.0",
        "job_id": "job-1",
        **extra,
    }


def test_sendgrid_events_normalise(sendgrid) -> None:
    events = [
        sg_event("processed"),
        sg_event("deferred", status="4.2.2"),
        sg_event("delivered"),
        sg_event("open"),
        sg_event("click", url="https://portal.clinic.example/"),
        sg_event("bounce", type="blocked", status="5.7.1"),
        sg_event("dropped", reason="Unsubscribed Address"),
        sg_event("spamreport"),
        sg_event("unsubscribe"),
        sg_event("delivered", sg_message_id=None),
        "not an event",
    ]

    statuses = sendgrid.parse_status(json_request(events))

    assert [(s.status, s.error_code) for s in statuses] == [
        ("sent", None),
        ("sent", "4.2.2"),
        ("delivered", None),
        ("opened", None),
        ("clicked", None),
        ("bounced", "5.7.1"),
        ("failed", "Unsubscribed Address"),
        # Compliance events: the recipient opted out through SendGrid.
        ("unsubscribed", "spamreport"),
        ("unsubscribed", "unsubscribe"),
    ]
    assert {s.provider_message_id for s in statuses} == {"14c5d75ce93"}
    assert {s.job_id for s in statuses} == {"job-1"}
    assert statuses[0].occurred_at == datetime.fromtimestamp(1_700_000_000, UTC)


@pytest.mark.parametrize("body", [b"{not json", b'{"event": "delivered"}'])
def test_sendgrid_unreadable_events_are_malformed(sendgrid, body) -> None:
    request = WebhookRequest(url="https://x/", headers={}, body=body)

    with pytest.raises(MalformedWebhook):
        sendgrid.parse_status(request)


def test_sendgrid_inbound_parse(sendgrid) -> None:
    boundary = "xYzZY"
    fields = {
        "headers": "Message-ID: <abc@mail.example>\nFrom: Ana <ana@example.com>\n",
        "from": "Ana Perez <Ana@Example.com>",
        "to": "Clinic <no-reply@clinic.example>",
        "subject": "Re: Appointment",
        "text": "Yes, confirmed",
    }
    body = (
        "".join(
            f'--{boundary}\r\nContent-Disposition: form-data; name="{k}"\r\n\r\n{v}\r\n'
            for k, v in fields.items()
        )
        + f"--{boundary}--\r\n"
    )
    request = WebhookRequest(
        url="https://x/",
        headers={"Content-Type": f"multipart/form-data; boundary={boundary}"},
        body=body.encode(),
    )

    [inbound] = sendgrid.parse_inbound(request)

    assert inbound.provider_message_id == "abc@mail.example"
    assert inbound.from_address == "Ana@Example.com"
    assert inbound.to_address == "no-reply@clinic.example"
    assert inbound.body == "Yes, confirmed"


# ---- WhatsApp ----


@pytest.fixture(scope="module")
def whatsapp() -> WhatsAppCloudChannel:
    return WhatsAppCloudChannel.from_settings(SETTINGS)


def meta_document(**value: object) -> dict:
    return {
        "object": "whatsapp_business_account",
        "entry": [
            {
                "id": "WABA",
                "changes": [
                    {
                        "field": "messages",
                        "value": {
                            "messaging_product": "whatsapp",
                            "metadata": {
                                "display_phone_number": "15550001111",
                                "phone_number_id": "100000000000001",
                            },
                            **value,
                        },
                    }
                ],
            }
        ],
    }


def test_whatsapp_statuses_normalise(whatsapp) -> None:
    statuses = [
        {"id": "wamid.A", "status": "sent", "timestamp": "1700000000", "recipient_id": "1555"},
        {"id": "wamid.A", "status": "delivered", "timestamp": "1700000001"},
        {"id": "wamid.A", "status": "read", "timestamp": "1700000002"},
        {
            "id": "wamid.B",
            "status": "failed",
            "timestamp": "1700000003",
            "errors": [{"code": 131026, "title": "Message Undeliverable."}],
        },
        {"id": "wamid.C", "status": "deleted", "timestamp": "1700000004"},
    ]

    parsed = whatsapp.parse_status(json_request(meta_document(statuses=statuses)))

    assert [(s.provider_message_id, s.status, s.error_code) for s in parsed] == [
        ("wamid.A", "sent", None),
        ("wamid.A", "delivered", None),
        ("wamid.A", "opened", None),
        ("wamid.B", "failed", "131026"),
    ]
    assert parsed[3].occurred_at == datetime.fromtimestamp(1_700_000_003, UTC)
    assert whatsapp.parse_inbound(json_request(meta_document(statuses=statuses))) == []


def test_whatsapp_inbound_messages(whatsapp) -> None:
    messages = [
        {
            "from": "15551230002",
            "id": "wamid.1",
            "timestamp": "1700000000",
            "type": "text",
            "text": {"body": "C"},
        },
        {
            "from": "15551230002",
            "id": "wamid.2",
            "timestamp": "1700000000",
            "type": "button",
            "button": {"payload": "CONFIRM", "text": "Confirm"},
        },
        {
            "from": "15551230002",
            "id": "wamid.3",
            "timestamp": "1700000000",
            "type": "interactive",
            "interactive": {
                "type": "button_reply",
                "button_reply": {"id": "r", "title": "Reschedule"},
            },
        },
        {
            "from": "15551230002",
            "id": "wamid.4",
            "timestamp": "1700000000",
            "type": "image",
            "image": {"id": "media", "caption": "my rash"},
        },
        {
            "from": "15551230002",
            "id": "wamid.5",
            "timestamp": "1700000000",
            "type": "reaction",
            "reaction": {"emoji": "👍", "message_id": "wamid.X"},
        },
    ]

    inbound = whatsapp.parse_inbound(json_request(meta_document(messages=messages)))

    assert [(m.provider_message_id, m.body) for m in inbound] == [
        ("wamid.1", "C"),
        ("wamid.2", "Confirm"),
        ("wamid.3", "Reschedule"),
        ("wamid.4", "my rash"),
    ]
    assert {(m.from_address, m.to_address) for m in inbound} == {("+15551230002", "+15550001111")}


def test_whatsapp_non_object_is_malformed(whatsapp) -> None:
    with pytest.raises(MalformedWebhook):
        whatsapp.parse_status(json_request([1, 2]))


def test_whatsapp_subscription_handshake(whatsapp) -> None:
    from outreach.channels import InvalidSignature

    query = {"hub.mode": "subscribe", "hub.verify_token": "subscribe-me", "hub.challenge": "42"}
    assert whatsapp.answer_subscription(query) == "42"
    with pytest.raises(InvalidSignature):
        whatsapp.answer_subscription({**query, "hub.verify_token": "guess"})
