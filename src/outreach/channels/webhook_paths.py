"""The API paths where providers call us back: the API mounts them, the simulator posts to them.

WhatsApp sends statuses and patients' messages to one URL; the API calls both
``parse_status`` and ``parse_inbound`` on it.
"""

TWILIO_STATUS_PATH = "/webhooks/twilio/status"  # per-message StatusCallback (form POST)
TWILIO_INBOUND_PATH = "/webhooks/twilio/inbound"  # the number's incoming-message webhook
SENDGRID_EVENTS_PATH = "/webhooks/sendgrid/events"  # signed Event Webhook (JSON array)
SENDGRID_INBOUND_PATH = "/webhooks/sendgrid/inbound"  # Inbound Parse (multipart form)
WHATSAPP_WEBHOOK_PATH = "/webhooks/whatsapp"  # Meta's webhook: statuses and messages

ALL_WEBHOOK_PATHS = (
    TWILIO_STATUS_PATH,
    TWILIO_INBOUND_PATH,
    SENDGRID_EVENTS_PATH,
    SENDGRID_INBOUND_PATH,
    WHATSAPP_WEBHOOK_PATH,
)
