"""Use case "funnel report": the rollups of a scope -> a ``FunnelReport`` (the CLI, the API, the
demo and the weekly e-mail all build theirs here)."""

from __future__ import annotations

from datetime import datetime

from outreach.analytics.funnel_report import FunnelReport, build_funnel_report
from outreach.analytics.rollup_rows import REPORT_DIMENSIONS, ReportScope
from outreach.sql.store import Store


def funnel_report(
    store: Store, scope: ReportScope, now: datetime, *, title: str | None = None
) -> FunnelReport:
    """Four grouped reads (counters per dimension, latency histograms per channel, reasons and
    intents, campaign arms and their bookings), then pandas."""
    with store.reading() as repos:
        stats = repos.stats.totals(scope, REPORT_DIMENSIONS)
        latencies = repos.stats.latency_totals(scope, ["channel"])
        breakdowns = repos.stats.breakdown_totals(scope)
        enrolments = repos.experiments.enrolment_outcomes(scope)
    return build_funnel_report(
        scope,
        stats=stats,
        latencies=latencies,
        breakdowns=breakdowns,
        enrolments=enrolments,
        generated_at=now,
        title=title,
    )
