"""The running simulator: its configuration, random source, records and the life of each message
after a provider accepted it (status reports, patients' replies)."""

from __future__ import annotations

import asyncio
import random
import threading
import time
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import numpy as np

from outreach.delivery.token_bucket import Bucket, bucket_capacity, take_token
from outreach.domain import Channel
from outreach.sim.clinic.engagement import EngagementProfile, engagement_delay_minutes
from outreach.sim.provider.config import GATEWAY, AutoReply, SimConfig, sim_family
from outreach.sim.provider.dispatcher import CallbackDispatcher, CallbackJob
from outreach.sim.provider.faults import Fault, decide_fault, rate_limited_fault
from outreach.sim.provider.outcomes import (
    ENGAGEMENT_STATUSES,
    Engagement,
    StatusStep,
    plan_message,
)
from outreach.sim.provider.signing import load_private_key
from outreach.sim.provider.store import MessageStore, SimMessage, address_key
from outreach.sim.provider.webhooks import (
    GATEWAY_INBOUND,
    GATEWAY_STATUS,
    SENDGRID_EVENTS,
    SENDGRID_PARSE,
    TWILIO_FORM,
    WHATSAPP_MESSAGES,
    WHATSAPP_STATUSES,
    gateway_status,
    new_gateway_id,
    new_twilio_sid,
    new_wamid,
    sendgrid_event,
    sendgrid_parse_fields,
    twilio_inbound_params,
    twilio_status_params,
    whatsapp_inbound_message,
    whatsapp_status,
)

DEFAULT_TWILIO_ACCOUNT_SID = "AC" + "0" * 32
DEFAULT_WHATSAPP_PHONE_NUMBER_ID = "100000000000001"


def _system_clock() -> datetime:
    return datetime.now(UTC)


