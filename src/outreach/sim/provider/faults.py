"""Which error, if any, the simulator answers a send with: outages, forced codes, random errors.

Codes are each provider's own: Twilio error codes, HTTP statuses for SendGrid (its errors carry
no other code), Meta error codes for WhatsApp.
"""

from __future__ import annotations

import random
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime

from outreach.sim.provider.config import GATEWAY, SimConfig, sim_family


@dataclass(frozen=True, slots=True)
class Fault:
    http_status: int
    code: int
    message: str


# code -> (HTTP status, message) as the providers answer them
TWILIO_ERRORS: dict[int, tuple[int, str]] = {
    20003: (401, "Authenticate"),
    20404: (404, "The requested resource was not found"),
    20429: (429, "Too Many Requests"),
    20500: (500, "Internal Server Error"),
    20503: (503, "Service Unavailable"),
    21211: (400, "Invalid 'To' Phone Number"),
    21408: (400, "Permission to send an SMS has not been enabled for the region"),
    21602: (400, "Message body is required."),
    21610: (400, "Attempt to send to unsubscribed recipient"),
    21612: (400, "The 'To' phone number is not currently reachable"),
    21614: (400, "'To' number is not a valid mobile number"),
    21617: (400, "The concatenated message body exceeds the 1600 character limit."),
    30001: (400, "Queue overflow"),
}
SENDGRID_ERRORS: dict[int, str] = {
    400: "Bad Request",
    401: "The provided authorization grant is invalid, expired, or revoked",
    403: "access forbidden",
    413: "payload too large",
    429: "too many requests",
    500: "internal error",
    503: "service unavailable",
}
WHATSAPP_ERRORS: dict[int, tuple[int, str]] = {
    2: (503, "Service temporarily unavailable"),
    4: (429, "Application request limit reached"),
    100: (400, "Invalid parameter"),
    190: (401, "Invalid OAuth access token."),
    80007: (429, "Rate limit issues"),
    130429: (429, "Rate limit hit"),
    131000: (500, "Something went wrong"),
    131026: (400, "Message Undeliverable."),
    131047: (400, "Re-engagement message"),
    131048: (429, "Spam rate limit hit"),
    131050: (400, "User has stopped marketing messages"),
    131051: (400, "Unsupported message type"),
    131056: (429, "(Business Account, Consumer Account) pair rate limit hit"),
}

# (outage, random 429, random 500) per channel
_OUTAGE = {"sms": 20503, "email": 503, "whatsapp": 2, GATEWAY: 503}
_RATE_LIMITED = {"sms": 20429, "email": 429, "whatsapp": 130429, GATEWAY: 429}
_SERVER_ERROR = {"sms": 20500, "email": 500, "whatsapp": 131000, GATEWAY: 500}


def provider_fault(channel: str, code: int) -> Fault:
    """The provider's answer for one of its error codes (unknown codes answer HTTP 400).

    SendGrid and the generic gateway have no codes of their own: the code is the HTTP status.
    """
    channel = sim_family(channel)
    if channel == GATEWAY:
        status = code if 400 <= code <= 599 else 400
        return Fault(status, status, "gateway error")
    if channel == "sms":
        status, message = TWILIO_ERRORS.get(code, (400, "Error"))
        return Fault(status, code, message)
    if channel == "email":
        status = code if 400 <= code <= 599 else 400
        return Fault(status, status, SENDGRID_ERRORS.get(status, "error"))
    status, message = WHATSAPP_ERRORS.get(code, (400, "Error"))
    return Fault(status, code, message)


def rate_limited_fault(channel: str) -> Fault:
    """The provider's answer to a sender going faster than its rate."""
    return provider_fault(channel, _RATE_LIMITED[sim_family(channel)])


def in_outage(config: SimConfig, channel: str, now: datetime) -> bool:
    if config.outage_from is None and config.outage_until is None:
        return False
    if config.outage_channels is not None and channel not in config.outage_channels:
        return False
    started = config.outage_from is None or config.outage_from <= now
    ongoing = config.outage_until is None or now < config.outage_until
    return started and ongoing


def decide_fault(
    config: SimConfig,
    channel: str,
    to_key: str,
    forced_by_address: Mapping[str, int],
    now: datetime,
    rng: random.Random,
) -> Fault | None:
    """The configured failure for this send, checked in order: outage, forced code for the
    address, forced code for the channel, random transient error."""
    if in_outage(config, channel, now):
        return provider_fault(channel, _OUTAGE[sim_family(channel)])
    code = forced_by_address.get(to_key)
    if code is None:
        code = config.forced_errors_by_channel.get(channel)
    if code is not None:
        return provider_fault(channel, code)
    if config.error_rate and rng.random() < config.error_rate:
        if config.error_kind == "mixed":
            table = _RATE_LIMITED if rng.random() < 0.5 else _SERVER_ERROR
        else:
            table = _SERVER_ERROR if config.error_kind == "server" else _RATE_LIMITED
        return provider_fault(channel, table[sim_family(channel)])
    return None
