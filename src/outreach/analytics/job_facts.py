"""One job's funnel, worked out from everything stored about it, and what it adds to the rollups.

The facts of a job are a function of the *set* of its provider reports and replies, never of
their order: each step's time is the earliest evidence of it, a later step implies the earlier
ones it cannot happen without (a reply or an open means the message was delivered, a click means
it was opened), and a delivery outranks a contradicting failure report. So replays, duplicates
and statuses arriving out of order give the same facts, and the rollups built from facts are the
same whichever way (incrementally or by a rebuild) they were computed.
"""

from __future__ import annotations

import enum
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import date, datetime
from functools import lru_cache
from typing import NamedTuple
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from outreach.analytics.latency import bucket_of
from outreach.domain import JobStatus

# Stand-ins for "none" in group keys, so unique keys work on every engine (NULLs never clash).
NO_CHANNEL = "-"
NO_CAMPAIGN = 0
NO_VARIANT = "-"
NO_PROVIDER = "-"

CONFIRM_INTENT = "confirm"
STOP_INTENT = "stop"
ATTENDED = "attended"
NO_SHOW = "no_show"


class FunnelState(enum.StrEnum):
    """Where a job stands, exclusive: every job is in exactly one of these."""

    QUEUED = "queued"  # planned, not gone out yet (queued or being sent)
    SUPPRESSED = "suppressed"  # never sent: consent or timing rules said no
    CANCELLED = "cancelled"  # never sent: the appointment changed, or the patient said STOP
    FAILED = "failed"  # not delivered: the provider or the send path gave up
    BOUNCED = "bounced"  # not delivered: the provider reported a bounce
    SENT = "sent"  # accepted by the provider, no delivery report (yet)
    DELIVERED = "delivered"  # delivered, or anything that implies it


class FunnelGroup(NamedTuple):
    """The rollup key: a day (the organisation's, when the job was asked for) and dimensions."""

    day: date
    org_id: str
    purpose: str
    channel: str
    campaign_id: int
    variant: str
    provider: str


@dataclass(frozen=True, slots=True)
class JobSnapshot:
    """The columns of a ``comm_jobs`` row the funnel reads."""

    job_id: int
    org_id: str
    purpose: str
    channel: str | None
    campaign_id: int | None
    variant: str | None
    status: JobStatus
    suppression_reason: str | None
    requested_at: datetime
    created_at: datetime
    sent_at: datetime | None
    appointment_id: str | None


@dataclass(frozen=True, slots=True)
class ProviderReport:
    """One stored provider status of the job (``comm_status_events``)."""

    status: str
    occurred_at: datetime
    provider: str
    # What the provider charged for the message, in millionths of ``price_unit`` (e.g. USD).
    price_micros: int | None = None
    price_unit: str | None = None


@dataclass(frozen=True, slots=True)
class ReplyFact:
    """One patient reply matched to the job (``comm_inbound``): when, and what it meant."""

    received_at: datetime
    intent: str | None


@dataclass(frozen=True, slots=True)
class VisitOutcome:
    """How the job's appointment ended (``appointments``): attended or no_show, and when."""

    status: str
    at: datetime


@dataclass(frozen=True, slots=True)
class JobSources:
    """Everything stored about one job that its funnel reads."""

    job: JobSnapshot
    reports: Sequence[ProviderReport] = ()
    replies: Sequence[ReplyFact] = ()
    visit: VisitOutcome | None = None


@dataclass(frozen=True, slots=True)
class JobFacts:
    """A job's funnel: its group, where it stands, and the first time it reached each step."""

    job_id: int
    group: FunnelGroup
    state: FunnelState
    suppression_reason: str | None
    planned_at: datetime
    sent_at: datetime | None
    delivered_at: datetime | None
    opened_at: datetime | None
    clicked_at: datetime | None
    replied_at: datetime | None
    confirmed_at: datetime | None
    reply_intents: tuple[str, ...]
    unsubscribed: bool
    visit_outcome: str | None
    visit_at: datetime | None
    price_micros: int | None
    price_unit: str | None

    @property
    def attended(self) -> bool:
        """Confirmed by reply, then came: the last step of the funnel."""
        return self.confirmed_at is not None and self.visit_outcome == ATTENDED

    @property
    def no_show(self) -> bool:
        """Confirmed by reply, then did not come."""
        return self.confirmed_at is not None and self.visit_outcome == NO_SHOW


