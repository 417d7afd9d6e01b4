"""The contract every registered channel keeps, checked through the real SDKs against the
provider simulator: sends arrive, provider errors become the right error types, and the
simulator's signed webhooks verify and parse.

A channel registered in ``outreach.channels`` without a case below fails here on purpose: a new
channel brings its case along.
"""

from __future__ import annotations

import logging
import time
import uuid
from dataclasses import dataclass, replace

import httpx
import pytest

from outreach.channels import (
    ChannelWorker,
    InvalidSignature,
    OutboundMessage,
    PermanentSendError,
    TransientSendError,
    WebhookRequest,
    available_channels,
)
from outreach.channels.registry import channel_classes
from outreach.domain import JobStatus
from outreach.sim.provider.recorder import RecordedWebhook, WebhookRecorder
from outreach.sim.provider.store import address_key


@dataclass(frozen=True)
class ContractCase:
    address: str  # where test messages go
    our_address: str  # the clinic's sender address for this channel
    permanent_code: int  # a code the simulator is told to answer, and the channel must call final
    transient_code: int  # a code it must call worth retrying
    undelivered_status: str  # the normalised status of a message the network could not deliver
    signature_header: str
    echoes_job_id: bool  # whether status reports carry our job id back
    signs_url: bool  # whether the signature covers the URL called (else only the body)


CASES = {
    "sms": ContractCase(
        address="+15551230001",
        our_address="+15005550006",
        permanent_code=21610,
        transient_code=20429,
        undelivered_status="failed",
        signature_header="X-Twilio-Signature",
        echoes_job_id=True,
        signs_url=True,
    ),
    "email": ContractCase(
        address="patient.one@example.com",
        our_address="no-reply@clinic.example",
        permanent_code=400,
        transient_code=429,
        undelivered_status="bounced",
        signature_header="X-Twilio-Email-Event-Webhook-Signature",
        echoes_job_id=True,
        signs_url=False,
    ),
    "whatsapp": ContractCase(
        address="+15551230002",
        our_address="+15550001111",
        permanent_code=131026,
        transient_code=130429,
        undelivered_status="failed",
        signature_header="X-Hub-Signature-256",
        echoes_job_id=False,
        signs_url=False,
    ),
}

CHANNEL_NAMES = sorted(available_channels())
ONLY_DELIVERED = {"delivered": 1, "failed": 0, "bounced": 0, "undelivered": 0}
ONLY_BOUNCED = {"delivered": 0, "failed": 0, "bounced": 1, "undelivered": 0}


@pytest.fixture(params=CHANNEL_NAMES)
def name(request: pytest.FixtureRequest) -> str:
    return request.param


@pytest.fixture
def case(name: str) -> ContractCase:
    if name not in CASES:
        pytest.fail(f"channel {name!r} is registered but has no ContractCase in {__name__}")
    return CASES[name]


@pytest.fixture
def channel(name: str, channels: dict[str, ChannelWorker]) -> ChannelWorker:
    return channels[name]


def message_for(name: str, case: ContractCase, body: str = "Your appointment is tomorrow 9:00"):
    return OutboundMessage(
        job_id=f"job-{uuid.uuid4().hex[:12]}",
        channel=name,
        to=case.address,
        body=body,
        subject="Appointment reminder" if name == "email" else None,
        idempotency_key=uuid.uuid4().hex,
    )


def configure(sim_client: httpx.Client, **patch: object) -> None:
    sim_client.post("/_sim/config", json=patch).raise_for_status()


def mentions(webhook: RecordedWebhook, provider_message_id: str) -> bool:
    return provider_message_id.encode() in webhook.body


