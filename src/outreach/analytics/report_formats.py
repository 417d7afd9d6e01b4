"""A funnel report as a table (rows of text), CSV and JSON, each through the small-cell policy."""

from __future__ import annotations

import io
import math
from typing import Any

import pandas as pd

from outreach.analytics.ab_test import AbVerdict
from outreach.analytics.funnel import FUNNEL_STEPS, SIDE_STEPS
from outreach.analytics.funnel_report import FunnelReport
from outreach.analytics.job_facts import STAT_COLUMNS
from outreach.analytics.latency import duration_text
from outreach.analytics.readings import channel_name, readings, verdict_hidden
from outreach.analytics.rollup_rows import REPORT_DIMENSIONS
from outreach.analytics.small_cells import CellPolicy

TABLE_COLUMNS = ("step", "messages", "rate", "of", "median time")
_RATED = [s for s in (*FUNNEL_STEPS, *SIDE_STEPS) if s.parent is not None]


def summary_rows(report: FunnelReport, policy: CellPolicy) -> list[tuple[str, str, str, str, str]]:
    """The funnel as rows of text: step, messages, rate, of what, median time from it."""
    rows = []
    for step in (*report.steps, *report.side_steps):
        of = step.parent or ""
        if step.channels is not None:
            of += " (" + ", ".join(channel_name(c) for c in sorted(step.channels)) + ")"
        rows.append(
            (
                step.label,
                policy.count_text(step.count),
                policy.rate_text(step.count, step.parent_count) if step.parent else "",
                of,
                duration_text(step.median_seconds) if step.pair else "",
            )
        )
    return rows


def _value(value: Any) -> Any:
    """A frame cell as JSON and CSV want it: dates as ISO text, NaN as None."""
    if isinstance(value, float) and math.isnan(value):
        return None
    if hasattr(value, "isoformat"):
        return value.isoformat()
    if hasattr(value, "item"):
        return value.item()
    return value


def shown_rows(frame: pd.DataFrame, policy: CellPolicy, keys: list[str]) -> list[dict[str, Any]]:
    """Rows of a rated frame with counts and rates as the policy shows them."""
    shown = []
    for _, row in frame.iterrows():
        record: dict[str, Any] = {key: _value(row[key]) for key in keys if key in row}
        for column in STAT_COLUMNS:
            if column in row:
                record[column] = policy.count(int(row[column]))
        for spec in _RATED:
            numerator = int(row[spec.name])
            rate = row.get(f"{spec.name}_rate")
            hidden_parent = policy.hides(int(row[spec.parent])) if spec.parent else False
            record[f"{spec.name}_rate"] = (
                None
                if rate is None or pd.isna(rate) or policy.hides(numerator) or hidden_parent
                else round(float(rate), 4)
            )
        if "cost_micros" in row:
            record["cost"] = round(int(row["cost_micros"]) / 1_000_000, 6)
        shown.append(record)
    return shown


def rows_csv(report: FunnelReport, policy: CellPolicy) -> str:
    """One line per day, organisation, campaign, purpose, channel and variant."""
    keys = list(REPORT_DIMENSIONS)
    records = shown_rows(report.rows, policy, keys)
    columns = [
        *keys,
        *STAT_COLUMNS,
        *(f"{s.name}_rate" for s in _RATED),
        "cost",
        "cost_currency",
    ]
    currencies = (
        list(report.rows["cost_currency"])
        if "cost_currency" in report.rows
        else [None] * len(records)
    )
    for record, currency in zip(records, currencies, strict=True):
        record["cost_currency"] = _value(currency)
    buffer = io.StringIO()
    pd.DataFrame.from_records(records, columns=columns).to_csv(buffer, index=False)
    return buffer.getvalue()


def _verdict_json(campaign_id: int, verdict: AbVerdict, policy: CellPolicy) -> dict[str, Any]:
    hidden = verdict_hidden(verdict, policy)
    return {
        "campaign_id": campaign_id,
        "metric": verdict.metric,
        "control": verdict.control,
        "confidence": verdict.confidence,
        "hidden_by_small_cells": hidden,
        "arms": []
        if hidden
        else [
            {
                "name": r.arm.name,
                "is_holdout": r.arm.is_holdout,
                "trials": r.arm.trials,
                "successes": r.arm.successes,
                "rate": r.arm.rate,
                "interval": list(r.interval) if r.interval else None,
                "difference": r.difference,
                "lift": r.lift,
                "z": r.z,
                "p_value": r.p_value,
                "probability_to_beat": r.probability_to_beat,
                "too_small": r.too_small,
            }
            for r in verdict.arms
        ],
        "warnings": list(verdict.warnings),
        "conclusions": [] if hidden else list(verdict.conclusions),
    }


def report_json(report: FunnelReport, policy: CellPolicy) -> dict[str, Any]:
    """The whole report as JSON-ready data."""
    scope = report.scope
    said = readings(report, policy)

    def steps(items: Any) -> list[dict[str, Any]]:
        return [
            {
                "step": s.name,
                "count": policy.count(s.count),
                "of": s.parent,
                "rate": policy.rate(s.count, s.parent_count) if s.parent else None,
                "median_seconds": round(s.median_seconds, 1)
                if s.median_seconds is not None
                else None,
                "channels": sorted(s.channels) if s.channels else None,
            }
            for s in items
        ]

    return {
        "title": report.title,
        "scope": {
            "org_id": scope.org_id,
            "campaign_id": scope.campaign_id,
            "purpose": scope.purpose,
            "channel": scope.channel,
            "from": scope.start.isoformat(),
            "to": scope.end.isoformat(),
        },
        "generated_at": report.generated_at.isoformat(),
        "small_cell_threshold": policy.threshold,
        "steps": steps(report.steps),
        "side_steps": steps(report.side_steps),
        "suppression_reasons": [
            {"reason": label, "count": policy.count(count)}
            for label, count in report.suppression_reasons
        ],
        "reply_intents": [
            {"intent": label, "count": policy.count(count)} for label, count in report.reply_intents
        ],
        "channels": shown_rows(report.channels, policy, ["channel"]),
        "daily": shown_rows(report.daily, policy, ["day"]) if "sent" in report.daily else [],
        "variants": [_verdict_json(c, v, policy) for c, v in report.variant_verdicts],
        "readings": {
            "funnel": said.funnel,
            "daily": said.daily,
            "channels": said.channels,
            "variants": said.variants,
            "suppressions": said.suppressions,
            "intents": said.intents,
        },
        "rows": shown_rows(report.rows, policy, list(REPORT_DIMENSIONS)),
    }
