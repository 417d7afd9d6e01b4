"""The simulator's webhooks: signed as the providers sign them (checked with the providers' own
SDK helpers), retried within bounds, never holding up sends, and carrying patients' replies."""

from __future__ import annotations

import hashlib
import hmac
import json
import socket
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from urllib.parse import parse_qsl

import httpx
import pytest
from sendgrid.helpers.eventwebhook import EventWebhook
from twilio.request_validator import RequestValidator

from outreach.channels import load_channels
from outreach.sim.provider.recorder import WebhookRecorder

ACCOUNT = "AC" + "0" * 32
TWILIO_PATH = f"/2010-04-01/Accounts/{ACCOUNT}/Messages.json"
ONLY_DELIVERED = {"delivered": 1, "failed": 0, "bounced": 0, "undelivered": 0}
NO_FINAL_REPORT = {"delivered": 0, "failed": 0, "bounced": 0, "undelivered": 0}


def configure(sim_client: httpx.Client, **patch: object) -> None:
    sim_client.post("/_sim/config", json=patch).raise_for_status()


def send_sms(sim_client, recorder, to="+15551230001", job_id="job-1"):
    callback = f"{recorder.base_url}/webhooks/twilio/status?job_id={job_id}"
    answer = sim_client.post(
        TWILIO_PATH,
        data={"To": to, "From": "+15005550006", "Body": "hi", "StatusCallback": callback},
        auth=(ACCOUNT, "sim-twilio-auth-token"),
    )
    answer.raise_for_status()
    return answer.json()["sid"]


def send_email(sim_client, to="ana@example.com", job_id="job-2"):
    answer = sim_client.post(
        "/v3/mail/send",
        headers={"Authorization": "Bearer SG.x"},
        json={
            "personalizations": [{"to": [{"email": to}]}],
            "from": {"email": "no-reply@clinic.example"},
            "subject": "Hi",
            "content": [{"type": "text/plain", "value": "hello"}],
            "custom_args": {"job_id": job_id},
        },
    )
    answer.raise_for_status()
    return answer.headers["X-Message-Id"]


def send_whatsapp(client: httpx.Client, to="15551230002"):
    answer = client.post(
        "/v19.0/100000000000001/messages",
        headers={"Authorization": "Bearer t"},
        json={"messaging_product": "whatsapp", "to": to, "type": "text", "text": {"body": "hi"}},
    )
    answer.raise_for_status()
    return answer.json()["messages"][0]["id"]


def test_twilio_callbacks_pass_twilios_own_validator(sim_client, recorder) -> None:
    configure(sim_client, outcomes=ONLY_DELIVERED)
    sid = send_sms(sim_client, recorder)

    webhooks = recorder.wait_for(lambda w: sid.encode() in w.body, count=2)

    validator = RequestValidator("sim-twilio-auth-token")
    for webhook in webhooks:
        params = dict(parse_qsl(webhook.body.decode()))
        assert validator.validate(
            recorder.base_url + webhook.path, params, webhook.headers["X-Twilio-Signature"]
        )
        assert params["AccountSid"] == ACCOUNT
    assert sorted(dict(parse_qsl(w.body.decode()))["MessageStatus"] for w in webhooks) == [
        "delivered",
        "sent",
    ]


def test_twilio_reports_the_price_on_the_final_status(sim_client, recorder) -> None:
    configure(sim_client, outcomes=ONLY_DELIVERED, prices={"sms": 0.0079})
    sid = send_sms(sim_client, recorder)

    webhooks = recorder.wait_for(lambda w: sid.encode() in w.body, count=2)

    fields = {
        dict(parse_qsl(w.body.decode()))["MessageStatus"]: dict(parse_qsl(w.body.decode()))
        for w in webhooks
    }
    assert (fields["delivered"]["Price"], fields["delivered"]["PriceUnit"]) == ("-0.00790", "USD")
    assert "Price" not in fields["sent"]


