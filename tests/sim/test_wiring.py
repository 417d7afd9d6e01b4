"""The demo's wiring: one Settings drives the channels and a simulator that agrees."""

from __future__ import annotations

import time

import pytest

from outreach.channels import OutboundMessage, load_channels
from outreach.config import Settings
from outreach.domain import BUILTIN_CHANNELS
from outreach.sim.provider import (
    SimServerThread,
    free_port,
    generate_sendgrid_keypair,
    sim_config_for,
)
from outreach.sim.provider.recorder import WebhookRecorder


def test_settings_and_simulator_agree_end_to_end(recorder: WebhookRecorder) -> None:
    private_pem, public_key = generate_sendgrid_keypair()
    port = free_port()
    sim_url = f"http://127.0.0.1:{port}"
    settings = Settings(
        public_base_url=recorder.base_url,
        twilio_auth_token="demo-token",
        twilio_base_url=sim_url,
        sendgrid_api_key="SG.demo",
        sendgrid_host=sim_url,
        sendgrid_webhook_public_key=public_key,
        whatsapp_token="demo-wa",
        whatsapp_base_url=sim_url,
        whatsapp_app_secret="demo-secret",
    )
    config = sim_config_for(
        settings,
        private_pem,
        callback_delay_ms=5,
        outcomes={"delivered": 1, "failed": 0, "bounced": 0, "undelivered": 0},
    )
    channels = load_channels(settings, names=BUILTIN_CHANNELS)

    with SimServerThread(config, port=port):
        receipts = {
            name: channel.send(
                OutboundMessage(job_id=f"job-{name}", channel=name, to=to, body="See you at 9")
            )
            for name, channel, to in [
                ("sms", channels["sms"], "+15551230101"),
                ("email", channels["email"], "demo@example.com"),
                ("whatsapp", channels["whatsapp"], "+15551230102"),
            ]
        }
        for name, receipt in receipts.items():
            channel = channels[name]
            # Under load the simulator may batch "sent" and "delivered" into one POST: wait
            # for the statuses, not for a number of webhooks.
            deadline = time.monotonic() + 10
            statuses: set[str] = set()
            while "delivered" not in statuses and time.monotonic() < deadline:
                statuses = set()
                for webhook in recorder.wait_for(
                    lambda w, r=receipt: r.provider_message_id.encode() in w.body
                ):
                    request = webhook.webhook_request(recorder.base_url)
                    channel.verify(request)
                    parsed = channel.parse_status(request)
                    assert {s.provider_message_id for s in parsed} == {receipt.provider_message_id}
                    statuses |= {s.status for s in parsed}
                time.sleep(0.05)
            assert "delivered" in statuses, (name, statuses)


def test_a_mismatched_sendgrid_key_is_refused_up_front() -> None:
    _, public_key = generate_sendgrid_keypair()
    other_private, _ = generate_sendgrid_keypair()

    with pytest.raises(ValueError, match="does not pair"):
        sim_config_for(Settings(sendgrid_webhook_public_key=public_key), other_private)
