"""The simulator's provider endpoints, spoken to over plain HTTP as the SDKs would."""

from __future__ import annotations

import time

import httpx
import pytest

from outreach.sim.provider import SimServerThread

TWILIO_AUTH = ("AC" + "0" * 32, "sim-twilio-auth-token")
TWILIO_PATH = f"/2010-04-01/Accounts/{TWILIO_AUTH[0]}/Messages.json"
WHATSAPP_PATH = "/v19.0/100000000000001/messages"


def twilio_send(client: httpx.Client, to: str, body: str = "hi", auth=TWILIO_AUTH, **extra):
    return client.post(
        TWILIO_PATH, data={"To": to, "From": "+15005550006", "Body": body, **extra}, auth=auth
    )


def sendgrid_send(client: httpx.Client, to: str, key: str = "SG.any", **payload):
    document = {
        "personalizations": [{"to": [{"email": to}]}],
        "from": {"email": "no-reply@clinic.example"},
        "subject": "Reminder",
        "content": [{"type": "text/plain", "value": "See you tomorrow"}],
        **payload,
    }
    return client.post("/v3/mail/send", json=document, headers={"Authorization": f"Bearer {key}"})


def whatsapp_send(client: httpx.Client, to: str, **payload):
    document = {
        "messaging_product": "whatsapp",
        "to": to,
        "type": "text",
        "text": {"body": "hi"},
        **payload,
    }
    return client.post(WHATSAPP_PATH, json=document, headers={"Authorization": "Bearer t"})


def test_twilio_accepts_and_answers_a_message_resource(sim_client) -> None:
    answer = twilio_send(sim_client, "+15551230001", StatusCallback="http://x/cb?job_id=j7")

    assert answer.status_code == 201
    resource = answer.json()
    assert resource["sid"].startswith("SM") and len(resource["sid"]) == 34
    assert resource["status"] == "queued" and resource["to"] == "+15551230001"
    [recorded] = sim_client.get("/_sim/messages", params={"to": "+1 555 123 0001"}).json()
    assert recorded["id"] == resource["sid"] and recorded["job_id"] == "j7"


@pytest.mark.parametrize(
    ("to", "body", "auth", "status", "code"),
    [
        ("+15551230001", "hi", ("AC" + "0" * 32, "wrong"), 401, 20003),
        ("+15551230001", "hi", ("ACother", "sim-twilio-auth-token"), 401, 20003),
        ("555-CALL-NOW", "hi", TWILIO_AUTH, 400, 21211),
        ("+15551230001", "", TWILIO_AUTH, 400, 21602),
        ("+15551230001", "x" * 1601, TWILIO_AUTH, 400, 21617),
    ],
)
def test_twilio_refusals(sim_client, to, body, auth, status, code) -> None:
    answer = twilio_send(sim_client, to, body, auth=auth)

    assert answer.status_code == status
    assert answer.json()["code"] == code
    assert answer.json()["more_info"].endswith(str(code))
    assert sim_client.get("/_sim/messages").json() == []


def test_opted_out_numbers_are_refused_by_twilio_and_dropped_by_sendgrid(sim_client) -> None:
    sim_client.post(
        "/_sim/config", json={"opted_out": ["+15551230009", "gone@example.com"]}
    ).raise_for_status()

    assert twilio_send(sim_client, "+15551230009").json()["code"] == 21610
    assert sendgrid_send(sim_client, "gone@example.com").status_code == 202
    deadline = time.monotonic() + 3
    while time.monotonic() < deadline:
        [mail] = sim_client.get("/_sim/messages", params={"channel": "email"}).json()
        if mail["status"] == "dropped":
            break
        time.sleep(0.01)
    assert mail["status"] == "dropped" and mail["error_code"] == "Unsubscribed Address"


def test_sendgrid_accepts_with_a_message_id_header(sim_client) -> None:
    answer = sendgrid_send(sim_client, "ana@example.com", custom_args={"job_id": "j1"})

    assert answer.status_code == 202 and answer.content == b""
    [recorded] = sim_client.get("/_sim/messages", params={"to": "ANA@example.com"}).json()
    assert recorded["id"] == answer.headers["X-Message-Id"]
    assert (recorded["subject"], recorded["body"], recorded["job_id"]) == (
        "Reminder",
        "See you tomorrow",
        "j1",
    )


@pytest.mark.parametrize(
    ("payload", "field"),
    [
        (
            {"personalizations": [{"to": [{"email": "not-an-address"}]}]},
            "personalizations.0.to.0.email",
        ),
        ({"from": {"email": ""}}, "from.email"),
        ({"content": []}, "content"),
        ({"personalizations": []}, "personalizations"),
    ],
)
def test_sendgrid_refuses_invalid_mail(sim_client, payload, field) -> None:
    answer = sendgrid_send(sim_client, "ana@example.com", **payload)

    assert answer.status_code == 400
    assert answer.json()["errors"][0]["field"] == field


