"""A week of a made-up organisation's messages, built through the real arithmetic (job facts ->
rollup rows -> report), for the tests of what reports show."""

from __future__ import annotations

import random
from collections import defaultdict
from datetime import UTC, date, datetime, timedelta

from outreach.analytics.funnel_report import FunnelReport, build_funnel_report
from outreach.analytics.job_facts import (
    STAT_COLUMNS,
    JobSnapshot,
    JobSources,
    ProviderReport,
    ReplyFact,
    VisitOutcome,
    job_facts,
)
from outreach.analytics.latency import BUCKETS
from outreach.analytics.rollup import rollup_of
from outreach.analytics.rollup_rows import (
    REPORT_DIMENSIONS,
    BreakdownRow,
    LatencyRow,
    ReportScope,
    StatsRow,
)
from outreach.domain import JobStatus

START = datetime(2026, 3, 2, 13, 0, tzinfo=UTC)
PROVIDERS = {"sms": "twilio", "email": "sendgrid", "whatsapp": "whatsapp"}


def _sources(job_id: int, rng: random.Random) -> JobSources:
    planned = START + timedelta(days=rng.randrange(7), minutes=rng.randrange(600))
    channel = rng.choice(["sms", "email", "whatsapp"])
    variant = rng.choice(["A", "B"]) if job_id % 3 == 0 else None
    status = rng.choice([JobStatus.SENT] * 8 + [JobStatus.SUPPRESSED, JobStatus.CANCELLED])
    sent = planned + timedelta(minutes=rng.randrange(1, 300)) if status is JobStatus.SENT else None
    provider = PROVIDERS[channel]
    reports: list[ProviderReport] = []
    replies: list[ReplyFact] = []
    if sent is not None:
        price = 7900 if channel == "sms" else None
        reports.append(ProviderReport("sent", sent, provider, price, "USD" if price else None))
        roll = rng.random()
        if roll < 0.93:
            delivered = sent + timedelta(seconds=rng.expovariate(1 / 30))
            reports.append(ProviderReport("delivered", delivered, provider))
            if channel != "sms" and rng.random() < 0.5:
                opened = delivered + timedelta(minutes=rng.expovariate(1 / 60))
                reports.append(ProviderReport("opened", opened, provider))
                if channel == "email" and rng.random() < 0.3:
                    reports.append(
                        ProviderReport("clicked", opened + timedelta(minutes=9), provider)
                    )
            if rng.random() < (0.22 if variant == "B" else 0.12):
                intent = rng.choice(["confirm", "confirm", "stop", "reschedule", "other"])
                replies.append(
                    ReplyFact(delivered + timedelta(minutes=rng.expovariate(1 / 20)), intent)
                )
        elif roll < 0.97:
            reports.append(ProviderReport("failed", sent + timedelta(seconds=5), provider))
        else:
            reports.append(ProviderReport("bounced", sent + timedelta(seconds=5), provider))
    job = JobSnapshot(
        job_id=job_id,
        org_id="org-sample",
        purpose=rng.choice(["appt_confirm", "appt_reminder", "campaign_education"]),
        channel=None if status is JobStatus.SUPPRESSED else channel,
        campaign_id=7 if variant else None,
        variant=variant,
        status=status,
        suppression_reason=(
            rng.choice(["no_consent", "opted_out", "quiet_hours_deadline"])
            if status is JobStatus.SUPPRESSED
            else None
        ),
        requested_at=planned,
        created_at=planned,
        sent_at=sent,
        appointment_id=f"a{job_id}",
    )
    visit = VisitOutcome(
        rng.choice(["attended", "attended", "no_show"]), planned + timedelta(days=1)
    )
    return JobSources(job, reports, replies, visit)


def sample_report(jobs: int = 3000, seed: int = 3) -> FunnelReport:
    """The report of a week of ``jobs`` messages, rows grouped as the repository groups them."""
    rng = random.Random(seed)
    change = rollup_of(job_facts(_sources(i, rng), "America/New_York") for i in range(jobs))
    counts: dict[tuple, dict[str, int]] = defaultdict(lambda: defaultdict(int))
    costs: dict[tuple, int] = defaultdict(int)
    for group, values in change.counts.items():
        key = (
            group.day,
            group.org_id,
            group.campaign_id,
            group.purpose,
            group.channel,
            group.variant,
        )
        for column, value in values.items():
            counts[key][column] += value
        costs[key] += change.costs.get(group, 0)
    stats = [
        StatsRow(
            dict(zip(REPORT_DIMENSIONS, key, strict=True)),
            {c: values.get(c, 0) for c in STAT_COLUMNS},
            costs[key],
            "USD" if costs[key] else None,
        )
        for key, values in counts.items()
    ]
    histograms: dict[tuple[str, str], list[int]] = defaultdict(lambda: [0] * BUCKETS)
    for key, histogram in change.latencies.items():
        summed = histograms[(key.channel, key.pair)]
        for bucket, value in enumerate(histogram):
            summed[bucket] += value
    latencies = [LatencyRow(pair, h, {"channel": c}) for (c, pair), h in histograms.items()]
    labels: dict[tuple[str, str], int] = defaultdict(int)
    for (_, kind, label), value in change.breakdowns.items():
        labels[(kind, label)] += value
    breakdowns = [BreakdownRow(kind, label, value) for (kind, label), value in labels.items()]
    return build_funnel_report(
        ReportScope(date(2026, 3, 2), date(2026, 3, 8), "org-sample"),
        stats=stats,
        variant_stats=[row for row in stats if row.key["variant"] != "-"],
        detailed=stats,
        latencies=latencies,
        breakdowns=breakdowns,
        generated_at=datetime(2026, 3, 9, 13, 0, tzinfo=UTC),
    )
