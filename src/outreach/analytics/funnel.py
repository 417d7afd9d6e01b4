"""The funnel: planned -> suppressed (by reason) -> sent -> delivered -> opened -> clicked ->
replied -> confirmed -> attended (or no-show), with the rate of each step and the median time
from the step it follows, read from the rollups with pandas.

Each step's rate is its count over its parent's: opened and clicked over what was delivered and
opened *on channels whose provider reports opens and clicks* (an SMS open is never reported, so
SMS would only dilute the rate), replied over delivered, confirmed over replied, attended and
no-show over confirmed.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import pandas as pd

from outreach.analytics.job_facts import STAT_COLUMNS
from outreach.analytics.latency import BUCKETS, median_seconds
from outreach.analytics.rollup_rows import LatencyRow, StatsRow

# Providers that report opens (SendGrid's open, WhatsApp's read) and clicks (SendGrid's click).
OPEN_REPORTING_CHANNELS = frozenset({"email", "whatsapp"})
CLICK_REPORTING_CHANNELS = frozenset({"email"})


@dataclass(frozen=True, slots=True)
class StepSpec:
    """One step: its column, its name for people, the step it follows, the latency pair timing
    it, and the channels that can report it (None: every channel)."""

    name: str
    label: str
    parent: str | None
    pair: str | None = None
    channels: frozenset[str] | None = None


FUNNEL_STEPS: tuple[StepSpec, ...] = (
    StepSpec("planned", "Planned", None),
    StepSpec("suppressed", "Suppressed", "planned"),
    StepSpec("sent", "Sent", "planned", "planned>sent"),
    StepSpec("delivered", "Delivered", "sent", "sent>delivered"),
    StepSpec("opened", "Opened", "delivered", "delivered>opened", OPEN_REPORTING_CHANNELS),
    StepSpec("clicked", "Clicked", "opened", "opened>clicked", CLICK_REPORTING_CHANNELS),
    StepSpec("replied", "Replied", "delivered", "delivered>replied"),
    StepSpec("confirmed", "Confirmed", "replied", "replied>confirmed"),
    StepSpec("attended", "Attended", "confirmed", "confirmed>attended"),
    StepSpec("no_show", "No-show", "confirmed", "confirmed>no_show"),
)
# Where the rest went: shown beside the funnel, each over the step it left from.
SIDE_STEPS: tuple[StepSpec, ...] = (
    StepSpec("queued", "Not sent yet", "planned"),
    StepSpec("cancelled", "Cancelled", "planned"),
    StepSpec("failed", "Failed", "planned"),
    StepSpec("bounced", "Bounced", "sent"),
    StepSpec("unsubscribed", "Unsubscribed", "delivered"),
)
STEPS_BY_NAME = {s.name: s for s in (*FUNNEL_STEPS, *SIDE_STEPS)}


@dataclass(frozen=True, slots=True)
class FunnelStep:
    """One step of a funnel as a report shows it."""

    name: str
    label: str
    count: int
    parent: str | None
    parent_count: int | None
    median_seconds: float | None = None
    # Set when only some channels can report the step (the rate is over those).
    channels: frozenset[str] | None = None
    # The latency pair timing the step from its parent (None: not timed).
    pair: str | None = None

    @property
    def rate(self) -> float | None:
        """The share of the parent step that reached this one (None: nothing to divide by)."""
        if not self.parent_count:
            return None
        return self.count / self.parent_count


def stats_frame(rows: Sequence[StatsRow]) -> pd.DataFrame:
    """Rollup rows as a frame: their key columns, every counter, and the cost."""
    records = [
        {
            **row.key,
            **row.counts,
            "cost_micros": row.cost_micros,
            "cost_currency": row.cost_currency,
        }
        for row in rows
    ]
    frame = pd.DataFrame.from_records(records)
    if frame.empty:
        return pd.DataFrame(columns=[*STAT_COLUMNS, "cost_micros", "cost_currency"])
    return frame


def _restricted(frame: pd.DataFrame, column: str, channels: frozenset[str] | None) -> int:
    """The column summed over the rows of channels that can report it."""
    if frame.empty:
        return 0
    if channels is None or "channel" not in frame:
        return int(frame[column].sum())
    return int(frame.loc[frame["channel"].isin(channels), column].sum())


def latency_medians(rows: Sequence[LatencyRow]) -> dict[str, float | None]:
    """The median seconds of each pair of steps, over every row given."""
    histograms: dict[str, list[int]] = {}
    for row in rows:
        summed = histograms.setdefault(row.pair, [0] * BUCKETS)
        for bucket, jobs in enumerate(row.buckets):
            summed[bucket] += jobs
    return {pair: median_seconds(histogram) for pair, histogram in histograms.items()}


def funnel_steps(
    frame: pd.DataFrame,
    medians: dict[str, float | None] | None = None,
    specs: Sequence[StepSpec] = FUNNEL_STEPS,
) -> list[FunnelStep]:
    """The funnel over every row of ``frame`` (rows must carry ``channel`` for the opened and
    clicked rates to leave out channels that cannot report them)."""
    medians = medians or {}
    steps = []
    for spec in specs:
        count = _restricted(frame, spec.name, spec.channels)
        parent_count = None
        if spec.parent is not None:
            # The parent counted on the channels that can report this step.
            parent_count = _restricted(frame, spec.parent, spec.channels)
        steps.append(
            FunnelStep(
                spec.name,
                spec.label,
                count,
                spec.parent,
                parent_count,
                medians.get(spec.pair) if spec.pair else None,
                spec.channels,
                spec.pair,
            )
        )
    return steps


def with_rates(frame: pd.DataFrame, by: Sequence[str]) -> pd.DataFrame:
    """``frame`` summed per value of ``by``, with every step's rate over its parent
    (``<step>_rate``; empty where the parent is zero or no row's channel reports the step)."""
    work = frame.copy()
    if work.empty:
        return pd.DataFrame(columns=[*by, *STAT_COLUMNS])
    # Parents of channel-restricted steps, counted on the reporting channels only.
    for spec in (*FUNNEL_STEPS, *SIDE_STEPS):
        if spec.channels is not None and spec.parent is not None:
            reporting = work["channel"].isin(spec.channels) if "channel" in work else True
            work[f"_{spec.name}_of"] = work[spec.parent].where(reporting, 0)
            work[f"_{spec.name}_n"] = work[spec.name].where(reporting, 0)
    numeric = [
        c for c in work.columns if c in STAT_COLUMNS or c == "cost_micros" or c.startswith("_")
    ]
    if by:
        grouped = work.groupby(list(by), as_index=False, sort=True)
        summed = grouped[numeric].sum()
        if "cost_currency" in work:
            # One currency per provider account: the group's first reported one.
            summed["cost_currency"] = grouped["cost_currency"].first()["cost_currency"]
    else:
        summed = work[numeric].sum().to_frame().T
        if "cost_currency" in work:
            currencies = work["cost_currency"].dropna()
            summed["cost_currency"] = currencies.iloc[0] if len(currencies) else None
    for spec in (*FUNNEL_STEPS, *SIDE_STEPS):
        if spec.parent is None:
            continue
        if spec.channels is not None:
            numerator, denominator = summed[f"_{spec.name}_n"], summed[f"_{spec.name}_of"]
        else:
            numerator, denominator = summed[spec.name], summed[spec.parent]
        summed[f"{spec.name}_rate"] = (numerator / denominator.where(denominator > 0)).astype(
            "float64"
        )
    return summed.drop(columns=[c for c in summed.columns if c.startswith("_")])