# The counters of ``comm_stats``, each a number of jobs.
STAT_COLUMNS: tuple[str, ...] = (
    "planned",
    "queued",
    "suppressed",
    "cancelled",
    "sent",
    "delivered",
    "opened",
    "clicked",
    "replied",
    "confirmed",
    "attended",
    "no_show",
    "failed",
    "bounced",
    "unsubscribed",
    "priced",
)
# Pairs of steps whose time apart is kept as a histogram: (name, from step, to step).
LATENCY_PAIRS: tuple[str, ...] = (
    "planned>sent",
    "sent>delivered",
    "delivered>opened",
    "opened>clicked",
    "delivered>replied",
    "replied>confirmed",
    "confirmed>attended",
    "confirmed>no_show",
)
SUPPRESSION_REASON = "suppression_reason"
REPLY_INTENT = "reply_intent"

_DELIVERY_EVIDENCE = frozenset({"delivered", "opened", "clicked"})
_OPEN_EVIDENCE = frozenset({"opened", "clicked"})
_NOT_YET_OUT = frozenset({JobStatus.QUEUED, JobStatus.PROCESSING})


@lru_cache(maxsize=1024)
def zone_of(name: str | None) -> ZoneInfo:
    """An organisation's zone; UTC when unset or unknown (as the pipeline's own fallback)."""
    try:
        return ZoneInfo(name) if name else ZoneInfo("UTC")
    except (ZoneInfoNotFoundError, ValueError):
        return ZoneInfo("UTC")


def local_day(instant: datetime, timezone: str | None) -> date:
    """The calendar day of ``instant`` in a zone (UTC when the zone is unknown or unset)."""
    return instant.astimezone(zone_of(timezone)).date()


def _earliest(times: Iterable[datetime | None]) -> datetime | None:
    present = [t for t in times if t is not None]
    return min(present) if present else None


def job_facts(sources: JobSources, org_timezone: str | None) -> JobFacts:
    """The funnel facts of one job, from its row, provider reports, replies and appointment."""
    job = sources.job
    reports = sources.reports
    by_status: dict[str, datetime] = {}
    for report in reports:
        known = by_status.get(report.status)
        if known is None or report.occurred_at < known:
            by_status[report.status] = report.occurred_at
    replies = sources.replies
    replied_at = _earliest(r.received_at for r in replies)
    confirmed_at = _earliest(r.received_at for r in replies if r.intent == CONFIRM_INTENT)
    intents = tuple(sorted({r.intent for r in replies if r.intent}))
    clicked_at = by_status.get("clicked")
    opened_at = _earliest(by_status.get(s) for s in _OPEN_EVIDENCE)
    delivered_at = _earliest([*(by_status.get(s) for s in _DELIVERY_EVIDENCE), replied_at])
    # Any provider report means the provider had the message.
    sent_at = _earliest([job.sent_at, *by_status.values()])
    state = _state(job, sent_at, delivered_at, by_status)
    priced = [r for r in reports if r.price_micros is not None]
    # A message's price is reported the same way on every report that carries it; the largest
    # is taken so the choice never depends on their order.
    price_report = (
        max(priced, key=lambda r: (r.price_micros or 0, r.price_unit or "")) if priced else None
    )
    providers = sorted({r.provider for r in reports})
    visit = sources.visit
    return JobFacts(
        job_id=job.job_id,
        group=FunnelGroup(
            day=local_day(job.requested_at, org_timezone),
            org_id=job.org_id,
            purpose=job.purpose,
            channel=job.channel or NO_CHANNEL,
            campaign_id=job.campaign_id or NO_CAMPAIGN,
            variant=job.variant or NO_VARIANT,
            provider=providers[0] if providers else NO_PROVIDER,
        ),
        state=state,
        suppression_reason=job.suppression_reason if state is FunnelState.SUPPRESSED else None,
        planned_at=job.created_at,
        sent_at=sent_at,
        delivered_at=delivered_at,
        opened_at=opened_at,
        clicked_at=clicked_at,
        replied_at=replied_at,
        confirmed_at=confirmed_at,
        reply_intents=intents,
        unsubscribed=STOP_INTENT in intents or "unsubscribed" in by_status,
        visit_outcome=visit.status if visit and visit.status in (ATTENDED, NO_SHOW) else None,
        visit_at=visit.at if visit and visit.status in (ATTENDED, NO_SHOW) else None,
        price_micros=price_report.price_micros if price_report else None,
        price_unit=price_report.price_unit if price_report else None,
    )