class SimState:
    """``clock`` is the time the simulator lives in (the demo's shifted clock): it stamps the
    reports and decides a message's local hour for patients with a planted engagement truth."""

    def __init__(self, config: SimConfig, clock: Callable[[], datetime] = _system_clock):
        self._initial = config
        self.clock = clock
        self.store = MessageStore(config.max_recorded_messages)
        self.dispatcher = CallbackDispatcher(self)
        self.apply(config)

    # ---- configuration ----

    def apply(self, config: SimConfig) -> None:
        assert config.sendgrid_private_key_pem is not None
        self._buckets: dict[str, Bucket] = {}
        self._buckets_lock = threading.Lock()
        self.sendgrid_key = load_private_key(config.sendgrid_private_key_pem)
        self.rng = random.Random(config.seed)
        self.engagement_rng = np.random.default_rng(config.seed)
        self.forced_by_address = {
            address_key(a): code for a, code in config.forced_errors_by_address.items()
        }
        self.opted_out = {address_key(a) for a in config.opted_out}
        self.config = config

    def update(self, patch: dict[str, Any]) -> SimConfig:
        """Merge ``patch`` into the configuration (validated as a whole).

        ``outcomes`` merges field by field; other fields are replaced. ``outage_seconds: N`` is
        shorthand for an outage from now for N seconds (0 ends it).
        """
        patch = dict(patch)
        if "outage_seconds" in patch:
            seconds = float(patch.pop("outage_seconds"))
            now = self.clock()
            patch["outage_from"] = now if seconds > 0 else None
            patch["outage_until"] = now + timedelta(seconds=seconds) if seconds > 0 else None
        if not patch.get("sendgrid_private_key_pem"):
            patch.pop("sendgrid_private_key_pem", None)
        current = self.config.model_dump()
        if isinstance(patch.get("outcomes"), dict):
            patch["outcomes"] = {**current["outcomes"], **patch["outcomes"]}
        merged = {**current, **patch}
        config = SimConfig.model_validate(merged)
        self.apply(config)
        return config

    def reset(self) -> None:
        self.apply(self._initial)
        self.store.clear()
        self.dispatcher.counters.clear()

    def latency_seconds(self) -> float:
        """How long this call takes the provider: base, jitter and the odd spike."""
        config = self.config
        latency = config.latency_ms
        if config.latency_jitter_ms:
            latency += self.rng.random() * config.latency_jitter_ms
        if config.latency_spike_rate and self.rng.random() < config.latency_spike_rate:
            latency += config.latency_spike_ms
        return latency / 1000

    async def wait_latency(self) -> None:
        delay = self.latency_seconds()
        if delay > 0:
            await asyncio.sleep(delay)

    def over_rate(self, channel: str, sender: str) -> Fault | None:
        """The provider's rate limit for this sender, if one is configured and exceeded."""
        key = f"{channel}:{sender}"
        rate = self.config.rate_limits.get(key)
        if rate is None:
            return None
        now = time.monotonic()
        with self._buckets_lock:
            capacity = bucket_capacity(rate, self.config.rate_limit_burst_seconds)
            taken = take_token(self._buckets.get(key), now, rate, capacity)
            self._buckets[key] = taken.bucket
        if taken.granted:
            return None
        self.store.count(f"rate_limited.{channel}")
        return rate_limited_fault(channel)

    def fault_for(self, channel: str, to: str, sender: str | None = None) -> Fault | None:
        if sender is not None:
            limited = self.over_rate(channel, sender)
            if limited is not None:
                return limited
        return decide_fault(
            self.config,
            channel,
            address_key(to),
            self.forced_by_address,
            self.clock(),
            self.rng,
        )

    def is_opted_out(self, address: str) -> bool:
        return address_key(address) in self.opted_out

    # ---- a message's life ----

    def accept(self, message: SimMessage) -> None:
        """Record an accepted message and schedule its reports (and perhaps a reply)."""
        self.store.add(message)
        config = self.config
        accepted_at = self.clock()
        plan = plan_message(
            message.channel,
            config,
            self.rng,
            self.is_opted_out(message.to),
            self._engagement(message, accepted_at),
        )
        step_s = config.callback_delay_ms / 1000
        engaged_at = engaged_delay = None
        if plan.engaged_after_minutes is not None:
            engaged_at = accepted_at + timedelta(minutes=plan.engaged_after_minutes)
            engaged_delay = (
                plan.engaged_after_minutes * 60 / config.clock_speed if config.clock_speed else 0.0
            )
        for step in plan.steps:
            delay, stamp = step.after_steps * step_s, None
            if engaged_at is not None and step.status in ENGAGEMENT_STATUSES:
                delay, stamp = delay + (engaged_delay or 0.0), engaged_at
            if config.callback_jitter_ms:  # reports may overtake each other
                delay += self.rng.random() * config.callback_jitter_ms / 1000
            self.dispatcher.later(delay, self._report, message, step, stamp)
        if plan.reply is not None:
            delay = plan.delivered_after_steps * step_s + plan.reply.delay_ms / 1000
            self.dispatcher.later(
                delay + (engaged_delay or 0.0), self._auto_reply, message, plan.reply
            )

    def _engagement(self, message: SimMessage, accepted_at: datetime) -> Engagement | None:
        """The planted truth's say on this message, for a patient who follows one."""
        profile = self.config.engagement_profiles.get(address_key(message.to))
        if profile is None:
            return None
        local = accepted_at.astimezone(ZoneInfo(profile.timezone))
        minutes = engagement_delay_minutes(
            self.engagement_rng,
            EngagementProfile(profile.timezone, profile.preferred_hour, profile.responsiveness),
            Channel(message.channel),
            local.hour + local.minute / 60.0,
            local.weekday() >= 5,
        )
        return Engagement(minutes)

    def _report(self, message: SimMessage, step: StatusStep, stamp: datetime | None = None) -> None:
        self.store.update_status(message.id, step.status, step.error_code)
        if not self.config.callbacks_enabled:
            return
        job = self._status_job(message, step, stamp or self.clock())
        if job is not None:
            self.dispatcher.submit(job)
            duplicate = self.config.duplicate_callback_rate
            if duplicate and self.rng.random() < duplicate:  # providers redeliver at will
                copy = self._status_job(message, step, stamp or self.clock())
                if copy is not None:
                    self.dispatcher.submit(copy, delay_s=self.rng.random() * 0.2)

    def _status_job(
        self, message: SimMessage, step: StatusStep, at: datetime
    ) -> CallbackJob | None:
        config, now = self.config, at.timestamp()
        if message.channel == "sms":
            url = message.extras.get("status_callback")
            if not url:
                return None
            params = twilio_status_params(message, step, at, price=config.prices.get("sms"))
            return CallbackJob(TWILIO_FORM, url, params)
        if message.channel == "email":
            url = config.webhook_base_url.rstrip("/") + config.sendgrid_events_path
            return CallbackJob(SENDGRID_EVENTS, url, sendgrid_event(message, step, now))
        if sim_family(message.channel) == GATEWAY:
            url = message.extras.get("callback_url")
            if not url:
                return None
            return CallbackJob(GATEWAY_STATUS, url, gateway_status(message, step, now))
        url = config.webhook_base_url.rstrip("/") + config.whatsapp_webhook_path
        return CallbackJob(
            WHATSAPP_STATUSES,
            url,
            whatsapp_status(message, step, now),
            group=message.extras.get("phone_number_id", ""),
        )

    def _auto_reply(self, message: SimMessage, rule: AutoReply) -> None:
        if not self.config.callbacks_enabled:
            return
        _, job = self.inbound(
            message.channel,
            from_=message.to,
            to=message.from_,
            body=rule.body,
            subject=f"Re: {message.subject}" if message.subject else None,
            context_id=message.id,
            account_sid=message.extras.get("account_sid"),
            phone_number_id=message.extras.get("phone_number_id"),
        )
        self.dispatcher.submit(job)

    def inbound(
        self,
        channel: str,
        *,
        from_: str,
        to: str,
        body: str,
        subject: str | None = None,
        button_payload: str | None = None,
        context_id: str | None = None,
        account_sid: str | None = None,
        phone_number_id: str | None = None,
    ) -> tuple[SimMessage, CallbackJob]:
        """Record a patient's message and build the provider's webhook that reports it."""
        config, now = self.config, self.clock()
        base = config.webhook_base_url.rstrip("/")
        if channel == "sms":
            sid = new_twilio_sid()
            account = account_sid or config.twilio_account_sid or DEFAULT_TWILIO_ACCOUNT_SID
            params = twilio_inbound_params(sid, account, from_, to, body)
            job = CallbackJob(TWILIO_FORM, base + config.twilio_inbound_path, params)
        elif channel == "whatsapp":
            sid = new_wamid()
            number_id = (
                phone_number_id
                or config.whatsapp_phone_number_id
                or DEFAULT_WHATSAPP_PHONE_NUMBER_ID
            )
            item = whatsapp_inbound_message(
                sid,
                from_.lstrip("+"),
                body,
                now.timestamp(),
                button_payload,
                context_id,
                config.whatsapp_business_number,
            )
            job = CallbackJob(
                WHATSAPP_MESSAGES, base + config.whatsapp_webhook_path, item, group=number_id
            )
        elif channel == "email":
            sid = f"{new_twilio_sid()[2:]}@sim.sendgrid.net"
            fields = sendgrid_parse_fields(from_, to, subject or "Re:", body, sid)
            job = CallbackJob(SENDGRID_PARSE, base + config.sendgrid_inbound_path, fields)
        else:  # a plugin's channel, through the generic gateway
            sid = new_gateway_id()
            item = {
                "message_id": sid,
                "channel": channel,
                "from": from_,
                "to": to,
                "body": body,
                "timestamp": int(now.timestamp()),
            }
            path = config.gateway_inbound_path.format(channel=channel)
            job = CallbackJob(GATEWAY_INBOUND, base + path, item)
        record = SimMessage(
            id=sid,
            channel=channel,
            to=to,
            from_=from_,
            body=body,
            received_at=now,
            status="received",
            direction="inbound",
            subject=subject,
        )
        self.store.add(record)
        return record, job
