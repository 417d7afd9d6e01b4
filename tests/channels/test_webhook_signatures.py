"""Signature checks: genuine requests pass, everything else raises InvalidSignature and nothing
else, and a channel without its secret refuses every webhook."""

from __future__ import annotations

import hashlib
import hmac
import json

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from twilio.request_validator import RequestValidator

from outreach.channels import InvalidSignature, WebhookRequest
from outreach.channels.email_sendgrid import SendGridEmailChannel
from outreach.channels.sms_twilio import TwilioSmsChannel
from outreach.channels.whatsapp_cloud import WhatsAppCloudChannel
from outreach.config import Settings
from outreach.sim.provider.signing import (
    generate_sendgrid_private_key,
    public_key_b64,
    public_key_pem,
    sendgrid_signature,
)

SENDGRID_KEY = generate_sendgrid_private_key()
SETTINGS = Settings(
    twilio_auth_token="twilio-token",
    sendgrid_api_key="SG.key",
    sendgrid_webhook_public_key=public_key_b64(SENDGRID_KEY),
    whatsapp_token="wa-token",
    whatsapp_app_secret="app-secret",
)
URL = "https://api.clinic.example/webhooks/twilio/status?job_id=j1"
SIGNATURE_HEADERS = [
    "X-Twilio-Signature",
    "X-Twilio-Email-Event-Webhook-Signature",
    "X-Twilio-Email-Event-Webhook-Timestamp",
    "X-Hub-Signature-256",
    "Content-Type",
]
CHANNELS = {
    "sms": TwilioSmsChannel.from_settings(SETTINGS),
    "email": SendGridEmailChannel.from_settings(SETTINGS),
    "whatsapp": WhatsAppCloudChannel.from_settings(SETTINGS),
}


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    name=st.sampled_from(sorted(CHANNELS)),
    headers=st.dictionaries(st.sampled_from(SIGNATURE_HEADERS), st.text(max_size=300)),
    body=st.binary(max_size=500),
    url=st.sampled_from([URL, "", "not a url", "http://[::1", "https://x/?bodySHA256=zz"]),
)
def test_forged_webhooks_raise_invalid_signature_only(name, headers, body, url) -> None:
    with pytest.raises(InvalidSignature):
        CHANNELS[name].verify(WebhookRequest(url=url, headers=headers, body=body))


def test_twilio_accepts_what_its_sdk_signs_with_or_without_port() -> None:
    params = {"MessageSid": "SM1", "MessageStatus": "delivered", "To": "+15551230001"}
    body = "&".join(f"{k}={v.replace('+', '%2B')}" for k, v in params.items()).encode()
    validator = RequestValidator("twilio-token")
    for signed_url, called_url in [(URL, URL), (URL.replace(".example/", ".example:443/"), URL)]:
        signature = validator.compute_signature(signed_url, params)
        request = WebhookRequest(
            url=called_url, headers={"x-twilio-signature": signature}, body=body
        )
        CHANNELS["sms"].verify(request)


def test_twilio_json_webhooks_sign_a_body_hash() -> None:
    body = json.dumps({"MessageSid": "SM1"})
    url = f"{URL}&bodySHA256={hashlib.sha256(body.encode()).hexdigest()}"
    signature = RequestValidator("twilio-token").compute_signature(url, {})
    CHANNELS["sms"].verify(
        WebhookRequest(url=url, headers={"X-Twilio-Signature": signature}, body=body.encode())
    )
    with pytest.raises(InvalidSignature):
        CHANNELS["sms"].verify(
            WebhookRequest(url=url, headers={"X-Twilio-Signature": signature}, body=b"{}")
        )


def sendgrid_request(body: bytes, timestamp: str = "1700000000", key=SENDGRID_KEY):
    return WebhookRequest(
        url="https://api.clinic.example/webhooks/sendgrid/events",
        headers={
            "X-Twilio-Email-Event-Webhook-Signature": sendgrid_signature(key, timestamp, body),
            "X-Twilio-Email-Event-Webhook-Timestamp": timestamp,
        },
        body=body,
    )


def test_sendgrid_accepts_a_signed_batch_with_its_trailing_crlf() -> None:
    body = b'[{"event":"delivered","sg_message_id":"abc.filter"}]\r\n'
    CHANNELS["email"].verify(sendgrid_request(body))


def test_sendgrid_key_may_be_configured_as_pem() -> None:
    channel = SendGridEmailChannel.from_settings(
        SETTINGS.model_copy(update={"sendgrid_webhook_public_key": public_key_pem(SENDGRID_KEY)})
    )
    channel.verify(sendgrid_request(b"[]"))


def test_sendgrid_refuses_another_key_and_a_moved_timestamp() -> None:
    body = b"[]"
    with pytest.raises(InvalidSignature):
        CHANNELS["email"].verify(sendgrid_request(body, key=generate_sendgrid_private_key()))
    moved = sendgrid_request(body)
    headers = {**moved.headers, "X-Twilio-Email-Event-Webhook-Timestamp": "1700000001"}
    with pytest.raises(InvalidSignature):
        CHANNELS["email"].verify(WebhookRequest(url=moved.url, headers=headers, body=body))


def test_meta_signature_is_hmac_sha256_hex_of_the_raw_body() -> None:
    body = b'{"object":"whatsapp_business_account","entry":[],"note":"caf\\u00e9 \\/"}'
    digest = hmac.new(b"app-secret", body, hashlib.sha256).hexdigest()
    for header in (f"sha256={digest}", f"sha256={digest.upper()}"):
        CHANNELS["whatsapp"].verify(
            WebhookRequest(url="https://x/", headers={"X-Hub-Signature-256": header}, body=body)
        )
    reencoded = json.dumps(json.loads(body)).encode()  # same JSON, other bytes
    with pytest.raises(InvalidSignature):
        CHANNELS["whatsapp"].verify(
            WebhookRequest(
                url="https://x/",
                headers={"X-Hub-Signature-256": f"sha256={digest}"},
                body=reencoded,
            )
        )


def test_channels_without_their_webhook_secret_refuse_everything() -> None:
    bare = Settings(twilio_auth_token="t", sendgrid_api_key="k", whatsapp_token="w")
    body = b"[]"
    sendgrid = SendGridEmailChannel.from_settings(bare)
    whatsapp = WhatsAppCloudChannel.from_settings(bare)
    with pytest.raises(InvalidSignature):
        sendgrid.verify(sendgrid_request(body))
    signature = "sha256=" + hmac.new(b"", body, hashlib.sha256).hexdigest()
    with pytest.raises(InvalidSignature):
        whatsapp.verify(
            WebhookRequest(url="https://x/", headers={"X-Hub-Signature-256": signature}, body=body)
        )
