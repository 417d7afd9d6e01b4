"""Channel workers (e-mail, SMS, WhatsApp, plugins) behind one interface, found by entry point."""

from outreach.channels.base import (
    ChannelConfigError,
    ChannelWorker,
    DeliveryStatus,
    InboundMessage,
    InvalidSignature,
    MalformedWebhook,
    OutboundMessage,
    PermanentSendError,
    SendError,
    SendReceipt,
    StaleWebhook,
    TransientSendError,
    WebhookRequest,
    WhatsAppTemplate,
)
from outreach.channels.registry import (
    ChannelPluginError,
    UnknownChannelError,
    available_channels,
    channel_classes,
    load_channels,
)

__all__ = [
    "ChannelConfigError",
    "ChannelPluginError",
    "ChannelWorker",
    "DeliveryStatus",
    "InboundMessage",
    "InvalidSignature",
    "MalformedWebhook",
    "StaleWebhook",
    "OutboundMessage",
    "PermanentSendError",
    "SendError",
    "SendReceipt",
    "TransientSendError",
    "UnknownChannelError",
    "WebhookRequest",
    "WhatsAppTemplate",
    "available_channels",
    "channel_classes",
    "load_channels",
]
