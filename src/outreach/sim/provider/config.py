"""The simulator's configuration: credentials it checks and signs with, where it calls back, and
the failure modes it injects. Changed at run time through ``POST /_sim/config``."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import TYPE_CHECKING, Literal, Self

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from outreach.channels.webhook_paths import (
    SENDGRID_EVENTS_PATH,
    SENDGRID_INBOUND_PATH,
    TWILIO_INBOUND_PATH,
    WHATSAPP_WEBHOOK_PATH,
)
from outreach.sim.provider.signing import (
    generate_sendgrid_private_key,
    load_private_key,
    private_key_pem,
    public_key_b64,
)

if TYPE_CHECKING:
    from outreach.config import Settings

SIM_CHANNELS = ("sms", "email", "whatsapp")
# Any other channel name is served by the simulator's generic gateway (a plugin's provider).
GATEWAY = "gateway"


def sim_family(channel: str) -> str:
    """Which simulated provider serves ``channel``: its own name, or the generic gateway."""
    return channel if channel in SIM_CHANNELS else GATEWAY


class DeliveryOutcomes(BaseModel):
    """Relative weights of each accepted message's final outcome (all zero: it stays 'sent').

    Per channel: SMS ``undelivered``/``bounced`` become Twilio 'undelivered', ``failed`` 'failed';
    e-mail ``bounced`` is a bounce, ``failed`` a drop, ``undelivered`` a deferral then a blocked
    bounce; WhatsApp reports every non-delivery as 'failed' with Meta's error code.
    """

    model_config = ConfigDict(extra="forbid")

    delivered: float = Field(0.95, ge=0)
    failed: float = Field(0.02, ge=0)
    bounced: float = Field(0.02, ge=0)
    undelivered: float = Field(0.01, ge=0)
    opened: float = Field(0.0, ge=0, le=1)  # of delivered e-mail and WhatsApp: opened / read
    clicked: float = Field(0.0, ge=0, le=1)  # of opened e-mail: a link clicked


class AutoReply(BaseModel):
    """A share of delivered messages that the patient answers with ``body``."""

    model_config = ConfigDict(extra="forbid")

    body: str
    rate: float = Field(ge=0, le=1)
    channels: list[str] = Field(default_factory=lambda: list(SIM_CHANNELS))
    delay_ms: int = Field(200, ge=0)


class EngagementProfileConfig(BaseModel):
    """How the patient at an address engages (the synthetic clinic's planted truth): when a
    message to them is opened, clicked or answered follows ``sim.clinic.engagement``."""

    model_config = ConfigDict(extra="forbid")

    timezone: str
    preferred_hour: int = Field(ge=0, le=23)
    responsiveness: float = Field(1.0, gt=0)


class SimConfig(BaseModel):
    model_config = ConfigDict(extra="forbid", validate_assignment=True)

    # Credentials. ``None`` for an id or API key means "accept any".
    twilio_account_sid: str | None = None
    twilio_auth_token: str = "sim-twilio-auth-token"  # checks Basic auth, signs callbacks
    sendgrid_api_key: str | None = None
    sendgrid_private_key_pem: str | None = None  # PEM; None: a fresh P-256 key is made
    whatsapp_token: str | None = None
    whatsapp_phone_number_id: str | None = None
    whatsapp_app_secret: str = "sim-whatsapp-app-secret"  # signs X-Hub-Signature-256
    whatsapp_business_number: str = "15550001111"  # our number in WhatsApp webhooks
    gateway_token: str | None = None  # the generic gateway's bearer token; None: accept any
    gateway_secret: str = "sim-gateway-secret"  # signs the gateway's X-Gateway-Signature
    gateway_number: str = "+15550002222"  # our number on gateway channels

    # Where callbacks go: Twilio statuses to each message's StatusCallback, the rest here.
    webhook_base_url: str = "http://127.0.0.1:8000"
    sendgrid_events_path: str = SENDGRID_EVENTS_PATH
    sendgrid_inbound_path: str = SENDGRID_INBOUND_PATH
    whatsapp_webhook_path: str = WHATSAPP_WEBHOOK_PATH
    twilio_inbound_path: str = TWILIO_INBOUND_PATH
    # Where a gateway channel's patients' messages go (its plugin's inbound path, by convention).
    gateway_inbound_path: str = "/webhooks/{channel}/inbound"

    callbacks_enabled: bool = True
    callback_delay_ms: int = Field(50, ge=0)  # between acceptance and each following status
    callback_max_attempts: int = Field(3, ge=1, le=10)
    callback_retry_backoff_ms: int = Field(200, ge=0)
    callback_timeout_s: float = Field(5.0, gt=0)
    callback_concurrency: int = Field(32, ge=1, le=512)  # posts in flight; read at start-up
    callback_queue_size: int = Field(100_000, ge=1)  # read at start-up
    callback_batch_size: int = Field(
        100, ge=1, le=1000
    )  # SendGrid events/WhatsApp statuses per POST

    # Failure modes.
    seed: int | None = 1234  # seeds the RNG behind every random choice; None: not reproducible
    error_rate: float = Field(0.0, ge=0, le=1)  # random transient errors
    # Which random errors: "mixed" (429 or 500, half each), "server" (500 only), "rate_limited".
    error_kind: Literal["mixed", "server", "rate_limited"] = "mixed"
    forced_errors_by_address: dict[str, int] = Field(default_factory=dict)  # address -> code
    forced_errors_by_channel: dict[str, int] = Field(default_factory=dict)  # channel -> code
    opted_out: list[str] = Field(default_factory=list)  # addresses that replied STOP earlier
    latency_ms: int = Field(0, ge=0)
    latency_jitter_ms: int = Field(0, ge=0)  # each call waits latency_ms plus up to this
    latency_spike_rate: float = Field(0.0, ge=0, le=1)  # share of calls that wait far longer...
    latency_spike_ms: int = Field(0, ge=0)  # ...this much more (the message is still accepted)
    # Sends per second each sender may make ("<channel>:<sender>": the From number, the from
    # address, the phone number id, a gateway channel's name); beyond it the provider's 429.
    rate_limits: dict[str, float] = Field(default_factory=dict)
    # Requests a provider lets pass beyond the rate at once: this many seconds' worth (arrival
    # jitter: requests paced at the rate do not reach it evenly spaced).
    rate_limit_burst_seconds: float = Field(1.0, gt=0)
    duplicate_callback_rate: float = Field(0.0, ge=0, le=1)  # status callbacks posted twice
    callback_jitter_ms: int = Field(0, ge=0)  # random extra delay per status: out of order
    outage_from: datetime | None = None
    outage_until: datetime | None = None
    outage_channels: list[str] | None = None  # None: every channel is down during the outage
    outcomes: DeliveryOutcomes = Field(default_factory=DeliveryOutcomes)
    auto_replies: list[AutoReply] = Field(default_factory=list)
    # Price per message by channel, in USD, reported as Twilio reports it (only SMS callbacks
    # carry a price; the others' providers report none).
    prices: dict[str, float] = Field(default_factory=dict)
    # Patients whose engagement follows a planted truth, by address (e-mail or E.164 number):
    # their opens, clicks and replies replace ``outcomes.opened``/``clicked`` and the reply rates.
    engagement_profiles: dict[str, EngagementProfileConfig] = Field(default_factory=dict)
    # Simulated seconds per real second of the clock the simulator reads (the demo's shifted
    # clock runs fast): a patient who engages hours later is reported that much later, scaled.
    # None: engagement is reported at once, stamped with the time it happened.
    clock_speed: float | None = Field(None, gt=0)

    max_recorded_messages: int = Field(1_000_000, ge=1)  # oldest records are forgotten beyond

    @model_validator(mode="after")
    def _signing_key(self) -> Self:
        """Every configuration can sign SendGrid webhooks; its public key is known up front."""
        if self.sendgrid_private_key_pem is None:
            pem = private_key_pem(generate_sendgrid_private_key())
            object.__setattr__(self, "sendgrid_private_key_pem", pem)
        return self

    @field_validator("engagement_profiles")
    @classmethod
    def _comparable_addresses(
        cls, profiles: dict[str, EngagementProfileConfig]
    ) -> dict[str, EngagementProfileConfig]:
        """Keys as the simulator compares addresses (``store.address_key``)."""
        from outreach.sim.provider.store import address_key

        return {address_key(address): profile for address, profile in profiles.items()}

    def sendgrid_public_key(self) -> str:
        """The key that verifies this simulator's SendGrid webhooks, as base64 DER: the value
        for ``OUTREACH_SENDGRID_WEBHOOK_PUBLIC_KEY``."""
        assert self.sendgrid_private_key_pem is not None
        return public_key_b64(load_private_key(self.sendgrid_private_key_pem))

    @field_validator("outage_from", "outage_until")
    @classmethod
    def _aware(cls, value: datetime | None) -> datetime | None:
        """Naive times are UTC, so they compare with the clock."""
        return value.replace(tzinfo=UTC) if value is not None and value.tzinfo is None else value

    def redacted(self) -> dict:
        """The configuration without its secrets, for ``GET /_sim/config``."""
        secrets = {
            "twilio_auth_token",
            "sendgrid_private_key_pem",
            "whatsapp_app_secret",
            "sendgrid_api_key",
            "whatsapp_token",
            "gateway_token",
            "gateway_secret",
        }
        dumped = self.model_dump(mode="json")
        return {k: ("***" if k in secrets and v else v) for k, v in dumped.items()}


def gateway_channel_options(
    base_url: str, token: str | None, secret: str = "sim-gateway-secret"
) -> dict[str, str]:
    """``OUTREACH_CHANNEL_OPTIONS`` of a plugin channel written against the generic gateway."""
    return {"base_url": base_url, "token": token or "sim-gateway-token", "webhook_secret": secret}


def sim_config_for(
    settings: Settings, sendgrid_private_key_pem: str | None = None, **overrides: object
) -> SimConfig:
    """A simulator that accepts what these settings send and signs what they verify, calling
    back ``settings.public_base_url``.

    ``sendgrid_private_key_pem`` must pair with ``settings.sendgrid_webhook_public_key`` when
    both are given (see ``signing.generate_sendgrid_keypair``).
    """

    def secret(value) -> str | None:
        return value.get_secret_value() if value is not None else None

    values: dict[str, object] = {
        "webhook_base_url": settings.public_base_url,
        "twilio_account_sid": settings.twilio_account_sid,
        "sendgrid_api_key": secret(settings.sendgrid_api_key),
        "sendgrid_private_key_pem": sendgrid_private_key_pem,
        "whatsapp_token": secret(settings.whatsapp_token),
        "whatsapp_phone_number_id": settings.whatsapp_phone_number_id,
    }
    if settings.twilio_auth_token is not None:
        values["twilio_auth_token"] = secret(settings.twilio_auth_token)
    if settings.whatsapp_app_secret is not None:
        values["whatsapp_app_secret"] = secret(settings.whatsapp_app_secret)
    values.update(overrides)
    config = SimConfig(**values)
    expected = settings.sendgrid_webhook_public_key
    if (
        sendgrid_private_key_pem
        and expected
        and "BEGIN" not in expected
        and "".join(expected.split()) != config.sendgrid_public_key()
    ):
        raise ValueError("the SendGrid private key does not pair with the settings' public key")
    return config
