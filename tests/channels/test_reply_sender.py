"""The replies' answers through the channel workers: sent, or refused with a PHI-free reason."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from outreach.channels.base import OutboundMessage, PermanentSendError, SendReceipt
from outreach.channels.reply_sender import ChannelReplySender
from outreach.domain import Channel
from outreach.replies.answers import ReplyMessage, ReplyNotSent

MESSAGE = ReplyMessage(
    reference="reply-3",
    channel=Channel.SMS,
    to="+14152345678",
    body="Sunrise Clinic: Thank you for confirming.",
    idempotency_key="reply:3:thank_you",
)


class _Worker:
    def __init__(self, error: Exception | None = None) -> None:
        self.error = error
        self.sent: list[OutboundMessage] = []

    def send(self, message: OutboundMessage) -> SendReceipt:
        if self.error is not None:
            raise self.error
        self.sent.append(message)
        return SendReceipt("twilio", "SM1", datetime.now(UTC))


def test_an_answer_goes_out_through_the_worker_of_its_channel() -> None:
    worker = _Worker()
    receipt = ChannelReplySender({"sms": worker}).send(MESSAGE)  # type: ignore[dict-item]
    [sent] = worker.sent
    assert receipt.provider_message_id == "SM1"
    assert (sent.job_id, sent.channel, sent.to, sent.body, sent.idempotency_key) == (
        "reply-3",
        "sms",
        "+14152345678",
        MESSAGE.body,
        "reply:3:thank_you",
    )


def test_no_worker_for_the_channel_is_a_refusal() -> None:
    with pytest.raises(ReplyNotSent, match="^no sms worker in this process$"):
        ChannelReplySender({}).send(MESSAGE)


def test_a_provider_refusal_keeps_its_code_and_drops_its_text() -> None:
    error = PermanentSendError("21610", "+14152345678 is unsubscribed")
    sender = ChannelReplySender({"sms": _Worker(error)})  # type: ignore[dict-item]
    with pytest.raises(ReplyNotSent) as refused:
        sender.send(MESSAGE)
    assert str(refused.value) == "PermanentSendError 21610"
