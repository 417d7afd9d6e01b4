"""Use case "funnel report": the rollups of a scope -> a ``FunnelReport`` (the CLI, the API, the
demo and the weekly e-mail all build theirs here)."""

from __future__ import annotations

from datetime import datetime

from outreach.analytics.funnel_report import FunnelReport, build_funnel_report
from outreach.analytics.rollup_rows import REPORT_DIMENSIONS, ReportScope
from outreach.sql.store import Store


def funnel_report(
    store: Store,
    scope: ReportScope,
    now: datetime,
    *,
    title: str | None = None,
    detailed: bool = False,
) -> FunnelReport:
    """Grouped reads, each returning a few hundred rows (counters per day and channel, the
    variants' per campaign, variant and channel, latency histograms per channel, reasons and
    intents, campaign arms and their bookings), then pandas. ``detailed`` adds the counters of
    every day, campaign, purpose, channel and variant, for the CSV and JSON forms."""
    with store.reading() as repos:
        stats = repos.stats.totals(scope, ["day", "channel"])
        variant_stats = repos.stats.totals(
            scope, ["campaign_id", "variant", "channel"], with_variant=True
        )
        # Latency histograms have no purpose and enrolments no channel: a report cut by one
        # leaves them out (no median times; no hold-out verdict) rather than show them uncut.
        latencies = repos.stats.latency_totals(scope, ["channel"]) if scope.purpose is None else []
        breakdowns = repos.stats.breakdown_totals(scope)
        enrolments = repos.experiments.enrolment_outcomes(scope) if scope.channel is None else []
        rows = repos.stats.totals(scope, REPORT_DIMENSIONS) if detailed else None
    return build_funnel_report(
        scope,
        stats=stats,
        variant_stats=variant_stats,
        latencies=latencies,
        breakdowns=breakdowns,
        enrolments=enrolments,
        detailed=rows,
        generated_at=now,
        title=title,
    )