def status_webhooks(
    recorder: WebhookRecorder, channel: ChannelWorker, provider_message_id: str, count: int
) -> list[RecordedWebhook]:
    """The status webhooks about a message once they carry ``count`` statuses between them.

    Providers batch events (SendGrid always, WhatsApp often), so two statuses may arrive in one
    POST or in two, depending on timing: count statuses, not posts.
    """
    deadline = time.monotonic() + 10.0
    while True:
        webhooks = [
            w
            for w in recorder.snapshot()
            if w.route == channel.status_webhook_path and mentions(w, provider_message_id)
        ]
        if len(parsed_statuses(channel, recorder, webhooks, provider_message_id)) >= count:
            return webhooks
        if time.monotonic() > deadline:
            raise AssertionError(f"expected {count} status(es) about the message by now")
        time.sleep(0.02)


def parsed_statuses(channel, recorder, webhooks, provider_message_id):
    statuses = []
    for webhook in webhooks:
        request = webhook.webhook_request(recorder.base_url)
        channel.verify(request)
        statuses += [
            s for s in channel.parse_status(request) if s.provider_message_id == provider_message_id
        ]
    return statuses


def test_declares_its_capabilities(name: str) -> None:
    cls = channel_classes([name])[name]
    assert cls.name == name
    assert cls.max_body_chars > 0
    assert isinstance(cls.supports_phi, bool)
    assert cls.default_rate_per_sec > 0
    assert cls.status_webhook_path.startswith("/webhooks/")
    assert cls.inbound_webhook_path.startswith("/webhooks/")


def test_send_reaches_the_simulator(name, case, channel, sim_client) -> None:
    message = message_for(name, case)

    receipt = channel.send(message)

    assert receipt.provider == channel.provider
    recorded = sim_client.get("/_sim/messages", params={"channel": name}).json()
    assert [r["id"] for r in recorded] == [receipt.provider_message_id]
    assert address_key(recorded[0]["to"]) == address_key(case.address)
    assert recorded[0]["body"] == message.body
    if case.echoes_job_id:
        assert recorded[0]["job_id"] == message.job_id


def test_forced_permanent_error_raises_permanent(name, case, channel, sim_client) -> None:
    configure(sim_client, forced_errors_by_address={case.address: case.permanent_code})

    with pytest.raises(PermanentSendError) as raised:
        channel.send(message_for(name, case))

    assert raised.value.provider_code == str(case.permanent_code)
    assert not raised.value.retryable
    assert sim_client.get("/_sim/messages").json() == []


def test_forced_transient_error_raises_transient(name, case, channel, sim_client) -> None:
    configure(sim_client, forced_errors_by_channel={name: case.transient_code})

    with pytest.raises(TransientSendError) as raised:
        channel.send(message_for(name, case))

    assert raised.value.provider_code == str(case.transient_code)
    assert raised.value.retryable


def test_random_provider_errors_are_transient(name, case, channel, sim_client) -> None:
    configure(sim_client, error_rate=1.0)

    for _ in range(4):  # both of the simulator's random errors (429 and 500) show up
        with pytest.raises(TransientSendError):
            channel.send(message_for(name, case))


def test_outage_is_transient_and_ends(name, case, channel, sim_client) -> None:
    configure(sim_client, outage_seconds=60)
    with pytest.raises(TransientSendError):
        channel.send(message_for(name, case))

    configure(sim_client, outage_seconds=0)
    assert channel.send(message_for(name, case)).provider_message_id


def test_unreachable_provider_is_transient(name, case, settings) -> None:
    from outreach.sim.provider import free_port

    closed = f"http://127.0.0.1:{free_port()}"
    offline = settings.model_copy(
        update={"twilio_base_url": closed, "sendgrid_host": closed, "whatsapp_base_url": closed}
    )
    worker = channel_classes([name])[name].from_settings(offline)

    with pytest.raises(TransientSendError) as raised:
        worker.send(message_for(name, case))

    assert raised.value.provider_code == "connection"


