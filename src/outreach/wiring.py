"""The one place that turns Settings into live objects (engine, Redis, clock, channels, services).

Nothing connects at import time; each process command builds what it needs from here.
"""

from __future__ import annotations

import os
import socket
from collections.abc import Iterable, Mapping
from datetime import timedelta
from typing import TYPE_CHECKING

import redis
from sqlalchemy import Engine

from outreach.channels.base import ChannelWorker
from outreach.channels.breaker_board import RedisBreakerBoard
from outreach.channels.message_builder import MessageBuilder, PortalSettings, TemplateCatalog
from outreach.channels.rate_limiter import RedisRateLimiter
from outreach.channels.report_mailer import ChannelReportMailer
from outreach.channels.send_ledger import RedisSendLedger, UnsharedSendLedger
from outreach.clock import Clock, SharedShiftedClock, system_clock
from outreach.config import EMBEDDED, Settings
from outreach.dead_letters import DeadLetterSealer, local_dead_letter_key
from outreach.delivery.circuit_breaker import BreakerSettings
from outreach.delivery.retry_policy import RetryPolicy
from outreach.preferences import FatiguePolicy
from outreach.redis_store import KeySpace, connect_redis
from outreach.sql.engine import build_engine
from outreach.sql.store import Store
from outreach.templating import TemplateRecord

if TYPE_CHECKING:
    from outreach.services.receive_reply import ReplyService
    from outreach.services.send_jobs import DeliveryTuning
    from outreach.services.train_send_time_model import SendTimeLearning


def database_engine(settings: Settings, **kwargs: object) -> Engine:
    return build_engine(settings.resolved_database_url(), **kwargs)


def store(engine: Engine) -> Store:
    return Store(engine)


def dead_letter_sealer(settings: Settings) -> DeadLetterSealer:
    """Seals dead letters with the configured key (a local key file outside production)."""
    if settings.dead_letter_key is not None:
        return DeadLetterSealer(settings.dead_letter_key.get_secret_value())
    return DeadLetterSealer(local_dead_letter_key(settings.var_dir))


def redis_client(settings: Settings) -> redis.Redis:
    """The configured Redis; ``embedded`` gives an in-process fakeredis (one process only)."""
    if settings.redis_url == EMBEDDED:
        import fakeredis

        return fakeredis.FakeRedis(decode_responses=True)
    return connect_redis(settings.redis_url)


def clock(settings: Settings, client: redis.Redis | None = None) -> Clock:
    if not settings.shared_clock_key:
        return system_clock
    keys = KeySpace(settings.redis_key_prefix)
    return SharedShiftedClock(client or redis_client(settings), keys.key(settings.shared_clock_key))


def fatigue_policy(settings: Settings) -> FatiguePolicy:
    """The marketing caps of fatigued patients, as the planner and the API apply them."""
    return FatiguePolicy(
        threshold=settings.ml_fatigue_threshold,
        marketing_max_per_day=settings.ml_fatigued_marketing_max_per_day,
        marketing_max_per_week=settings.ml_fatigued_marketing_max_per_week,
    )


def send_time_learning(settings: Settings) -> SendTimeLearning:
    """How the send-time model reads and weighs engagement, from the ``ml_*`` settings."""
    from outreach.services.train_send_time_model import SendTimeLearning

    return SendTimeLearning(
        training_window=timedelta(days=settings.ml_training_window_days),
        prompt_window=timedelta(minutes=settings.ml_prompt_engagement_minutes),
        engagement_window=timedelta(hours=settings.ml_engagement_window_hours),
        max_weight=settings.ml_max_sample_weight,
        fatigue_window=timedelta(days=settings.ml_fatigue_window_days),
    )


def channel_workers(
    settings: Settings, names: Iterable[str] | None = None
) -> dict[str, ChannelWorker]:
    from outreach.channels.registry import load_channels

    return load_channels(settings, list(names) if names is not None else None)


def process_id() -> str:
    """This process as heartbeats, claims and taken sends name it."""
    return f"{socket.gethostname()}:{os.getpid()}"[:64]


def send_ledger(settings: Settings, client: redis.Redis) -> RedisSendLedger | UnsharedSendLedger:
    """Where sends are marked started: the deployment's Redis, unless each process has its own
    stand-in (then recovery asks the provider about every send of a stopped worker)."""
    if settings.redis_url == EMBEDDED:
        return UnsharedSendLedger()
    return RedisSendLedger(client, KeySpace(settings.redis_key_prefix))


