"""The HTML report: one self-contained file, charts as inline SVG, no script, no font, no image
and no style from anywhere else (its Content-Security-Policy forbids loading any), so it opens
the same in a browser without network, as an e-mail attachment, or from an archive years later.

Sections: the funnel (bars and a table of counts, rates and median times), the daily trend, the
channel comparison, the variant comparison with Wilson intervals, suppression reasons and reply
intents; each with a one-line reading of what it shows. Counts pass through the small-cell
policy: a hidden count is drawn as a short hatched stub labelled "<11", never to scale.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from html import escape

import pandas as pd

from outreach.analytics.ab_test import AbVerdict
from outreach.analytics.funnel import FunnelStep
from outreach.analytics.funnel_report import FunnelReport
from outreach.analytics.latency import duration_text
from outreach.analytics.readings import (
    channel_name,
    label_text,
    money,
    readings,
    verdict_hidden,
    verdict_reading,
)
from outreach.analytics.small_cells import CellPolicy

# Each chart marks with a colour of its own (the browser test counts them to see each drawn).
FUNNEL_COLOUR = "#2f6db5"
TREND_COLOURS = {"sent": "#d1495b", "delivered": "#edae49", "replied": "#00798c"}
CHANNEL_COLOURS = {"delivered": "#3a8f5c", "replied": "#a05195"}
VARIANT_COLOUR = "#7b4fa0"
SUPPRESSION_COLOUR = "#e07b1e"
INTENT_COLOUR = "#1b9aaa"

_WIDTH = 760
_STYLE = """
body{font:14px/1.45 system-ui,-apple-system,"Segoe UI",Roboto,sans-serif;color:#1d2430;
margin:0;background:#fff}
main{max-width:800px;margin:0 auto;padding:24px 20px 48px}
h1{font-size:22px;margin:0 0 4px}h2{font-size:17px;margin:28px 0 4px}
.meta{color:#5b6474;margin:0 0 8px}.reading{margin:2px 0 10px;color:#263040}
.note{color:#5b6474;font-size:12px}
table{border-collapse:collapse;width:100%;margin:8px 0;font-size:13px}
th,td{text-align:right;padding:4px 8px;border-bottom:1px solid #e3e6ea}
th:first-child,td:first-child{text-align:left}th{color:#5b6474;font-weight:600}
table.funnel td:nth-child(4),table.funnel th:nth-child(4){text-align:left}
svg{display:block;max-width:100%;height:auto}svg text{font:12px system-ui,sans-serif;fill:#1d2430}
svg .muted{fill:#5b6474}
"""
_HATCH = (
    '<defs><pattern id="hidden" width="6" height="6" patternUnits="userSpaceOnUse" '
    'patternTransform="rotate(45)"><rect width="6" height="6" fill="#eceef1"/>'
    '<line x1="0" y1="0" x2="0" y2="6" stroke="#9aa3ad" stroke-width="2"/></pattern></defs>'
)


def _svg(height: int, body: str, title: str) -> str:
    return (
        f'<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 {_WIDTH} {height}" '
        f'width="{_WIDTH}" height="{height}" role="img" aria-label="{escape(title)}">'
        f"<title>{escape(title)}</title>{_HATCH}{body}</svg>"
    )


def _text(x: float, y: float, content: str, *, anchor: str = "start", muted: bool = False) -> str:
    css = ' class="muted"' if muted else ""
    return f'<text x="{x:.1f}" y="{y:.1f}" text-anchor="{anchor}"{css}>{escape(content)}</text>'


def _bar_rows(
    rows: Sequence[tuple[str, int, str]], colour: str, policy: CellPolicy, title: str
) -> str:
    """Horizontal bars: (label, count, note) each; lengths to scale of the largest shown."""
    label_width, bar_width, row_height = 190, 400, 28
    shown = [count for _, count, _ in rows if not policy.hides(count)]
    scale = max(shown, default=0) or 1
    body = []
    for index, (label, count, note) in enumerate(rows):
        y = 10 + index * row_height
        body.append(_text(label_width - 10, y + 15, label, anchor="end"))
        if policy.hides(count):
            body.append(
                f'<rect x="{label_width}" y="{y + 2}" width="14" height="18" fill="url(#hidden)"/>'
            )
            end = float(label_width + 14)
        else:
            width = max(1.0, bar_width * count / scale) if count else 0.0
            body.append(
                f'<rect x="{label_width}" y="{y + 2}" width="{width:.1f}" height="18" '
                f'fill="{colour}"/>'
            )
            end = label_width + width
        body.append(_text(end + 8, y + 15, f"{policy.count_text(count)} {note}".strip()))
    return _svg(20 + len(rows) * row_height, "".join(body), title)


def _funnel_chart(steps: Sequence[FunnelStep], policy: CellPolicy) -> str:
    rows = []
    for step in steps:
        note = ""
        if step.parent is not None:
            rate = policy.rate_text(step.count, step.parent_count)
            note = f"· {rate} of {step.parent}" if rate != "–" else ""
        rows.append((step.label, step.count, note))
    return _bar_rows(rows, FUNNEL_COLOUR, policy, "Funnel: messages at each step")


def _funnel_table(report: FunnelReport, policy: CellPolicy) -> str:
    header = "<tr><th>step</th><th>messages</th><th>rate</th><th>of</th><th>median time</th></tr>"
    lines = []
    for step in (*report.steps, *report.side_steps):
        of = step.parent or ""
        if step.channels is not None:
            of += " (" + ", ".join(channel_name(c) for c in sorted(step.channels)) + ")"
        median = duration_text(step.median_seconds) if step.pair else ""
        lines.append(
            f"<tr><td>{escape(step.label)}</td><td>{escape(policy.count_text(step.count))}</td>"
            f"<td>{escape(policy.rate_text(step.count, step.parent_count) if step.parent else '')}"
            f"</td><td>{escape(of)}</td><td>{escape(median)}</td></tr>"
        )
    return _table(f'<table class="funnel">{header}{"".join(lines)}</table>', "The funnel's figures")


def _trend_chart(daily: pd.DataFrame, policy: CellPolicy) -> str:
    height, left, right, top, bottom = 260, 56, 20, 16, 52
    inner_w, inner_h = _WIDTH - left - right, height - top - bottom
    days = list(daily["day"]) if "day" in daily else []
    series = {name: [int(v) for v in daily[name]] for name in TREND_COLOURS if name in daily}
    visible = [v for values in series.values() for v in values if not policy.hides(v)]
    peak = max(visible, default=0) or 1
    step = inner_w / max(len(days) - 1, 1)
    body = [
        f'<line x1="{left}" y1="{top + inner_h}" x2="{left + inner_w}" y2="{top + inner_h}" '
        'stroke="#9aa3ad"/>',
        _text(left - 6, top + 4, f"{peak:,}", anchor="end", muted=True),
        _text(left - 6, top + inner_h + 4, "0", anchor="end", muted=True),
    ]
    for name, values in series.items():
        segment: list[str] = []
        segments = []
        for index, value in enumerate(values):
            if policy.hides(value):  # a hidden day breaks the line rather than show its count
                if segment:
                    segments.append(segment)
                segment = []
                continue
            x = left + index * step
            y = top + inner_h - inner_h * value / peak
            segment.append(f"{x:.1f},{y:.1f}")
        if segment:
            segments.append(segment)
        for points in segments:
            if len(points) == 1:
                cx, cy = points[0].split(",")
                body.append(f'<circle cx="{cx}" cy="{cy}" r="3.5" fill="{TREND_COLOURS[name]}"/>')
            else:
                body.append(
                    f'<polyline points="{" ".join(points)}" fill="none" '
                    f'stroke="{TREND_COLOURS[name]}" stroke-width="3" stroke-linejoin="round"/>'
                )
    if days:
        marks = sorted({0, len(days) // 2, len(days) - 1})
        for index in marks:
            anchor = "start" if index == 0 else ("end" if index == len(days) - 1 else "middle")
            label = f"{pd.Timestamp(days[index]):%d %b}"
            body.append(
                _text(left + index * step, top + inner_h + 18, label, anchor=anchor, muted=True)
            )
    x = left
    for name, colour in TREND_COLOURS.items():
        body.append(f'<rect x="{x}" y="{height - 18}" width="14" height="4" fill="{colour}"/>')
        body.append(_text(x + 20, height - 12, name))
        x += 110
    return _svg(height, "".join(body), "Daily trend: sent, delivered and replied")


def _channel_chart(channels: pd.DataFrame, policy: CellPolicy) -> str:
    height, left, top, bottom = 240, 56, 16, 48
    inner_h = height - top - bottom
    groups = [] if channels.empty else list(channels.iterrows())
    group_width = (_WIDTH - left - 20) / max(len(groups), 1)
    bar = min(56.0, group_width / 3)
    body = [
        f'<line x1="{left}" y1="{top + inner_h}" x2="{_WIDTH - 20}" y2="{top + inner_h}" '
        'stroke="#9aa3ad"/>',
        _text(left - 6, top + 4, "100%", anchor="end", muted=True),
        _text(left - 6, top + inner_h + 4, "0%", anchor="end", muted=True),
    ]
    for index, (_, row) in enumerate(groups):
        centre = left + group_width * (index + 0.5)
        rates = {
            "delivered": policy.rate(int(row["delivered"]), int(row["sent"])),
            "replied": policy.rate(int(row["replied"]), int(row["delivered"])),
        }
        for offset, (name, rate) in zip((-bar - 4, 4), rates.items(), strict=True):
            x = centre + offset
            if rate is None:
                body.append(
                    f'<rect x="{x:.1f}" y="{top + inner_h - 14}" width="{bar:.1f}" '
                    'height="14" fill="url(#hidden)"/>'
                )
                body.append(_text(x + bar / 2, top + inner_h - 18, "–", anchor="middle"))
                continue
            bar_height = inner_h * rate
            body.append(
                f'<rect x="{x:.1f}" y="{top + inner_h - bar_height:.1f}" width="{bar:.1f}" '
                f'height="{bar_height:.1f}" fill="{CHANNEL_COLOURS[name]}"/>'
            )
            body.append(
                _text(
                    x + bar / 2,
                    top + inner_h - bar_height - 4,
                    f"{rate * 100:.0f}%",
                    anchor="middle",
                )
            )
        body.append(
            _text(centre, top + inner_h + 18, channel_name(str(row["channel"])), anchor="middle")
        )
    x = left
    for name, colour in CHANNEL_COLOURS.items():
        body.append(f'<rect x="{x}" y="{height - 16}" width="12" height="10" fill="{colour}"/>')
        label = "delivered of sent" if name == "delivered" else "replied of delivered"
        body.append(_text(x + 18, height - 7, label))
        x += 180
    return _svg(height, "".join(body), "Channels: delivery and reply rates")


def _channel_table(report: FunnelReport, policy: CellPolicy) -> str:
    channels = report.channels
    if channels.empty:
        return ""
    header = (
        "<tr><th>channel</th><th>sent</th><th>delivered</th><th>opened</th><th>replied</th>"
        "<th>median to deliver</th><th>cost</th><th>per message</th></tr>"
    )
    lines = []
    for _, row in channels.iterrows():
        channel = str(row["channel"])
        priced, micros = int(row["priced"]), int(row["cost_micros"])
        currency = row.get("cost_currency")
        currency = str(currency) if isinstance(currency, str) else None
        cost = money(micros, currency) if priced else "not reported"
        per = money(micros // priced, currency, 4) if priced else ""
        median = report.channel_medians.get(channel, {}).get("sent>delivered")
        lines.append(
            "<tr>"
            + "".join(
                f"<td>{escape(str(cell))}</td>"
                for cell in (
                    channel_name(channel),
                    policy.count_text(int(row["sent"])),
                    policy.rate_text(int(row["delivered"]), int(row["sent"])),
                    policy.rate_text(int(row["opened"]), int(row["delivered"]))
                    if channel in ("email", "whatsapp")
                    else "not reported",
                    policy.rate_text(int(row["replied"]), int(row["delivered"])),
                    duration_text(median),
                    cost,
                    per,
                )
            )
            + "</tr>"
        )
    return _table(f"<table>{header}{''.join(lines)}</table>", "The channels' figures")


def _verdict_chart(verdict: AbVerdict, policy: CellPolicy, title: str) -> str:
    if verdict_hidden(verdict, policy):
        return ""  # the reading above says why there is nothing to draw
    label_width, plot_width, row_height = 130, 330, 34
    highs = [r.interval[1] for r in verdict.arms if r.interval is not None]
    scale = max(highs, default=0.0) * 1.1 or 1.0
    body = []
    for index, result in enumerate(verdict.arms):
        y = 18 + index * row_height
        name = result.arm.name + (" (control)" if result.arm.name == verdict.control else "")
        body.append(_text(label_width - 10, y + 5, name, anchor="end"))
        if result.interval is None or result.arm.rate is None:
            body.append(_text(label_width, y + 5, "no data", muted=True))
            continue
        low, high = result.interval
        x_low = label_width + plot_width * low / scale
        x_high = label_width + plot_width * high / scale
        x_rate = label_width + plot_width * result.arm.rate / scale
        body.append(
            f'<line x1="{x_low:.1f}" y1="{y}" x2="{x_high:.1f}" y2="{y}" '
            f'stroke="{VARIANT_COLOUR}" stroke-width="3"/>'
            f'<line x1="{x_low:.1f}" y1="{y - 6}" x2="{x_low:.1f}" y2="{y + 6}" '
            f'stroke="{VARIANT_COLOUR}" stroke-width="3"/>'
            f'<line x1="{x_high:.1f}" y1="{y - 6}" x2="{x_high:.1f}" y2="{y + 6}" '
            f'stroke="{VARIANT_COLOUR}" stroke-width="3"/>'
            f'<circle cx="{x_rate:.1f}" cy="{y}" r="6" fill="{VARIANT_COLOUR}"/>'
        )
        detail = f"{result.arm.rate * 100:.1f}% [{low * 100:.1f}–{high * 100:.1f}%]"
        if result.probability_to_beat is not None:
            detail += f" · P(better) {result.probability_to_beat * 100:.0f}%"
        body.append(_text(label_width + plot_width + 14, y + 5, detail))
    return _svg(10 + len(verdict.arms) * row_height, "".join(body), title)


def _table(html: str, label: str) -> str:
    """A table in a box that scrolls sideways on a narrow screen, not the page (focusable, so
    a keyboard can scroll it too)."""
    return (
        f'<div class="table-wrap" tabindex="0" role="region" aria-label="{escape(label)}">'
        f"{html}</div>"
    )


def _rows_table(header: Sequence[str], rows: Sequence[Sequence[str]], label: str) -> str:
    head = "".join(f"<th>{escape(cell)}</th>" for cell in header)
    body = "".join(
        "<tr>" + "".join(f"<td>{escape(cell)}</td>" for cell in row) + "</tr>" for row in rows
    )
    return _table(f"<table><tr>{head}</tr>{body}</table>", label)


def _trend_table(daily: pd.DataFrame, policy: CellPolicy) -> str:
    """The trend's figures, day by day (the chart's text alternative), folded away."""
    names = [name for name in TREND_COLOURS if name in daily]
    if not names:
        return ""
    rows = [
        [f"{pd.Timestamp(row['day']):%d %b %Y}", *(policy.count_text(int(row[n])) for n in names)]
        for _, row in daily.iterrows()
    ]
    return (
        "<details><summary>The daily figures as a table</summary>"
        + _rows_table(["day", *names], rows, "The daily figures")
        + "</details>"
    )


def _verdict_table(verdict: AbVerdict, policy: CellPolicy, title: str) -> str:
    if verdict_hidden(verdict, policy):
        return ""
    rows = []
    for result in verdict.arms:
        name = result.arm.name + (" (control)" if result.arm.name == verdict.control else "")
        rate = result.arm.rate
        interval = result.interval
        rows.append(
            [
                name,
                "no data" if rate is None else f"{rate * 100:.1f}%",
                f"{interval[0] * 100:.1f}–{interval[1] * 100:.1f}%" if interval else "",
                f"{result.probability_to_beat * 100:.0f}%"
                if result.probability_to_beat is not None
                else "",
            ]
        )
    return _rows_table(
        ["arm", "rate", "95% interval", "P(better than control)"], rows, f"{title}: each arm"
    )


def _labels_table(column: str, items: Sequence[tuple[str, int]], policy: CellPolicy) -> str:
    return _rows_table(
        [column, "messages"],
        [[label_text(label), policy.count_text(n)] for label, n in items],
        f"Messages by {column}",
    )


def _section(title: str, reading: str, content: str) -> str:
    return (
        f'<section><h2>{escape(title)}</h2><p class="reading">{escape(reading)}</p>'
        f"{content}</section>"
    )


def _empty(text: str) -> str:
    return f'<p class="note">{escape(text)}</p>'


@dataclass(frozen=True, slots=True)
class ReportSection:
    """One section of the report: a heading, a reading and its charts and tables (markup,
    escaped; charts are SVG drawn with attributes only, so a page with a strict style policy
    can embed them and style their text through the ``svg text`` and ``.muted`` classes)."""

    key: str  # funnel, daily, channels, variants, suppressions, intents
    title: str
    reading: str
    content: str

    def html(self) -> str:
        return _section(self.title, self.reading, self.content)


def cells_note(policy: CellPolicy) -> str:
    """What the small-cell policy did to the figures, in a sentence."""
    if policy.threshold is None:
        return "Exact counts: for authorised analysts only; do not pass these figures on."
    return (
        f"Counts from 1 to {policy.threshold - 1} are shown as “{policy.hidden_label}”, and the "
        "rates and bars drawn from them are left out."
    )


def report_sections(
    report: FunnelReport, policy: CellPolicy, *, data_tables: bool = False
) -> tuple[ReportSection, ...]:
    """The report's sections without the document around them (the HTML file and the console
    both show these). ``data_tables`` adds a table to each chart that has none (the daily
    figures, the variants' intervals, the reasons and intents): a page's text alternative."""
    said = readings(report, policy)
    scope = report.scope
    variant_blocks = []
    for campaign_id, verdict in report.variant_verdicts:
        title = f"Campaign {campaign_id}: {verdict.metric}"
        variant_blocks.append(
            f'<h3>{escape(title)}</h3><p class="reading">'
            f"{escape(verdict_reading(verdict, policy))}</p>"
            + _verdict_chart(verdict, policy, title)
            + (_verdict_table(verdict, policy, title) if data_tables else "")
        )
    trend = _empty("One day only.")
    if scope.days > 1:
        trend = _trend_chart(report.daily, policy) + (
            _trend_table(report.daily, policy) if data_tables else ""
        )
    suppressions = intents = ""
    if report.suppression_reasons:
        suppressions = _bar_rows(
            [(label_text(label), count, "") for label, count in report.suppression_reasons],
            SUPPRESSION_COLOUR,
            policy,
            "Suppressed messages by reason",
        ) + (_labels_table("reason", report.suppression_reasons, policy) if data_tables else "")
    if report.reply_intents:
        intents = _bar_rows(
            [(label_text(label), count, "") for label, count in report.reply_intents],
            INTENT_COLOUR,
            policy,
            "Replied messages by what the reply meant",
        ) + (_labels_table("intent", report.reply_intents, policy) if data_tables else "")
    return (
        ReportSection(
            "funnel",
            "Funnel",
            said.funnel,
            (_funnel_chart(report.steps, policy) if report.planned else "")
            + _funnel_table(report, policy),
        ),
        ReportSection("daily", "Daily trend", said.daily, trend),
        ReportSection(
            "channels",
            "Channels",
            said.channels,
            (_channel_chart(report.channels, policy) + _channel_table(report, policy))
            if not report.channels.empty
            else "",
        ),
        ReportSection("variants", "Variants", said.variants, "".join(variant_blocks)),
        ReportSection("suppressions", "Suppression reasons", said.suppressions, suppressions),
        ReportSection("intents", "Reply intents", said.intents, intents),
    )


def render_html(report: FunnelReport, policy: CellPolicy) -> str:
    """The report as one standalone HTML document."""
    sections = report_sections(report, policy)
    return (
        '<!DOCTYPE html>\n<html lang="en"><head><meta charset="utf-8">'
        '<meta http-equiv="Content-Security-Policy" content="default-src \'none\'; '
        "style-src 'unsafe-inline'; img-src data:\">"
        '<meta name="viewport" content="width=device-width, initial-scale=1">'
        f"<title>{escape(report.title)}</title><style>{_STYLE}</style></head><body><main>"
        f"<h1>{escape(report.title)}</h1>"
        f'<p class="meta">Generated {report.generated_at:%d %b %Y %H:%M} UTC · days are each '
        "organisation's own · aggregates only, no patient data</p>"
        f'<p class="note">{escape(cells_note(policy))}</p>'
        + "".join(section.html() for section in sections)
        + "</main></body></html>\n"
    )
