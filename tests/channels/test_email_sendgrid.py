"""The SendGrid channel puts a marketing e-mail's one-click unsubscribe link in the mail's
headers (RFC 8058), as SendGrid's API takes them; the simulator records what arrived."""

from __future__ import annotations

import uuid

import httpx

from outreach.channels import ChannelWorker, OutboundMessage

LINK = "https://api.clinic.example/api/v1/unsubscribe/eyJwIjoxfQ.c2lnbmF0dXJl"


def send(channel: ChannelWorker, sim_client: httpx.Client, unsubscribe_url: str | None) -> dict:
    receipt = channel.send(
        OutboundMessage(
            job_id=f"job-{uuid.uuid4().hex[:8]}",
            channel="email",
            to="ana@example.com",
            subject="Time for your check-up",
            body="Book here",
            unsubscribe_url=unsubscribe_url,
        )
    )
    [recorded] = [
        m
        for m in sim_client.get("/_sim/messages", params={"channel": "email"}).json()
        if m["id"] == receipt.provider_message_id
    ]
    return recorded


def test_a_marketing_mail_carries_one_click_unsubscribe_headers(
    channels: dict[str, ChannelWorker], sim_client: httpx.Client
) -> None:
    recorded = send(channels["email"], sim_client, LINK)
    assert recorded["headers"] == {
        "List-Unsubscribe": f"<{LINK}>",
        "List-Unsubscribe-Post": "List-Unsubscribe=One-Click",
    }


def test_other_mail_carries_none(
    channels: dict[str, ChannelWorker], sim_client: httpx.Client
) -> None:
    assert send(channels["email"], sim_client, None)["headers"] == {}