def rate_limiter(settings: Settings, client: redis.Redis) -> RedisRateLimiter:
    return RedisRateLimiter(
        client,
        KeySpace(settings.redis_key_prefix),
        settings.send_rates,
        burst_seconds=settings.send_rate_burst_seconds,
    )


def breaker_board(settings: Settings, client: redis.Redis, reporter: str = "") -> RedisBreakerBoard:
    """Where workers post their circuit breakers' changes and the console reads them."""
    return RedisBreakerBoard(client, KeySpace(settings.redis_key_prefix), reporter)


def breaker_settings(settings: Settings) -> BreakerSettings:
    return BreakerSettings(
        window=timedelta(seconds=settings.breaker_window_seconds),
        error_ratio=settings.breaker_error_ratio,
        min_calls=settings.breaker_min_calls,
        open_for=timedelta(seconds=settings.breaker_open_seconds),
        probes=settings.breaker_probes,
    )


def delivery_tuning(settings: Settings) -> DeliveryTuning:
    from outreach.services.send_jobs import DeliveryTuning

    return DeliveryTuning(
        retry=RetryPolicy(
            base_delay=timedelta(seconds=settings.send_retry_base_seconds),
            max_delay=timedelta(seconds=settings.send_retry_max_delay_seconds),
            max_retries=settings.send_max_retries,
            quick_retries=settings.send_quick_retries,
            quick_delay=timedelta(seconds=settings.send_quick_retry_delay_seconds),
        ),
        reconcile_after=timedelta(seconds=settings.send_reconcile_after_seconds),
        recipient_backoff=timedelta(seconds=settings.recipient_backoff_seconds),
    )


def register_channel_kinds() -> None:
    """Import every registered channel class, so the planning rules know each plugin channel's
    address kind even in a process that sends on none of them (an orchestrator-only worker)."""
    from outreach.channels.registry import channel_classes

    channel_classes()


def report_mailer(settings: Settings) -> ChannelReportMailer:
    """Reports by e-mail through the e-mail channel; ``ChannelConfigError`` without its
    settings."""
    return ChannelReportMailer(channel_workers(settings, ["email"])["email"])


def message_builder(settings: Settings, engine: Engine) -> MessageBuilder:
    templates = Store(engine)

    def load() -> list[TemplateRecord]:
        with templates.reading() as repos:
            return repos.templates.active()

    def load_version(template_id: int) -> TemplateRecord | None:
        with templates.reading() as repos:
            stored = repos.templates.get(template_id)
        return stored.record if stored is not None else None

    secret = settings.portal_link_secret.get_secret_value() if settings.portal_link_secret else None
    return MessageBuilder(
        TemplateCatalog(load, load_version),
        PortalSettings(
            settings.portal_base_url, secret, timedelta(seconds=settings.portal_link_ttl_seconds)
        ),
        settings.default_booking_url,
        api_base_url=settings.public_base_url,
    )


def reply_handler(
    settings: Settings,
    engine: Engine,
    clock_: Clock,
    channels: Mapping[str, ChannelWorker] | None = None,
) -> ReplyService:
    """The replies service the worker's "replies" role registers, sending its answers through
    ``channels`` (default: every configured channel).

    Every guarantee here rests on the database. The parser's models are trained here, at
    start-up, so the first patient's reply is not the one that waits for them.
    """
    from concurrent.futures import ThreadPoolExecutor

    from outreach.channels.reply_sender import ChannelReplySender
    from outreach.replies.parser import default_parser
    from outreach.services.receive_reply import ReplyService
    from outreach.sql.errors import is_transient_database_error
    from outreach.sql.store import Store

    service = ReplyService(
        Store(engine),
        default_parser(),
        ChannelReplySender(channel_workers(settings) if channels is None else channels),
        clock=clock_,
        is_transient=is_transient_database_error,
        # Its own small pool: replies are few, and their sends must not queue behind jobs'.
        send_pool=ThreadPoolExecutor(
            max_workers=settings.reply_send_threads, thread_name_prefix="outreach-reply-send"
        ),
        match_window=timedelta(hours=settings.reply_match_window_hours),
        default_booking_url=settings.default_booking_url,
        carrier_answers_keywords=settings.twilio_answers_keywords,
    )
    service.warm_up()
    return service
