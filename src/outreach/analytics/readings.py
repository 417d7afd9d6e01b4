"""One line per section of a report saying what it shows, written from the numbers as shown
(a count hidden by the small-cell policy stays hidden in the sentence too)."""

from __future__ import annotations

from dataclasses import dataclass

import pandas as pd

from outreach.analytics.ab_test import AbVerdict
from outreach.analytics.funnel_report import FunnelReport
from outreach.analytics.small_cells import CellPolicy

CHANNEL_NAMES = {"email": "e-mail", "sms": "SMS", "whatsapp": "WhatsApp", "-": "no channel"}


def channel_name(channel: str) -> str:
    return CHANNEL_NAMES.get(channel, channel)


def label_text(label: str) -> str:
    """A machine label as words: ``no_marketing_opt_in`` -> ``no marketing opt in``."""
    return label.replace("_", " ")


def money(micros: int, currency: str | None, digits: int = 2) -> str:
    return f"{micros / 1_000_000:,.{digits}f} {currency or ''}".strip()


@dataclass(frozen=True, slots=True)
class Readings:
    funnel: str
    daily: str
    channels: str
    variants: str
    suppressions: str
    intents: str


def _step(report: FunnelReport, name: str) -> tuple[int, int | None]:
    step = next(s for s in report.steps if s.name == name)
    return step.count, step.parent_count


def funnel_reading(report: FunnelReport, policy: CellPolicy) -> str:
    planned = report.planned
    if not planned:
        return "No messages were planned in this period."
    sent, _ = _step(report, "sent")
    delivered, _ = _step(report, "delivered")
    replied, _ = _step(report, "replied")
    confirmed, _ = _step(report, "confirmed")
    attended, _ = _step(report, "attended")
    text = (
        f"Of {policy.count_text(planned)} messages planned, {policy.rate_text(sent, planned)} "
        f"were sent and {policy.rate_text(delivered, sent)} of those were delivered; "
        f"{policy.rate_text(replied, delivered)} of delivered messages got a reply"
    )
    if confirmed:
        text += (
            f", {policy.count_text(confirmed)} confirmed by reply"
            f" and {policy.rate_text(attended, confirmed)} of those attended"
        )
    return text + "."


def daily_reading(report: FunnelReport, policy: CellPolicy) -> str:
    daily = report.daily
    if "sent" not in daily or not int(daily["sent"].sum()):
        return "Nothing was sent in this period."
    active = int((daily["sent"] > 0).sum())
    peak = daily.loc[daily["sent"].idxmax()]
    return (
        f"Sends peaked on {pd.Timestamp(peak['day']):%a %d %b} "
        f"({policy.count_text(int(peak['sent']))}); messages went out on {active} of "
        f"{len(daily)} days."
    )


def channels_reading(report: FunnelReport, policy: CellPolicy) -> str:
    channels = report.channels
    if channels.empty or not int(channels["sent"].sum()):
        return "No channel sent anything in this period."
    rated = []
    for _, row in channels.iterrows():
        delivered = policy.rate(int(row["delivered"]), int(row["sent"]))
        replied = policy.rate(int(row["replied"]), int(row["delivered"]))
        if delivered is not None:
            rated.append((str(row["channel"]), delivered, replied))
    if not rated:
        return "Each channel sent too few messages to show its rates."
    best = max(rated, key=lambda r: r[1])
    text = f"{channel_name(best[0])} delivered best ({best[1] * 100:.1f}%)"
    with_replies = [r for r in rated if r[2] is not None]
    if with_replies:
        top = max(with_replies, key=lambda r: r[2] or 0.0)
        text += f"; replies were highest on {channel_name(top[0])} ({(top[2] or 0) * 100:.1f}%)"
    costs = [
        (str(row["channel"]), int(row["cost_micros"]), int(row["priced"]), row.get("cost_currency"))
        for _, row in channels.iterrows()
        if int(row["priced"])
    ]
    if costs:
        channel, micros, priced, currency = max(costs, key=lambda c: c[1])
        currency = currency if isinstance(currency, str) else None
        text += (
            f"; {channel_name(channel)} cost {money(micros, currency)}"
            f" ({money(micros // max(priced, 1), currency, 4)} a message)"
        )
    return text + "."


def verdict_hidden(verdict: AbVerdict, policy: CellPolicy) -> bool:
    """Whether an arm's counts are too small to show: then so are its rates and intervals."""
    return any(
        policy.hides(n)
        for result in verdict.arms
        for n in (result.arm.trials, result.arm.successes, result.arm.trials - result.arm.successes)
    )


def verdict_reading(verdict: AbVerdict, policy: CellPolicy) -> str:
    if verdict_hidden(verdict, policy):
        return "Too few to show: some group's counts fall under the small-cell threshold."
    if verdict.conclusions:
        return " ".join(verdict.conclusions)
    if verdict.warnings:
        return "Too few to conclude yet: " + " ".join(verdict.warnings)
    return "Only one group: nothing to compare."


def variants_reading(report: FunnelReport, policy: CellPolicy) -> str:
    if not report.variant_verdicts:
        return "No campaign in this period had A/B variants or a hold-out to compare."
    first_campaign, first = report.variant_verdicts[0]
    return f"Campaign {first_campaign}, {first.metric}: {verdict_reading(first, policy)}"


def _top_share(items: tuple[tuple[str, int], ...], policy: CellPolicy) -> tuple[str, str, str]:
    total = sum(count for _, count in items)
    label, count = items[0]
    return label_text(label), policy.rate_text(count, total), policy.count_text(total)


def suppressions_reading(report: FunnelReport, policy: CellPolicy) -> str:
    if not report.suppression_reasons:
        return "No message was suppressed."
    label, share, total = _top_share(report.suppression_reasons, policy)
    return f"Most suppressions were “{label}” ({share} of {total} suppressed)."


def intents_reading(report: FunnelReport, policy: CellPolicy) -> str:
    if not report.reply_intents:
        return "No reply was matched to a message in this period."
    label, share, total = _top_share(report.reply_intents, policy)
    return f"Most replying messages were answered “{label}” ({share} of {total})."


def readings(report: FunnelReport, policy: CellPolicy) -> Readings:
    return Readings(
        funnel=funnel_reading(report, policy),
        daily=daily_reading(report, policy),
        channels=channels_reading(report, policy),
        variants=variants_reading(report, policy),
        suppressions=suppressions_reading(report, policy),
        intents=intents_reading(report, policy),
    )
