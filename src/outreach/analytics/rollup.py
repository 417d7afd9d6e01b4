"""What jobs add to the rollup tables, and what a change in their facts adds or takes away.

The incremental path and a rebuild share this arithmetic: a rebuild adds up the facts of every
job of a range; the incremental path adds, for each job whose facts changed, its new facts and
takes away its old ones. A job that moves group (its first provider report names the provider, a
fallback changes its channel) is taken from one row and added to another.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import date
from typing import NamedTuple

from outreach.analytics.job_facts import (
    STAT_COLUMNS,
    FunnelGroup,
    JobFacts,
    breakdown_labels,
    latency_buckets,
    stat_counts,
)
from outreach.analytics.latency import BUCKETS


class LatencyKey(NamedTuple):
    """Latency histograms are kept per organisation, day, campaign and channel (not every
    dimension): reports show medians overall and per channel, of a campaign or all."""

    org_id: str
    day: date
    campaign_id: int
    channel: str
    pair: str


@dataclass
class RollupChange:
    """Counts to add to the rollup rows (negative: to take away), by key."""

    # comm_stats: per group, each counter, and the summed price (millionths) of the priced jobs.
    counts: dict[FunnelGroup, Counter[str]] = field(default_factory=dict)
    costs: dict[FunnelGroup, int] = field(default_factory=dict)
    currencies: dict[FunnelGroup, str] = field(default_factory=dict)
    # comm_stats_breakdowns: (group, kind, label) -> jobs.
    breakdowns: Counter[tuple[FunnelGroup, str, str]] = field(default_factory=Counter)
    # comm_stats_latency: (organisation, day, channel, pair) -> jobs per bucket.
    latencies: dict[LatencyKey, list[int]] = field(default_factory=dict)

    def add(self, facts: JobFacts, sign: int = 1) -> None:
        group = facts.group
        counts = self.counts.setdefault(group, Counter())
        for column, value in stat_counts(facts).items():
            if value:
                counts[column] += sign * value
        if facts.price_micros is not None:
            self.costs[group] = self.costs.get(group, 0) + sign * facts.price_micros
            if facts.price_unit and sign > 0:
                self.currencies[group] = facts.price_unit
        for kind, label in breakdown_labels(facts):
            self.breakdowns[(group, kind, label)] += sign
        for pair, bucket in latency_buckets(facts):
            key = LatencyKey(group.org_id, group.day, group.campaign_id, group.channel, pair)
            histogram = self.latencies.setdefault(key, [0] * BUCKETS)
            histogram[bucket] += sign

    def pruned(self) -> RollupChange:
        """The same change without the entries that cancel out."""
        counts = {}
        for group, values in self.counts.items():
            kept = Counter({c: v for c, v in values.items() if v})
            if kept or self.costs.get(group):
                counts[group] = kept
        return RollupChange(
            counts=counts,
            costs={g: c for g, c in self.costs.items() if c},
            currencies={g: u for g, u in self.currencies.items() if g in counts},
            breakdowns=Counter({k: v for k, v in self.breakdowns.items() if v}),
            latencies={k: h for k, h in self.latencies.items() if any(h)},
        )

    @property
    def is_empty(self) -> bool:
        return not (self.counts or self.costs or self.breakdowns or self.latencies)

    @property
    def takes_away(self) -> bool:
        """Whether some row may drop to zero (and should then be removed)."""
        return (
            any(v < 0 for values in self.counts.values() for v in values.values())
            or any(v < 0 for v in self.breakdowns.values())
            or any(b < 0 for histogram in self.latencies.values() for b in histogram)
        )


def rollup_of(facts: Iterable[JobFacts]) -> RollupChange:
    """The rollup rows of a set of jobs, as a rebuild writes them."""
    change = RollupChange()
    for job in facts:
        change.add(job)
    return change.pruned()


def rollup_change(
    before: Mapping[int, JobFacts], after: Mapping[int, JobFacts | None]
) -> RollupChange:
    """What moving jobs from their stored facts (``before``) to their current ones (``after``;
    None for a job that no longer exists) changes in the rollups."""
    change = RollupChange()
    for job_id, new in after.items():
        old = before.get(job_id)
        if old == new:
            continue
        if old is not None:
            change.add(old, -1)
        if new is not None:
            change.add(new)
    return change.pruned()


def stat_values(counts: Mapping[str, int]) -> dict[str, int]:
    """Every ``comm_stats`` counter, zero where the change has none."""
    return {column: int(counts.get(column, 0)) for column in STAT_COLUMNS}