def test_an_email_carries_its_attachments_and_every_recipient(sim_client) -> None:
    answer = sim_client.post(
        "/v3/mail/send",
        headers={"Authorization": "Bearer SG.x"},
        json={
            "personalizations": [{"to": [{"email": "a@clinic.example"}, {"email": "b@c.example"}]}],
            "from": {"email": "no-reply@clinic.example"},
            "subject": "Report",
            "content": [{"type": "text/plain", "value": "attached"}],
            "attachments": [{"content": "PGh0bWw+", "type": "text/html", "filename": "r.html"}],
        },
    )
    assert answer.status_code == 202
    mails = sim_client.get("/_sim/messages").json()
    assert sorted(m["to"] for m in mails) == ["a@clinic.example", "b@c.example"]
    assert mails[0]["attachments"] == [
        {"filename": "r.html", "type": "text/html", "content": "PGh0bWw+"}
    ]


def test_sendgrid_events_pass_sendgrids_own_verifier(sim_client, recorder) -> None:
    configure(sim_client, outcomes=ONLY_DELIVERED)
    message_id = send_email(sim_client)
    public_key = sim_client.get("/_sim/keys").json()["sendgrid_public_key"]

    webhooks = recorder.wait_for(lambda w: message_id.encode() in w.body, count=1)

    verifier = EventWebhook(public_key)
    events = []
    for webhook in webhooks:
        assert webhook.body.endswith(b"]\r\n")
        assert verifier.verify_signature(
            webhook.body.decode(),
            webhook.headers["X-Twilio-Email-Event-Webhook-Signature"],
            webhook.headers["X-Twilio-Email-Event-Webhook-Timestamp"],
        )
        events += json.loads(webhook.body)
    assert {e["sg_message_id"].split(".")[0] for e in events} == {message_id}
    assert all(e["job_id"] == "job-2" and e["email"] == "ana@example.com" for e in events)


def test_whatsapp_statuses_carry_metas_hmac(sim_client, recorder) -> None:
    wamid = send_whatsapp(sim_client)

    [webhook] = recorder.wait_for(lambda w: b'"sent"' in w.body and wamid.encode() in w.body)

    expected = hmac.new(b"sim-whatsapp-app-secret", webhook.body, hashlib.sha256).hexdigest()
    assert webhook.headers["X-Hub-Signature-256"] == f"sha256={expected}"
    document = json.loads(webhook.body)
    assert document["object"] == "whatsapp_business_account"
    # A post may carry the next status too (the simulator batches, as Meta does).
    statuses = document["entry"][0]["changes"][0]["value"]["statuses"]
    [status] = [s for s in statuses if s["status"] == "sent"]
    assert (status["id"], status["recipient_id"]) == (wamid, "15551230002")


def test_events_are_batched_into_fewer_posts(sim_client, recorder, sim) -> None:
    configure(sim_client, outcomes=ONLY_DELIVERED)
    ids = {send_email(sim_client, to=f"p{i}@example.com") for i in range(60)}

    def events() -> list[dict]:
        posted = [w for w in recorder.snapshot() if w.route == "/webhooks/sendgrid/events"]
        return [e for w in posted for e in json.loads(w.body)], posted

    deadline = time.monotonic() + 5
    while len(events()[0]) < 120 and time.monotonic() < deadline:
        time.sleep(0.02)
    found, posts = events()

    assert {e["sg_message_id"].split(".")[0] for e in found} == ids
    assert len(found) == 120 and len(posts) < 120


def test_failed_callbacks_are_retried_within_bounds(sim_client, recorder, sim) -> None:
    configure(sim_client, callback_max_attempts=3, outcomes=NO_FINAL_REPORT)
    recorder.respond_with = [500, 503]
    wamid = send_whatsapp(sim_client)

    webhooks = recorder.wait_for(
        lambda w: wamid.encode() in w.body and b'"sent"' in w.body, count=3
    )

    assert len(webhooks) == 3  # two refusals, then the accepted delivery
    assert sim.state.dispatcher.counters["retried"] >= 2


def test_a_refused_signature_is_not_retried(sim_client, recorder, sim) -> None:
    configure(sim_client, outcomes=NO_FINAL_REPORT)
    recorder.respond_with = [403]
    wamid = send_whatsapp(sim_client)

    recorder.wait_for(lambda w: wamid.encode() in w.body)
    time.sleep(0.2)

    assert len([w for w in recorder.snapshot() if wamid.encode() in w.body]) == 1
    assert sim.state.dispatcher.counters["rejected"] == 1


