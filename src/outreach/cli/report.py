"""``outreach report ...``: funnel reports from the rollups, as a table, CSV, JSON or HTML.

What this writes leaves the system (a terminal, a file), so counts from 1 to 10 show as "<11"
unless ``--exact`` (see ``OUTREACH_REPORT_SMALL_CELL_THRESHOLD``).
``outreach.cli`` mounts :data:`app` under the main ``outreach`` command as ``report``.
"""

from __future__ import annotations

import enum
import json
from datetime import datetime, timedelta
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer

from outreach.cli.app import load_settings

if TYPE_CHECKING:
    from rich.table import Table

    from outreach.analytics.funnel_report import FunnelReport
    from outreach.analytics.small_cells import CellPolicy

app = typer.Typer(
    name="report",
    help="Reports for analysts: funnels, A/B verdicts, costs.",
    no_args_is_help=True,
)


class ReportFormat(enum.StrEnum):
    TABLE = "table"
    CSV = "csv"
    JSON = "json"
    HTML = "html"


@app.command("funnel")
def funnel_command(
    org: Annotated[str | None, typer.Option(help="One organisation (default: all).")] = None,
    campaign: Annotated[int | None, typer.Option(help="One campaign (default: all).")] = None,
    first: Annotated[
        datetime | None,
        typer.Option(
            "--from", formats=["%Y-%m-%d"], help="First day (default: 6 days before --to)."
        ),
    ] = None,
    last: Annotated[
        datetime | None,
        typer.Option("--to", formats=["%Y-%m-%d"], help="Last day, included (default: today)."),
    ] = None,
    output_format: Annotated[
        ReportFormat, typer.Option("--format", help="table, csv, json or html.")
    ] = ReportFormat.TABLE,
    out: Annotated[Path | None, typer.Option(help="Write to this file (default: stdout).")] = None,
    exact: Annotated[
        bool, typer.Option(help="Exact counts, small ones included: for authorised analysts.")
    ] = False,
) -> None:
    """The funnel of a period: planned, suppressed, sent, delivered, opened, clicked, replied,
    confirmed, attended or no-show; rates, median times, channels, variants, costs."""
    from outreach import wiring
    from outreach.analytics.report_formats import report_json, rows_csv
    from outreach.analytics.report_html import render_html
    from outreach.analytics.rollup_rows import ReportScope
    from outreach.analytics.small_cells import CellPolicy
    from outreach.services.funnel_reports import funnel_report

    settings = load_settings()
    engine = wiring.database_engine(settings)
    now = wiring.clock(settings)()
    last_day = last.date() if last else now.date()
    first_day = first.date() if first else last_day - timedelta(days=6)
    try:
        scope = ReportScope(first_day, last_day, org, campaign)
    except ValueError as error:
        raise typer.BadParameter(str(error), param_hint="--from") from None
    # CSV and JSON list every day, campaign, purpose, channel and variant; the others do not.
    detailed = output_format in (ReportFormat.CSV, ReportFormat.JSON)
    report = funnel_report(wiring.store(engine), scope, now, detailed=detailed)
    engine.dispose()
    policy = CellPolicy.exact() if exact else CellPolicy(settings.report_cell_threshold())
    if output_format is ReportFormat.TABLE:
        _print_table(report, policy, out)
        return
    if output_format is ReportFormat.CSV:
        text = rows_csv(report, policy)
    elif output_format is ReportFormat.JSON:
        text = json.dumps(report_json(report, policy), indent=2, ensure_ascii=False) + "\n"
    else:
        text = render_html(report, policy)
    if out is None:
        typer.echo(text, nl=False)
    else:
        out.parent.mkdir(parents=True, exist_ok=True)
        out.write_text(text, encoding="utf-8")
        typer.echo(f"wrote {out}")


def _print_table(report: FunnelReport, policy: CellPolicy, out: Path | None) -> None:
    from rich.console import Console

    from outreach.analytics.readings import readings

    handle = out.open("w", encoding="utf-8") if out is not None else None
    try:
        console = Console(file=handle, width=120 if handle else None)
        console.print(funnel_table(report, policy))
        said = readings(report, policy)
        for line in (said.funnel, said.channels, said.variants, said.suppressions, said.intents):
            console.print(f"• {line}")
    finally:
        if handle is not None:
            handle.close()
            typer.echo(f"wrote {out}")


def funnel_table(report: FunnelReport, policy: CellPolicy) -> Table:
    """The funnel as a rich table: step, messages, rate, of what, median time."""
    from rich.table import Table

    from outreach.analytics.report_formats import TABLE_COLUMNS, summary_rows

    table = Table(title=report.title, title_justify="left")
    for index, column in enumerate(TABLE_COLUMNS):
        table.add_column(column, justify="right" if index in (1, 2, 4) else "left")
    for row in summary_rows(report, policy):
        table.add_row(*row)
    return table
