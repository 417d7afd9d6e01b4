"""The automatic answers to patients' replies, sent through this process's channel workers.

Implements ``replies.answers.ReplySender`` for the replies service, which knows nothing of
channel workers: it hands over a ``ReplyMessage`` and hears back a receipt or ``ReplyNotSent``.
"""

from __future__ import annotations

from collections.abc import Mapping

from outreach.channels.base import ChannelWorker, OutboundMessage, SendError, SendReceipt
from outreach.replies.answers import ReplyMessage, ReplyNotSent


class ChannelReplySender:
    """Sends each answer with the worker of its channel (blocking, as the workers are)."""

    def __init__(self, workers: Mapping[str, ChannelWorker]) -> None:
        self.workers = workers

    def send(self, message: ReplyMessage) -> SendReceipt:
        worker = self.workers.get(message.channel.value)
        if worker is None:
            raise ReplyNotSent(f"no {message.channel.value} worker in this process")
        outbound = OutboundMessage(
            job_id=message.reference,
            channel=message.channel.value,
            to=message.to,
            subject=message.subject,
            body=message.body,
            idempotency_key=message.idempotency_key,
        )
        try:
            return worker.send(outbound)
        except SendError as error:
            # The type and the provider's code only: a provider's text may quote the recipient.
            raise ReplyNotSent(f"{type(error).__name__} {error.provider_code}") from error