@pytest.fixture
def blackhole() -> Iterator[str]:
    """A port that accepts connections and never answers: the slowest receiver there is."""
    with socket.socket() as listener:
        listener.bind(("127.0.0.1", 0))
        listener.listen(512)
        yield f"http://127.0.0.1:{listener.getsockname()[1]}"


def test_a_stuck_receiver_does_not_slow_sends(sim_client, sim, blackhole) -> None:
    configure(
        sim_client,
        webhook_base_url=blackhole,
        callback_timeout_s=0.3,
        callback_delay_ms=0,
        callback_max_attempts=1,
    )
    started = time.monotonic()
    with httpx.Client(base_url=sim.base_url) as client, ThreadPoolExecutor(8) as pool:
        ids = list(pool.map(lambda i: send_whatsapp(client, f"155512{i:05d}"), range(200)))
    elapsed = time.monotonic() - started

    assert len(set(ids)) == 200
    assert elapsed < 3.0, f"200 sends took {elapsed:.1f}s behind a stuck receiver"


def test_patients_reply_automatically_after_delivery(sim_client, recorder, settings) -> None:
    configure(
        sim_client,
        outcomes=ONLY_DELIVERED,
        auto_replies=[{"body": "C", "rate": 1.0, "channels": ["sms"], "delay_ms": 0}],
    )
    sms = load_channels(settings, names=["sms"])["sms"]
    send_sms(sim_client, recorder, to="+15551230077")

    [webhook] = recorder.wait_for(lambda w: w.route == "/webhooks/twilio/inbound")
    request = webhook.webhook_request(recorder.base_url)
    sms.verify(request)
    [reply] = sms.parse_inbound(request)

    assert (reply.from_address, reply.to_address, reply.body) == (
        "+15551230077",
        "+15005550006",
        "C",
    )
    inbound = sim_client.get("/_sim/messages", params={"direction": "inbound"}).json()
    assert [m["body"] for m in inbound] == ["C"]


def test_whatsapp_button_reply_on_demand(sim_client, recorder, settings) -> None:
    whatsapp = load_channels(settings, names=["whatsapp"])["whatsapp"]
    answer = sim_client.post(
        "/_sim/inbound",
        json={
            "channel": "whatsapp",
            "from": "+15551230002",
            "to": "+15550001111",
            "body": "Confirm",
            "button_payload": "CONFIRM",
            "context_id": "wamid.original",
        },
    ).json()

    [webhook] = recorder.wait_for(lambda w: answer["id"].encode() in w.body)
    request = webhook.webhook_request(recorder.base_url)
    whatsapp.verify(request)
    [reply] = whatsapp.parse_inbound(request)

    assert (reply.provider_message_id, reply.body) == (answer["id"], "Confirm")
    item = json.loads(webhook.body)["entry"][0]["changes"][0]["value"]["messages"][0]
    assert item["button"]["payload"] == "CONFIRM" and item["context"]["id"] == "wamid.original"


def test_inbound_to_an_absent_api_reports_no_delivery(sim_client, blackhole) -> None:
    configure(
        sim_client,
        webhook_base_url=blackhole,
        callback_timeout_s=0.2,
        callback_max_attempts=2,
        callback_retry_backoff_ms=10,
    )

    answer = sim_client.post(
        "/_sim/inbound",
        json={"channel": "sms", "from": "+15551230002", "to": "+15005550006", "body": "STOP"},
    ).json()

    assert answer["delivered"] is False and answer["status_code"] is None
    assert (
        sim_client.post(
            "/_sim/inbound", json={"channel": "Fax!", "from": "a", "to": "b", "body": "x"}
        ).status_code
        == 422
    )


def test_recorder_helper_keeps_requests(recorder: WebhookRecorder) -> None:
    httpx.post(recorder.base_url + "/webhooks/x?y=1", content=b"body")

    [webhook] = recorder.wait_for()

    assert (webhook.route, webhook.path, webhook.body) == (
        "/webhooks/x",
        "/webhooks/x?y=1",
        b"body",
    )
