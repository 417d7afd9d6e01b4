"""What reports read from the rollups: their scope and the summed rows they get back."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date

# The dimensions a report may cut the rollups by (``comm_stats`` keys, without the provider).
REPORT_DIMENSIONS = ("day", "org_id", "campaign_id", "purpose", "channel", "variant")


@dataclass(frozen=True, slots=True)
class ReportScope:
    """Which rollups a report covers: organisation's days ``start``..``end`` (both included),
    one organisation or all, one campaign or all, one purpose or all, one channel or all.

    Not every rollup is kept per purpose and channel: latency histograms have no purpose, and a
    campaign's enrolments (the hold-out's verdict) no channel. A report scoped by one of those
    leaves out what cannot be cut by it (``funnel_reports``) rather than show it uncut."""

    start: date
    end: date
    org_id: str | None = None
    campaign_id: int | None = None
    purpose: str | None = None
    channel: str | None = None

    def __post_init__(self) -> None:
        if self.end < self.start:
            raise ValueError("the report's end comes before its start")

    @property
    def days(self) -> int:
        return (self.end - self.start).days + 1


@dataclass(frozen=True, slots=True)
class StatsRow:
    """``comm_stats`` counters summed over a group of rows; ``key`` holds the dimensions the
    rows were grouped by, in the order asked."""

    key: Mapping[str, object]
    counts: Mapping[str, int]
    cost_micros: int = 0
    cost_currency: str | None = None


@dataclass(frozen=True, slots=True)
class BreakdownRow:
    """Jobs with one suppression reason or reply intent, summed over a group of rows."""

    kind: str
    label: str
    jobs: int
    key: Mapping[str, object] = field(default_factory=dict)


@dataclass(frozen=True, slots=True)
class LatencyRow:
    """The time between two steps as a histogram (jobs per bucket), summed over a group."""

    pair: str
    buckets: Sequence[int]
    key: Mapping[str, object] = field(default_factory=dict)
