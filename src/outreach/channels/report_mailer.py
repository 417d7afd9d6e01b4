"""Reports by e-mail through the e-mail channel: a ``ReportMail`` becomes one message to every
analyst address of an organisation, with the HTML report attached."""

from __future__ import annotations

from outreach.analytics.weekly import ReportMail
from outreach.channels.base import Attachment, ChannelWorker, OutboundMessage


class ChannelReportMailer:
    def __init__(self, email: ChannelWorker) -> None:
        if email.name != "email":
            raise ValueError(f"reports go by e-mail, not by {email.name}")
        self._email = email

    def __call__(self, mail: ReportMail) -> str:
        first, *others = mail.recipients
        receipt = self._email.send(
            OutboundMessage(
                job_id=mail.reference,
                channel="email",
                to=first,
                subject=mail.subject,
                body=mail.text,
                idempotency_key=mail.reference,
                other_recipients=tuple(others),
                attachments=(Attachment(mail.filename, "text/html", mail.html.encode("utf-8")),),
            )
        )
        return receipt.provider_message_id
