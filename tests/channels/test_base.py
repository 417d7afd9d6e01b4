from datetime import UTC, datetime

from outreach.channels import InboundMessage, OutboundMessage, WebhookRequest, WhatsAppTemplate
from outreach.channels.base import Headers


def test_outbound_repr_masks_address_and_body() -> None:
    message = OutboundMessage(
        job_id="job-1",
        channel="sms",
        to="+15551234567",
        body="Your lab results are ready",
        whatsapp_template=WhatsAppTemplate("lab_ready", "en_US", ("Ana",)),
    )

    text = repr(message)

    assert "job-1" in text
    assert "5551234567" not in text
    assert "lab results" not in text
    assert "Ana" not in text


def test_inbound_repr_masks_addresses_and_body() -> None:
    inbound = InboundMessage(
        provider="sendgrid",
        provider_message_id="m-1",
        channel="email",
        from_address="ana.perez@example.com",
        to_address="clinic@example.com",
        body="Please call me at home",
        received_at=datetime.now(UTC),
    )

    text = repr(inbound)

    assert "m-1" in text
    assert "ana.perez" not in text and "clinic@" not in text
    assert "call me" not in text


def test_webhook_request_headers_are_case_insensitive() -> None:
    request = WebhookRequest(
        url="http://x/", headers={"X-Hub-Signature-256": "sha256=ab"}, body=b""
    )

    assert request.headers["x-hub-signature-256"] == "sha256=ab"
    assert request.headers.get("X-HUB-SIGNATURE-256") == "sha256=ab"
    assert "x-HUB-signature-256" in request.headers
    assert list(request.headers) == ["X-Hub-Signature-256"]


def test_headers_keep_one_value_per_name() -> None:
    headers = Headers({"Content-Type": "a", "content-type": "b"})

    assert len(headers) == 1
    assert headers["CONTENT-TYPE"] == "b"
