"""The rollup tables (``comm_stats``, ``comm_stats_breakdowns``, ``comm_stats_latency``): changes
applied as additions, and sums over a report's scope read back.

Every statement that reads for a report groups and sums in the database, so a year of one
organisation comes back as a few thousand rows at most.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import date
from typing import Any

from sqlalchemy import BigInteger, Connection, Table, cast, delete, func, select

from outreach.analytics.job_facts import NO_VARIANT, STAT_COLUMNS, FunnelGroup
from outreach.analytics.latency import BUCKETS
from outreach.analytics.rollup import RollupChange, stat_values
from outreach.analytics.rollup_rows import (
    REPORT_DIMENSIONS,
    BreakdownRow,
    LatencyRow,
    ReportScope,
    StatsRow,
)
from outreach.sql.bulk import upsert_adding
from outreach.sql.models import (
    LATENCY_BUCKET_COLUMNS,
    LATENCY_KEY,
    CommStats,
    CommStatsBreakdown,
    comm_stats_latency,
)

stats = CommStats.__table__
breakdowns = CommStatsBreakdown.__table__
latency = comm_stats_latency

_KEY = tuple(FunnelGroup._fields)


def _key_values(group: FunnelGroup) -> dict[str, Any]:
    return dict(zip(_KEY, group, strict=True))


def _scoped(table: Table, scope: ReportScope) -> list[Any]:
    conditions = [table.c.day >= scope.start, table.c.day <= scope.end]
    if scope.org_id is not None:
        conditions.append(table.c.org_id == scope.org_id)
    if scope.campaign_id is not None:
        conditions.append(table.c.campaign_id == scope.campaign_id)
    for dimension in ("purpose", "channel"):
        value = getattr(scope, dimension)
        if value is None:
            continue
        if dimension not in table.c:
            raise ValueError(f"{table.name} is not kept per {dimension}")
        conditions.append(table.c[dimension] == value)
    return conditions


def _summed(column: Any) -> Any:
    """SUM as a whole number: MariaDB sums integers as DECIMAL, which the driver turns into
    ``Decimal`` objects one by one (most of a report's read time for a year of rows)."""
    return cast(func.sum(column), BigInteger)


def _dimensions(by: Sequence[str]) -> tuple[str, ...]:
    unknown = set(by) - set(REPORT_DIMENSIONS)
    if unknown:
        raise ValueError(f"cannot group by {sorted(unknown)}")
    return tuple(by)


class StatsRepository:
    def __init__(self, connection: Connection) -> None:
        self.connection = connection

    # ---- writing ----

    def apply(self, change: RollupChange) -> None:
        """Add a change to the rollup rows; rows it empties are removed, so the tables hold the
        same rows a rebuild would write."""
        counters = [*STAT_COLUMNS, "cost_micros"]
        upsert_adding(
            self.connection,
            stats,
            [
                {
                    **_key_values(group),
                    **stat_values(counts),
                    "cost_micros": change.costs.get(group, 0),
                    "cost_currency": change.currencies.get(group),
                }
                for group, counts in change.counts.items()
            ],
            _KEY,
            counters,
        )
        upsert_adding(
            self.connection,
            breakdowns,
            [
                {**_key_values(group), "kind": kind, "label": label, "jobs": jobs}
                for (group, kind, label), jobs in change.breakdowns.items()
            ],
            [*_KEY, "kind", "label"],
            ["jobs"],
        )
        upsert_adding(
            self.connection,
            latency,
            [
                {
                    **key._asdict(),
                    "jobs": sum(histogram),
                    **dict(zip(LATENCY_BUCKET_COLUMNS, histogram, strict=True)),
                }
                for key, histogram in change.latencies.items()
            ],
            LATENCY_KEY,
            ["jobs", *LATENCY_BUCKET_COLUMNS],
        )
        if change.takes_away:
            days = sorted(
                {g.day for g in change.counts}
                | {g.day for g, _, _ in change.breakdowns}
                | {k.day for k in change.latencies}
            )
            self._remove_empty_rows(days)

    def _remove_empty_rows(self, days: Sequence[date]) -> None:
        # Every job adds 1 to ``planned`` of its row, so a row with none holds nothing else.
        self.connection.execute(delete(stats).where(stats.c.day.in_(days), stats.c.planned == 0))
        for table in (breakdowns, latency):
            self.connection.execute(delete(table).where(table.c.day.in_(days), table.c.jobs == 0))

    def delete_days(self, start: date, end: date) -> None:
        """Remove every rollup row of these days (``start``..``end``, included)."""
        for table in (stats, breakdowns, latency):
            self.connection.execute(delete(table).where(table.c.day >= start, table.c.day <= end))

    # ---- reading for reports ----

    def totals(
        self, scope: ReportScope, by: Sequence[str] = (), *, with_variant: bool = False
    ) -> list[StatsRow]:
        """``comm_stats`` summed over the scope, per value of the ``by`` dimensions (only the
        rows of A/B variants with ``with_variant``)."""
        dimensions = _dimensions(by)
        columns = [stats.c[d] for d in dimensions]
        conditions = _scoped(stats, scope)
        if with_variant:
            conditions.append(stats.c.variant != NO_VARIANT)
        query = select(
            *columns,
            *(_summed(stats.c[c]).label(c) for c in STAT_COLUMNS),
            _summed(stats.c.cost_micros).label("cost_micros"),
            func.max(stats.c.cost_currency).label("cost_currency"),
        ).where(*conditions)
        if columns:
            query = query.group_by(*columns)
        rows = []
        for row in self.connection.execute(query).mappings():
            if row["planned"] is None:
                continue  # no row in scope: SUM over nothing
            rows.append(
                StatsRow(
                    key={d: row[d] for d in dimensions},
                    counts={c: int(row[c]) for c in STAT_COLUMNS},
                    cost_micros=int(row["cost_micros"] or 0),
                    cost_currency=row["cost_currency"],
                )
            )
        return rows

    def breakdown_totals(self, scope: ReportScope, by: Sequence[str] = ()) -> list[BreakdownRow]:
        """Jobs per suppression reason and reply intent over the scope."""
        dimensions = _dimensions(by)
        columns = [breakdowns.c[d] for d in dimensions]
        query = (
            select(
                *columns,
                breakdowns.c.kind,
                breakdowns.c.label,
                _summed(breakdowns.c.jobs).label("jobs"),
            )
            .where(*_scoped(breakdowns, scope))
            .group_by(*columns, breakdowns.c.kind, breakdowns.c.label)
        )
        return [
            BreakdownRow(
                row["kind"], row["label"], int(row["jobs"]), {d: row[d] for d in dimensions}
            )
            for row in self.connection.execute(query).mappings()
            if row["jobs"]
        ]

    def latency_totals(self, scope: ReportScope, by: Sequence[str] = ()) -> list[LatencyRow]:
        """Latency histograms summed over the scope, per pair of steps (``by`` may name the
        channel and the day: they are the histograms' only dimensions)."""
        dimensions = _dimensions(by)
        if set(dimensions) - {"channel", "day", "campaign_id"}:
            raise ValueError("latency histograms are kept per day, campaign and channel only")
        columns = [latency.c[d] for d in dimensions]
        query = (
            select(
                *columns,
                latency.c.pair,
                *(_summed(latency.c[b]).label(b) for b in LATENCY_BUCKET_COLUMNS),
            )
            .where(*_scoped(latency, scope))
            .group_by(*columns, latency.c.pair)
        )
        return [
            LatencyRow(
                row["pair"],
                [int(row[b] or 0) for b in LATENCY_BUCKET_COLUMNS[:BUCKETS]],
                {d: row[d] for d in dimensions},
            )
            for row in self.connection.execute(query).mappings()
        ]

    def org_ids(self, scope: ReportScope) -> list[str]:
        """Organisations with rollup rows in the scope."""
        return sorted(
            self.connection.execute(
                select(stats.c.org_id).where(*_scoped(stats, scope)).distinct()
            ).scalars()
        )
