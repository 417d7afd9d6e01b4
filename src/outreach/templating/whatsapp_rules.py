"""WhatsApp's 24-hour rule: free text only while the customer-service window is open.

A business may answer freely for 24 hours after the patient's last message; outside that window
(most reminders) only a template Meta approved may be sent, by name, language and positional
parameters. The choice is a pure function of the last inbound time and ``now``.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta

from outreach.domain import Channel
from outreach.templating.errors import WhatsAppTemplateRequired
from outreach.templating.records import TemplateRecord
from outreach.templating.renderer import RenderedMessage

CUSTOMER_SERVICE_WINDOW = timedelta(hours=24)


@dataclass(frozen=True, slots=True)
class WhatsAppTextMessage:
    """Free text, allowed inside the customer-service window."""

    body: str

    def __repr__(self) -> str:
        return f"WhatsAppTextMessage(body=<{len(self.body)} chars>)"


@dataclass(frozen=True, slots=True)
class WhatsAppTemplateMessage:
    """An approved template: ``name`` and ``language`` as registered with Meta, {{1}}..{{n}}."""

    name: str
    language: str  # Meta's code, e.g. "es_MX", "en"
    parameters: tuple[str, ...]

    def __repr__(self) -> str:
        return (
            f"WhatsAppTemplateMessage(name={self.name!r}, language={self.language!r}, "
            f"parameters=<{len(self.parameters)}>)"
        )


WhatsAppPayload = WhatsAppTextMessage | WhatsAppTemplateMessage


def whatsapp_language_code(language: str) -> str:
    """Meta writes locales with an underscore (``es_MX``); bare languages stay bare (``es``)."""
    parts = language.replace("_", "-").split("-")
    if len(parts) == 1:
        return parts[0].lower()
    return f"{parts[0].lower()}_{parts[1].upper()}"


def window_is_open(last_inbound_at: datetime | None, now: datetime) -> bool:
    """Whether the patient wrote within the last 24 hours (a future timestamp does not count)."""
    if last_inbound_at is None:
        return False
    return last_inbound_at <= now < last_inbound_at + CUSTOMER_SERVICE_WINDOW


def whatsapp_payload(
    record: TemplateRecord,
    rendered: RenderedMessage,
    params: Sequence[str] | None,
    last_inbound_at: datetime | None,
    now: datetime,
) -> WhatsAppPayload:
    """Free text inside the window, else the approved template with its parameters.

    ``params`` default to ``rendered.whatsapp_parameters``, which the renderer built from the
    policy-filtered context; pass others only if they come from the same guard.
    """
    if record.channel is not Channel.WHATSAPP:
        raise ValueError(f"{record!r} is not a WhatsApp template")
    if (rendered.template_id, rendered.version) != (record.id, record.version):
        raise ValueError("rendered message does not come from this template version")
    if window_is_open(last_inbound_at, now):
        return WhatsAppTextMessage(rendered.body)
    if not record.whatsapp_template_name:
        raise WhatsAppTemplateRequired(
            f"template {record.id} v{record.version} has no approved WhatsApp template name"
        )
    parameters = tuple(rendered.whatsapp_parameters if params is None else params)
    if len(parameters) != len(record.declared_variables):
        raise ValueError(
            f"{len(parameters)} parameters for {len(record.declared_variables)} placeholders"
        )
    return WhatsAppTemplateMessage(
        name=record.whatsapp_template_name,
        language=whatsapp_language_code(record.language),
        parameters=parameters,
    )
