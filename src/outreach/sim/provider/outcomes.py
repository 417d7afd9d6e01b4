"""What happens to an accepted message: its provider-native status reports and a patient's reply.

Pure: the random source is a parameter.
"""

from __future__ import annotations

import random
from dataclasses import dataclass, field

from outreach.sim.provider.config import AutoReply, SimConfig

_OUTCOMES = ("delivered", "failed", "bounced", "undelivered")


@dataclass(frozen=True, slots=True)
class StatusStep:
    after_steps: int  # how many callback delays after acceptance the provider reports it
    status: str  # Twilio MessageStatus, SendGrid event name or Meta status
    error_code: str | None = None
    detail: dict = field(default_factory=dict)  # extra provider fields (SendGrid reason, type)


@dataclass(frozen=True, slots=True)
class Plan:
    outcome: str  # delivered, failed, bounced, undelivered, opted_out, or sent (no final report)
    steps: tuple[StatusStep, ...]
    reply: AutoReply | None = None  # the patient's answer, sent after the delivery report
    # Simulated minutes after acceptance the patient engaged (the open/read, or the reply on
    # SMS); None when they did not, or follow no planted truth.
    engaged_after_minutes: float | None = None

    @property
    def delivered_after_steps(self) -> int:
        return max((s.after_steps for s in self.steps), default=0)


def choose_outcome(config: SimConfig, rng: random.Random) -> str:
    weights = [getattr(config.outcomes, name) for name in _OUTCOMES]
    total = sum(weights)
    if total <= 0:
        return "sent"
    roll = rng.random() * total
    for name, weight in zip(_OUTCOMES, weights, strict=True):
        if roll < weight:
            return name
        roll -= weight
    return _OUTCOMES[0]


def choose_reply(config: SimConfig, channel: str, rng: random.Random) -> AutoReply | None:
    rules = [rule for rule in config.auto_replies if channel in rule.channels]
    if not rules:
        return None
    roll = rng.random()
    for rule in rules:
        if roll < rule.rate:
            return rule
        roll -= rule.rate
    return None


@dataclass(frozen=True, slots=True)
class Engagement:
    """What the planted truth says of one message: minutes to engagement, or None (ignored)."""

    after_minutes: float | None


def choose_any_reply(config: SimConfig, channel: str, rng: random.Random) -> AutoReply | None:
    """One of the channel's reply rules, in proportion to their rates: what a patient who does
    answer says."""
    rules = [rule for rule in config.auto_replies if channel in rule.channels]
    total = sum(rule.rate for rule in rules)
    if total <= 0:
        return None
    roll = rng.random() * total
    for rule in rules:
        if roll < rule.rate:
            return rule
        roll -= rule.rate
    return rules[-1]


def plan_message(
    channel: str,
    config: SimConfig,
    rng: random.Random,
    opted_out: bool,
    engagement: Engagement | None = None,
) -> Plan:
    """The reports a provider would send for one accepted message.

    With an ``engagement`` (the patient follows a planted truth), an engaged e-mail is opened
    (and clicked at the configured rate), an engaged WhatsApp message read and an engaged SMS
    answered, at the planted time; an ignored message gets none of these. E-mail and WhatsApp
    replies keep their configured rates, among engaged messages only.
    """
    if opted_out:
        return Plan("opted_out", _OPTED_OUT[channel])
    outcome = choose_outcome(config, rng)
    steps = list(_FIRST[channel])
    if outcome != "sent":
        steps.extend(_FINAL[channel][outcome])
    if engagement is not None:
        engaged = outcome == "delivered" and engagement.after_minutes is not None
        if not engaged:
            return Plan(outcome, tuple(steps))
        if channel == "sms":
            reply = choose_any_reply(config, channel, rng)
        else:
            steps.append(_OPENED[channel])
            if channel == "email" and rng.random() < config.outcomes.clicked:
                steps.append(_CLICKED)
            reply = choose_reply(config, channel, rng)
        return Plan(outcome, tuple(steps), reply, engagement.after_minutes)
    if outcome == "delivered" and channel != "sms" and rng.random() < config.outcomes.opened:
        steps.append(_OPENED[channel])
        if channel == "email" and rng.random() < config.outcomes.clicked:
            steps.append(_CLICKED)
    reply = choose_reply(config, channel, rng) if outcome == "delivered" else None
    return Plan(outcome, tuple(steps), reply)


_FIRST = {
    "sms": (StatusStep(1, "sent"),),
    "email": (StatusStep(1, "processed"),),
    "whatsapp": (StatusStep(1, "sent"),),
}
_FINAL: dict[str, dict[str, tuple[StatusStep, ...]]] = {
    "sms": {
        "delivered": (StatusStep(2, "delivered"),),
        "failed": (StatusStep(2, "failed", "30008"),),
        "bounced": (StatusStep(2, "undelivered", "30005"),),
        "undelivered": (StatusStep(2, "undelivered", "30003"),),
    },
    "email": {
        "delivered": (StatusStep(2, "delivered", detail={"response": "250 OK"}),),
        "failed": (StatusStep(2, "dropped", "Invalid", {"reason": "Invalid"}),),
        "bounced": (
            StatusStep(
                2,
                "bounce",
                "5.1.1",
                {
                    "type": "bounce",
                    "status": "5.1.1",
                    "reason": "550 5.1.1 The email account that you tried to reach does not exist",
                },
            ),
        ),
        "undelivered": (
            StatusStep(
                2,
                "deferred",
                "4.2.2",
                {"status": "4.2.2", "attempt": "1", "response": "452 4.2.2 Mailbox full"},
            ),
            StatusStep(
                3,
                "bounce",
                "5.7.1",
                {"type": "blocked", "status": "5.7.1", "reason": "550 5.7.1 Message rejected"},
            ),
        ),
    },
    "whatsapp": {
        "delivered": (StatusStep(2, "delivered"),),
        "failed": (StatusStep(2, "failed", "131000"),),
        "bounced": (StatusStep(2, "failed", "131026"),),
        "undelivered": (StatusStep(2, "failed", "131026"),),
    },
}
_OPENED = {"email": StatusStep(3, "open"), "whatsapp": StatusStep(3, "read")}
_CLICKED = StatusStep(4, "click", detail={"url": "https://portal.clinic.example/"})
# Steps a planted engagement times (the rest are delivery reports, sent at once).
ENGAGEMENT_STATUSES = frozenset({"open", "read", "click"})
_OPTED_OUT = {
    # Twilio refuses opted-out numbers at the API (21610): no plan is ever made for SMS.
    "sms": (StatusStep(1, "failed", "21610"),),
    "email": (
        StatusStep(1, "dropped", "Unsubscribed Address", {"reason": "Unsubscribed Address"}),
    ),
    "whatsapp": (StatusStep(1, "sent"), StatusStep(2, "failed", "131050")),
}
