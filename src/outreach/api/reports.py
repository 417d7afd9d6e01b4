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

from outreach.analytics.report_formats import report_json, rows_csv
from outreach.analytics.rollup_rows import ReportScope
from outreach.analytics.small_cells import CellPolicy
from outreach.api.access import Caller, allow
from outreach.api.dependencies import ClockDep, SettingsDep, StoreDep
from outreach.api.errors import ApiError, ErrorBody
from outreach.domain import Role
from outreach.services.funnel_reports import funnel_report

router = APIRouter(prefix="/api/v1/reports", tags=["reports"])

MAX_DAYS = 731  # two years: enough for year-on-year, small enough to answer quickly

Analyst = Annotated[Caller, Depends(allow(Role.ANALYST, Role.ADMIN))]


class ReportFormat(enum.StrEnum):
    JSON = "json"
    CSV = "csv"


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
    last = last_day or now.date()
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
    report = funnel_report(store, ReportScope(first, last, org_id, campaign_id), now, detailed=True)
    policy = CellPolicy.exact() if exact else CellPolicy(settings.report_cell_threshold())
    if output_format is ReportFormat.CSV:
        return Response(
            rows_csv(report, policy),
            media_type="text/csv; charset=utf-8",
            headers={"Content-Disposition": f'attachment; filename="funnel-{first}-{last}.csv"'},
        )
    return report_json(report, policy)