def test_signed_delivery_reports_verify_and_parse(name, case, channel, sim_client, recorder):
    configure(sim_client, outcomes=ONLY_DELIVERED)
    message = message_for(name, case)
    receipt = channel.send(message)

    webhooks = status_webhooks(recorder, channel, receipt.provider_message_id, count=2)
    statuses = parsed_statuses(channel, recorder, webhooks, receipt.provider_message_id)

    assert {s.status for s in statuses} == {JobStatus.SENT, JobStatus.DELIVERED}
    assert all(s.provider == channel.provider for s in statuses)
    if case.echoes_job_id:
        assert {s.job_id for s in statuses} == {message.job_id}


def test_undelivered_report_maps_to_a_side_exit(name, case, channel, sim_client, recorder):
    configure(sim_client, outcomes=ONLY_BOUNCED)
    receipt = channel.send(message_for(name, case))

    webhooks = status_webhooks(recorder, channel, receipt.provider_message_id, count=2)
    statuses = parsed_statuses(channel, recorder, webhooks, receipt.provider_message_id)

    final = [s for s in statuses if s.status != JobStatus.SENT]
    assert [s.status for s in final] == [case.undelivered_status]
    assert final[0].error_code


def test_tampered_or_unsigned_webhooks_are_refused(name, case, channel, sim_client, recorder):
    receipt = channel.send(message_for(name, case))
    webhook = status_webhooks(recorder, channel, receipt.provider_message_id, count=1)[0]
    genuine = webhook.webhook_request(recorder.base_url)
    channel.verify(genuine)

    middle = len(genuine.body) // 2
    flipped_byte = (
        genuine.body[:middle] + bytes([genuine.body[middle] ^ 1]) + genuine.body[middle + 1 :]
    )
    headers = dict(genuine.headers)
    signature = headers[case.signature_header]
    # A character in the middle: all its bits are data (the last ones may be base64 padding).
    flipped = signature[:10] + ("1" if signature[10] == "0" else "0") + signature[11:]
    unsigned = {k: v for k, v in headers.items() if k.lower() != case.signature_header.lower()}

    forgeries = [
        replace(genuine, body=flipped_byte),
        replace(genuine, body=genuine.body + b" "),
        replace(genuine, headers={**headers, case.signature_header: flipped}),
        replace(genuine, headers=unsigned),
        replace(genuine, headers={**headers, case.signature_header: "x" * 10_000}),
        replace(genuine, headers={**headers, case.signature_header: "sha256=é∂ƒ"}),
        replace(genuine, body=b""),
    ]
    if case.signs_url:
        forgeries.append(replace(genuine, url=genuine.url.replace("/webhooks/", "/webhooks/x/")))
    for forged in forgeries:
        with pytest.raises(InvalidSignature):
            channel.verify(forged)


def test_patient_reply_verifies_and_parses(name, case, channel, sim_client, recorder):
    answer = sim_client.post(
        "/_sim/inbound",
        json={"channel": name, "from": case.address, "to": case.our_address, "body": "C"},
    ).json()
    assert answer["delivered"], answer

    webhook = recorder.wait_for(lambda w: w.route == channel.inbound_webhook_path)[0]
    request: WebhookRequest = webhook.webhook_request(recorder.base_url)
    channel.verify(request)
    [inbound] = channel.parse_inbound(request)

    assert inbound.provider_message_id == answer["id"]
    assert inbound.channel == name
    assert address_key(inbound.from_address) == address_key(case.address)
    assert address_key(inbound.to_address) == address_key(case.our_address)
    assert inbound.body == "C"


def test_logs_carry_no_address_or_body(name, case, channel, sim_client, caplog) -> None:
    caplog.set_level(logging.DEBUG)
    body = "Lab results for Ana are ready"
    channel.send(message_for(name, case, body=body))
    configure(sim_client, forced_errors_by_address={case.address: case.permanent_code})
    with pytest.raises(PermanentSendError) as raised:
        channel.send(message_for(name, case, body=body))

    logged = "\n".join(r.getMessage() for r in caplog.records) + repr(raised.value)
    assert case.address.lstrip("+") not in logged
    assert body not in logged
