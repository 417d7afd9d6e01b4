"""The provider simulator: Twilio, SendGrid and WhatsApp Cloud API as the real SDKs see them,
with signed status callbacks and patients' replies (``outreach sim``)."""

from outreach.channels.webhook_paths import (
    SENDGRID_EVENTS_PATH,
    SENDGRID_INBOUND_PATH,
    TWILIO_INBOUND_PATH,
    TWILIO_STATUS_PATH,
    WHATSAPP_WEBHOOK_PATH,
)
from outreach.sim.provider.app import create_sim_app
from outreach.sim.provider.config import AutoReply, DeliveryOutcomes, SimConfig, sim_config_for
from outreach.sim.provider.server import SimServerThread, free_port, run_sim
from outreach.sim.provider.signing import generate_sendgrid_keypair

__all__ = [
    "SENDGRID_EVENTS_PATH",
    "SENDGRID_INBOUND_PATH",
    "TWILIO_INBOUND_PATH",
    "TWILIO_STATUS_PATH",
    "WHATSAPP_WEBHOOK_PATH",
    "AutoReply",
    "DeliveryOutcomes",
    "SimConfig",
    "SimServerThread",
    "create_sim_app",
    "free_port",
    "generate_sendgrid_keypair",
    "run_sim",
    "sim_config_for",
]
