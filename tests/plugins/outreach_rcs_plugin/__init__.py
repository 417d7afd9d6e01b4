"""A channel from another package: RCS messages through a generic HTTP gateway.

It is registered in the ``outreach.channels`` entry point by its own distribution metadata (the
``outreach_rcs_plugin-0.1.dist-info`` directory beside it, on ``sys.path`` in the tests and the
test deployment's processes) and touches nothing in outreach: its settings come from
``OUTREACH_CHANNEL_OPTIONS`` under its name. The simulator's generic gateway plays its provider.
"""

from __future__ import annotations

import hashlib
import hmac
import json
from datetime import UTC, datetime
from typing import Any, Self

import requests

from outreach.channels import (
    ChannelConfigError,
    ChannelWorker,
    DeliveryStatus,
    InboundMessage,
    InvalidSignature,
    MalformedWebhook,
    OutboundMessage,
    PermanentSendError,
    SendReceipt,
    TransientSendError,
    WebhookRequest,
)
from outreach.config import Settings
from outreach.domain import AddressKind

SIGNATURE_HEADER = "X-Gateway-Signature"
TIMEOUT_SECONDS = 10.0
_STATUSES = {"sent": "sent", "delivered": "delivered", "read": "opened", "failed": "failed"}


class RcsChannel(ChannelWorker):
    name = "rcs"
    provider = "simgate"
    address_kind = AddressKind.PHONE  # RCS reaches the patient's mobile number
    max_body_chars = 3072  # an RCS text message's limit
    supports_phi = False  # carrier networks: portal links only
    default_rate_per_sec = 20.0  # the gateway's pace per sender
    status_webhook_path = "/webhooks/rcs/status"
    inbound_webhook_path = "/webhooks/rcs/inbound"
    finds_accepted = True  # the gateway looks messages up by our reference

    def __init__(self, *, base_url: str, token: str, webhook_secret: str, public_base_url: str):
        self._messages_url = f"{base_url.rstrip('/')}/gateway/v1/{self.name}/messages"
        self._headers = {"Authorization": f"Bearer {token}"}
        self._secret = webhook_secret.encode("utf-8")
        self._callback_url = public_base_url.rstrip("/") + self.status_webhook_path
        self._session = requests.Session()

    @classmethod
    def from_settings(cls, settings: Settings) -> Self:
        options = settings.channel_options.get(cls.name, {})
        missing = [k for k in ("base_url", "token", "webhook_secret") if not options.get(k)]
        if missing:
            raise ChannelConfigError(f"rcs channel needs channel options {', '.join(missing)}")
        return cls(
            base_url=options["base_url"],
            token=options["token"],
            webhook_secret=options["webhook_secret"],
            public_base_url=settings.public_base_url,
        )

    @property
    def pacing_key(self) -> str:
        return f"{self.provider}:{self.name}"

    def send(self, message: OutboundMessage) -> SendReceipt:
        payload = {
            "to": message.to,
            "body": message.body,
            "reference": message.job_id,
            "callback_url": self._callback_url,
        }
        try:
            response = self._session.post(
                self._messages_url, json=payload, headers=self._headers, timeout=TIMEOUT_SECONDS
            )
        except requests.Timeout:
            raise TransientSendError("timeout", "gateway did not answer") from None
        except requests.RequestException as exc:
            raise TransientSendError("connection", type(exc).__name__) from None
        if response.status_code >= 500 or response.status_code in (401, 429):
            raise TransientSendError(str(response.status_code), "gateway refused for now")
        if response.status_code >= 400:
            raise PermanentSendError(str(response.status_code), "gateway refused the message")
        return SendReceipt(self.provider, str(response.json()["id"]), datetime.now(UTC))

    def find_accepted(self, message: OutboundMessage, since: datetime) -> SendReceipt | None:
        try:
            response = self._session.get(
                self._messages_url,
                params={"reference": message.job_id},
                headers=self._headers,
                timeout=TIMEOUT_SECONDS,
            )
            response.raise_for_status()
        except requests.RequestException as exc:
            raise TransientSendError("lookup", type(exc).__name__) from None
        found = response.json().get("messages") or []
        if not found:
            return None
        return SendReceipt(self.provider, str(found[0]["id"]), datetime.now(UTC))

    def verify(self, request: WebhookRequest) -> None:
        given = request.headers.get(SIGNATURE_HEADER, "")
        expected = "sha256=" + hmac.new(self._secret, request.body, hashlib.sha256).hexdigest()
        if not hmac.compare_digest(expected.encode(), given.encode("ascii", "replace")):
            raise InvalidSignature("X-Gateway-Signature does not match")

    def _document(self, request: WebhookRequest) -> dict[str, Any]:
        try:
            document = json.loads(request.body)
        except ValueError:
            raise MalformedWebhook("gateway webhooks are JSON") from None
        if not isinstance(document, dict):
            raise MalformedWebhook("gateway webhooks are JSON objects")
        return document

    def parse_status(self, request: WebhookRequest) -> list[DeliveryStatus]:
        document = self._document(request)
        status = _STATUSES.get(str(document.get("status")))
        if status is None or not document.get("message_id"):
            return []
        return [
            DeliveryStatus(
                provider=self.provider,
                provider_message_id=str(document["message_id"]),
                status=status,
                occurred_at=datetime.fromtimestamp(int(document.get("timestamp") or 0), UTC),
                error_code=document.get("error_code"),
                raw=document,
                job_id=str(document["reference"]) if document.get("reference") else None,
            )
        ]

    def parse_inbound(self, request: WebhookRequest) -> list[InboundMessage]:
        document = self._document(request)
        if not document.get("message_id") or not document.get("from"):
            return []
        return [
            InboundMessage(
                provider=self.provider,
                provider_message_id=str(document["message_id"]),
                channel=self.name,
                from_address=str(document["from"]),
                to_address=str(document.get("to") or ""),
                body=str(document.get("body") or ""),
                received_at=datetime.fromtimestamp(int(document.get("timestamp") or 0), UTC),
            )
        ]

    def close(self) -> None:
        self._session.close()
