"""Reports for analysts: ``GET /api/v1/reports/funnel`` as JSON or CSV.

Analysts and admins, of their own organisation (the credential's). Small counts are hidden
("<11") unless ``exact=true``: these callers are the authorised analysts the exact counts are
for, and a report they pass on should be made without it.
"""

from __future__ import annotations

import enum
from datetime import date, timedelta
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Query
from fastapi.responses import Response

from outreach.analytics.funnel_report import FunnelReport
from outreach.analytics.report_formats import report_json, rows_csv
from outreach.analytics.rollup_rows import ReportScope
from outreach.analytics.small_cells import CellPolicy
from outreach.api.access import Caller, allow
from outreach.api.dependencies import ClockDep, SettingsDep, StoreDep
from outreach.api.errors import ApiError, ErrorBody
from outreach.config import Settings
from outreach.domain import Purpose, Role
from outreach.services.funnel_reports import funnel_report

router = APIRouter(prefix="/api/v1/reports", tags=["reports"])

MAX_DAYS = 731  # two years: enough for year-on-year, small enough to answer quickly
CHANNEL_PATTERN = r"^[a-z][a-z0-9_]{0,15}$"  # a channel's name (``domain.Channel``)

Analyst = Annotated[Caller, Depends(allow(Role.ANALYST, Role.ADMIN))]


class ReportFormat(enum.StrEnum):
    JSON = "json"
    CSV = "csv"


def report_period(first_day: date | None, last_day: date | None, today: date) -> tuple[date, date]:
    """The period asked for (default: the week to ``today``), or a 422 naming the field."""
    last = last_day or today
    first = first_day or last - timedelta(days=6)
    problems = []
    if last < first:
        problems.append({"loc": "query.to", "msg": "before from", "type": "value_error"})
    elif (last - first).days + 1 > MAX_DAYS:
        problems.append(
            {"loc": "query.from", "msg": f"at most {MAX_DAYS} days", "type": "value_error"}
        )
    if problems:
        raise ApiError(422, "validation_error", problems)
    return first, last


def cell_policy(settings: Settings, exact: bool) -> CellPolicy:
    """Exact counts for an analyst who asks; otherwise small counts hidden as configured."""
    return CellPolicy.exact() if exact else CellPolicy(settings.report_cell_threshold())


def csv_answer(report: FunnelReport, policy: CellPolicy) -> Response:
    """The report's rows as a CSV download (the API's and the console's alike)."""
    scope = report.scope
    return Response(
        rows_csv(report, policy),
        media_type="text/csv; charset=utf-8",
        headers={
            "Content-Disposition": f'attachment; filename="funnel-{scope.start}-{scope.end}.csv"'
        },
    )


@router.get(
    "/funnel",
    responses={
        200: {
            "description": "The funnel report: JSON (steps, rates, medians, channels, daily "
            "trend, A/B verdicts, reasons, intents, rows), or CSV (one line per day, "
            "organisation, campaign, purpose, channel and variant).",
            "content": {"text/csv": {}},
        },
        422: {"model": ErrorBody, "description": "A bad period or parameter."},
    },
)
def funnel(
    store: StoreDep,
    settings: SettingsDep,
    clock: ClockDep,
    caller: Analyst,
    org_id: Annotated[
        str | None,
        Query(min_length=1, max_length=64, description="The credential's (or left out)."),
    ] = None,
    campaign_id: Annotated[int | None, Query(ge=1)] = None,
    purpose: Annotated[
        Purpose | None,
        Query(description="One purpose (median times are not kept per purpose: left out)."),
    ] = None,
    channel: Annotated[
        str | None,
        Query(
            pattern=CHANNEL_PATTERN,
            description="One channel (a campaign's hold-out gets none: its verdict is left out).",
        ),
    ] = None,
    first_day: Annotated[date | None, Query(alias="from", description="First day.")] = None,
    last_day: Annotated[
        date | None, Query(alias="to", description="Last day, included (default: today).")
    ] = None,
    output_format: Annotated[ReportFormat, Query(alias="format")] = ReportFormat.JSON,
    exact: Annotated[
        bool, Query(description="Exact counts, small ones included (authorised analysts).")
    ] = False,
) -> Any:
    """The funnel of a period of the caller's organisation, for one campaign or all."""
    org_id = caller.own_org(org_id, "query.org_id")
    now = clock()
    first, last = report_period(first_day, last_day, now.date())
    scope = ReportScope(
        first,
        last,
        org_id,
        campaign_id,
        purpose=purpose.value if purpose is not None else None,
        channel=channel,
    )
    report = funnel_report(store, scope, now, detailed=True)
    policy = cell_policy(settings, exact)
    if output_format is ReportFormat.CSV:
        return csv_answer(report, policy)
    return report_json(report, policy)
