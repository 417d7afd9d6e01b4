"""A funnel report: everything the table, CSV, JSON and HTML forms show, worked out once from the
rollup rows of its scope (pure: the rows come in, the report comes out).

Counts here are exact; small-cell suppression is applied when a report is shown
(``small_cells.CellPolicy``), so the same report can go to an authorised analyst exactly and
into a file with its small counts hidden.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime

import pandas as pd

from outreach.analytics.ab_test import AbVerdict, Arm, evaluate
from outreach.analytics.funnel import (
    FUNNEL_STEPS,
    SIDE_STEPS,
    FunnelStep,
    funnel_steps,
    latency_medians,
    stats_frame,
    with_rates,
)
from outreach.analytics.job_facts import (
    NO_CHANNEL,
    NO_VARIANT,
    REPLY_INTENT,
    STAT_COLUMNS,
    SUPPRESSION_REASON,
)
from outreach.analytics.rollup_rows import (
    REPORT_DIMENSIONS,
    BreakdownRow,
    LatencyRow,
    ReportScope,
    StatsRow,
)


@dataclass(frozen=True, slots=True)
class EnrolmentOutcome:
    """Patients of one campaign arm (a variant, or the hold-out when ``variant`` is None) and how
    many of them booked a visit after they were enrolled."""

    campaign_id: int
    variant: str | None
    enrolled: int
    converted: int


@dataclass(frozen=True, slots=True)
class FunnelReport:
    """One report's content; counts exact."""

    scope: ReportScope
    title: str
    generated_at: datetime
    steps: tuple[FunnelStep, ...]
    side_steps: tuple[FunnelStep, ...]
    # One row per (day, org, campaign, purpose, channel, variant), counters and rates: only when
    # the report was asked for in detail (CSV, JSON); empty otherwise.
    rows: pd.DataFrame
    daily: pd.DataFrame
    channels: pd.DataFrame
    channel_medians: dict[str, dict[str, float | None]]
    suppression_reasons: tuple[tuple[str, int], ...]
    reply_intents: tuple[tuple[str, int], ...]
    # Per campaign with variants: its A/B verdicts (message metrics, and the hold-out's).
    variant_verdicts: tuple[tuple[int, AbVerdict], ...] = field(default_factory=tuple)

    @property
    def planned(self) -> int:
        return self.steps[0].count if self.steps else 0


def _labels(rows: Sequence[BreakdownRow], kind: str) -> tuple[tuple[str, int], ...]:
    totals: dict[str, int] = defaultdict(int)
    for row in rows:
        if row.kind == kind:
            totals[row.label] += row.jobs
    return tuple(sorted(totals.items(), key=lambda item: (-item[1], item[0])))


def _daily(rows: pd.DataFrame, scope: ReportScope) -> pd.DataFrame:
    """Every day of the scope, with zeros on days without messages (a trend has no gaps)."""
    daily = with_rates(rows, ["day"])
    days = pd.DataFrame({"day": [d.date() for d in pd.date_range(scope.start, scope.end)]})
    if daily.empty:
        return days
    merged = days.merge(daily, on="day", how="left")
    counters = [c for c in daily.columns if c in STAT_COLUMNS or c == "cost_micros"]
    merged[counters] = merged[counters].fillna(0).astype("int64")
    return merged