def test_sendgrid_checks_the_api_key_when_configured(sim_client) -> None:
    sim_client.post("/_sim/config", json={"sendgrid_api_key": "SG.right"}).raise_for_status()

    assert sendgrid_send(sim_client, "ana@example.com", key="SG.wrong").status_code == 401
    assert sendgrid_send(sim_client, "ana@example.com", key="SG.right").status_code == 202


def test_whatsapp_answers_like_the_cloud_api(sim_client) -> None:
    answer = whatsapp_send(sim_client, "15551230002")

    assert answer.status_code == 200
    document = answer.json()
    assert document["messaging_product"] == "whatsapp"
    assert document["contacts"] == [{"input": "15551230002", "wa_id": "15551230002"}]
    assert document["messages"][0]["id"].startswith("wamid.")


@pytest.mark.parametrize(
    ("payload", "headers", "code"),
    [
        ({}, {"Authorization": "Bearer t"}, None),
        ({"messaging_product": "sms"}, {"Authorization": "Bearer t"}, 100),
        ({"to": "abc"}, {"Authorization": "Bearer t"}, 100),
        ({"type": "sticker"}, {"Authorization": "Bearer t"}, 100),
        ({}, {}, 190),
    ],
)
def test_whatsapp_refusals(sim_client, payload, headers, code) -> None:
    document = {
        "messaging_product": "whatsapp",
        "to": "15551230002",
        "type": "text",
        "text": {"body": "hi"},
        **payload,
    }
    answer = sim_client.post(WHATSAPP_PATH, json=document, headers=headers)

    if code is None:
        assert answer.status_code == 200
        return
    error = answer.json()["error"]
    assert error["code"] == code and error["fbtrace_id"] and error["type"] == "OAuthException"


def test_latency_delays_answers_without_blocking_others(sim_client, sim: SimServerThread) -> None:
    sim_client.post("/_sim/config", json={"latency_ms": 300}).raise_for_status()
    started = time.monotonic()
    with httpx.Client(base_url=sim.base_url) as other:
        import concurrent.futures

        with concurrent.futures.ThreadPoolExecutor(8) as pool:
            answers = list(pool.map(lambda i: whatsapp_send(other, f"1555123000{i}"), range(8)))
    elapsed = time.monotonic() - started

    assert all(a.status_code == 200 for a in answers)
    assert 0.3 <= elapsed < 1.5  # eight concurrent 300 ms answers, not 2.4 s


def test_outage_window_in_the_past_or_future_does_not_apply(sim_client) -> None:
    sim_client.post(
        "/_sim/config",
        json={
            "outage_from": "2000-01-01T00:00:00Z",
            "outage_until": "2000-01-02T00:00:00Z",
        },
    ).raise_for_status()
    assert twilio_send(sim_client, "+15551230001").status_code == 201

    sim_client.post(
        "/_sim/config",
        json={
            "outage_from": "2000-01-01T00:00:00",
            "outage_until": None,
            "outage_channels": ["sms"],
        },
    ).raise_for_status()
    assert twilio_send(sim_client, "+15551230001").json()["code"] == 20503
    assert whatsapp_send(sim_client, "15551230002").status_code == 200


def test_records_are_queryable_and_clearable(sim_client) -> None:
    twilio_send(sim_client, "+15551230001")
    sendgrid_send(sim_client, "ana@example.com")
    whatsapp_send(sim_client, "15551230002")

    assert len(sim_client.get("/_sim/messages").json()) == 3
    assert [
        m["channel"] for m in sim_client.get("/_sim/messages", params={"channel": "email"}).json()
    ] == ["email"]
    stats = sim_client.get("/_sim/stats").json()
    assert stats["counters"] == {"outbound.sms": 1, "outbound.email": 1, "outbound.whatsapp": 1}

    sim_client.delete("/_sim/messages").raise_for_status()
    assert sim_client.get("/_sim/messages").json() == []


def test_config_changes_are_validated_and_secrets_stay_hidden(sim_client) -> None:
    assert sim_client.post("/_sim/config", json={"error_rate": 2}).status_code == 422
    assert sim_client.post("/_sim/config", json={"no_such_knob": 1}).status_code == 422
    assert sim_client.post("/_sim/config", json=[1]).status_code == 422

    config = sim_client.post("/_sim/config", json={"outcomes": {"delivered": 1}}).json()

    assert config["outcomes"]["delivered"] == 1 and config["outcomes"]["failed"] == 0.02
    assert config["twilio_auth_token"] == "***" and config["sendgrid_private_key_pem"] == "***"


def test_keys_expose_the_sendgrid_verification_key(sim_client) -> None:
    keys = sim_client.get("/_sim/keys").json()

    assert keys["sendgrid_public_key_pem"].startswith("-----BEGIN PUBLIC KEY-----")
    assert keys["sendgrid_public_key"] in keys["sendgrid_public_key_pem"].replace("\n", "")