def _state(
    job: JobSnapshot,
    sent_at: datetime | None,
    delivered_at: datetime | None,
    by_status: dict[str, datetime],
) -> FunnelState:
    if delivered_at is not None:
        return FunnelState.DELIVERED
    if sent_at is not None:
        if "bounced" in by_status:
            return FunnelState.BOUNCED
        if "failed" in by_status or job.status is JobStatus.FAILED:
            return FunnelState.FAILED
        return FunnelState.SENT
    if job.status in _NOT_YET_OUT:
        return FunnelState.QUEUED
    if job.status is JobStatus.SUPPRESSED:
        return FunnelState.SUPPRESSED
    if job.status is JobStatus.CANCELLED:
        return FunnelState.CANCELLED
    if job.status is JobStatus.BOUNCED:
        return FunnelState.BOUNCED
    return FunnelState.FAILED


def stat_counts(facts: JobFacts) -> dict[str, int]:
    """What one job adds to each ``comm_stats`` counter (0 or 1 each)."""
    sent = facts.sent_at is not None
    return {
        "planned": 1,
        "queued": int(facts.state is FunnelState.QUEUED),
        "suppressed": int(facts.state is FunnelState.SUPPRESSED),
        "cancelled": int(facts.state is FunnelState.CANCELLED),
        "sent": int(sent),
        "delivered": int(facts.delivered_at is not None),
        "opened": int(facts.opened_at is not None),
        "clicked": int(facts.clicked_at is not None),
        "replied": int(facts.replied_at is not None),
        "confirmed": int(facts.confirmed_at is not None),
        "attended": int(facts.attended),
        "no_show": int(facts.no_show),
        "failed": int(facts.state is FunnelState.FAILED),
        "bounced": int(facts.state is FunnelState.BOUNCED),
        "unsubscribed": int(facts.unsubscribed),
        "priced": int(facts.price_micros is not None),
    }


def breakdown_labels(facts: JobFacts) -> list[tuple[str, str]]:
    """(kind, label) pairs the job counts once each under: its suppression reason, the intents
    of its replies."""
    labels = []
    if facts.suppression_reason is not None:
        labels.append((SUPPRESSION_REASON, facts.suppression_reason))
    labels.extend((REPLY_INTENT, intent) for intent in facts.reply_intents)
    return labels


def latency_buckets(facts: JobFacts) -> list[tuple[str, int]]:
    """(pair, bucket) for every pair of steps the job reached both of."""
    spans = {
        "planned>sent": (facts.planned_at, facts.sent_at),
        "sent>delivered": (facts.sent_at, facts.delivered_at),
        "delivered>opened": (facts.delivered_at, facts.opened_at),
        "opened>clicked": (facts.opened_at, facts.clicked_at),
        "delivered>replied": (facts.delivered_at, facts.replied_at),
        "replied>confirmed": (facts.replied_at, facts.confirmed_at),
        "confirmed>attended": (facts.confirmed_at, facts.visit_at if facts.attended else None),
        "confirmed>no_show": (facts.confirmed_at, facts.visit_at if facts.no_show else None),
    }
    return [
        (pair, bucket_of((end - start).total_seconds()))
        for pair, (start, end) in spans.items()
        if start is not None and end is not None
    ]