def _variant_verdicts(
    rows: pd.DataFrame, enrolments: Sequence[EnrolmentOutcome]
) -> tuple[tuple[int, AbVerdict], ...]:
    verdicts: list[tuple[int, AbVerdict]] = []
    with_variant = rows[rows["variant"] != NO_VARIANT] if "variant" in rows else rows.iloc[0:0]
    campaigns = {int(c) for c in with_variant["campaign_id"]} if not with_variant.empty else set()
    for campaign_id in sorted(campaigns | {e.campaign_id for e in enrolments}):
        of_campaign = (
            with_variant[with_variant["campaign_id"] == campaign_id]
            if not with_variant.empty
            else with_variant
        )
        by_variant = with_rates(of_campaign, ["variant"]) if not of_campaign.empty else None
        if by_variant is not None and len(by_variant) >= 2:
            arms = [
                Arm(str(r["variant"]), int(r["delivered"]), int(r["replied"]))
                for _, r in by_variant.iterrows()
            ]
            verdicts.append((campaign_id, evaluate(arms, metric="replied of delivered")))
            email = of_campaign[of_campaign["channel"] == "email"]
            if not email.empty and int(email["clicked"].sum()) > 0:
                email_arms = with_rates(email, ["variant"])
                if len(email_arms) >= 2:
                    verdicts.append(
                        (
                            campaign_id,
                            evaluate(
                                [
                                    Arm(str(r["variant"]), int(r["delivered"]), int(r["clicked"]))
                                    for _, r in email_arms.iterrows()
                                ],
                                metric="clicked of delivered e-mails",
                            ),
                        )
                    )
        arms_of_campaign = [e for e in enrolments if e.campaign_id == campaign_id]
        if len(arms_of_campaign) >= 2 and any(e.variant is None for e in arms_of_campaign):
            verdicts.append(
                (
                    campaign_id,
                    evaluate(
                        [
                            Arm(
                                e.variant if e.variant is not None else "hold-out",
                                e.enrolled,
                                e.converted,
                                is_holdout=e.variant is None,
                            )
                            for e in sorted(
                                arms_of_campaign, key=lambda e: (e.variant is not None, e.variant)
                            )
                        ],
                        metric="booked a visit after enrolment",
                    ),
                )
            )
    return tuple(verdicts)


def build_funnel_report(
    scope: ReportScope,
    *,
    stats: Sequence[StatsRow],
    latencies: Sequence[LatencyRow],
    breakdowns: Sequence[BreakdownRow],
    generated_at: datetime,
    variant_stats: Sequence[StatsRow] = (),
    enrolments: Sequence[EnrolmentOutcome] = (),
    detailed: Sequence[StatsRow] | None = None,
    title: str | None = None,
) -> FunnelReport:
    """The report of ``scope`` from its rollup rows: ``stats`` grouped by day and channel (at
    least), ``variant_stats`` the rows with a variant grouped by campaign, variant and channel,
    ``latencies`` by channel; ``detailed``, grouped by every report dimension, when the report
    must list them."""
    rows = stats_frame(stats)
    detailed_rows = stats_frame(detailed or [])
    if not detailed_rows.empty:
        detailed_rows = with_rates(detailed_rows, list(REPORT_DIMENSIONS))
    medians = latency_medians(latencies)
    by_channel: dict[str, list[LatencyRow]] = defaultdict(list)
    for row in latencies:
        by_channel[str(row.key.get("channel", "-"))].append(row)
    # Jobs suppressed before a channel was chosen belong to the suppression reasons, not here.
    sent_on = rows[rows["channel"] != NO_CHANNEL] if not rows.empty else rows
    channels = with_rates(sent_on, ["channel"]) if not sent_on.empty else sent_on
    return FunnelReport(
        scope=scope,
        title=title or _default_title(scope),
        generated_at=generated_at,
        steps=tuple(funnel_steps(rows, medians, FUNNEL_STEPS)),
        side_steps=tuple(funnel_steps(rows, medians, SIDE_STEPS)),
        rows=detailed_rows,
        daily=_daily(rows, scope),
        channels=channels,
        channel_medians={
            channel: latency_medians(channel_rows) for channel, channel_rows in by_channel.items()
        },
        suppression_reasons=_labels(breakdowns, SUPPRESSION_REASON),
        reply_intents=_labels(breakdowns, REPLY_INTENT),
        variant_verdicts=_variant_verdicts(stats_frame(variant_stats), enrolments),
    )


def _default_title(scope: ReportScope) -> str:
    who = f"organisation {scope.org_id}" if scope.org_id else "all organisations"
    if scope.campaign_id is not None:
        who += f", campaign {scope.campaign_id}"
    if scope.purpose is not None:
        who += f", purpose {scope.purpose}"
    if scope.channel is not None:
        who += f", channel {scope.channel}"
    return f"Messaging funnel, {who}: {scope.start:%d %b %Y} to {scope.end:%d %b %Y}"
