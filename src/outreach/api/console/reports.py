"""The console's Reports page: the funnel report of the API (``/api/v1/reports/funnel``) with
its charts, for analysts and admins of the session's organisation.

Filters are a GET form (period, campaign, purpose, channel, exact counts), so a report is a
link that can be kept. The figures come from the same service, period rules and small-cell
policy as the API's, and "Download CSV" answers the API's CSV for the same filters. Charts are
the HTML report's own SVG (``analytics.report_html.report_sections``), each with a table as its
text alternative. Bad filters show the form again with the reason next to the field (422).
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from datetime import date
from typing import Annotated
from urllib.parse import urlencode

from fastapi import APIRouter, Depends, Request
from fastapi.responses import Response

from outreach.analytics.report_html import cells_note, report_sections
from outreach.analytics.rollup_rows import ReportScope
from outreach.api.console.auth import ANALYSIS, ConsoleUser, console_allow
from outreach.api.console.rendering import render, secure
from outreach.api.errors import ApiError
from outreach.api.reports import CHANNEL_PATTERN, cell_policy, csv_answer, report_period
from outreach.domain import Purpose
from outreach.services.funnel_reports import funnel_report

router = APIRouter(prefix="/console/reports", include_in_schema=False)

Analyst = Annotated[ConsoleUser, Depends(console_allow(*ANALYSIS))]

MAX_FIELD_CHARS = 64
_TRUE = {"1", "true", "on", "yes"}
# The API's error locations, as the form's fields.
_FIELD_OF_LOCATION = {"query.from": "from", "query.to": "to"}


@dataclass
class ReportFilters:
    """The form's values as typed (kept when refused) and, once checked, what they mean."""

    first_text: str = ""
    last_text: str = ""
    campaign_text: str = ""
    purpose: str = ""
    channel: str = ""
    exact: bool = False
    errors: dict[str, str] = field(default_factory=dict)
    first: date | None = None
    last: date | None = None
    campaign_id: int | None = None

    def query(self) -> str:
        """The filters as a query string (the CSV link, the page's own address)."""
        pairs = {
            "from": self.first.isoformat() if self.first else self.first_text,
            "to": self.last.isoformat() if self.last else self.last_text,
            "campaign_id": self.campaign_text,
            "purpose": self.purpose,
            "channel": self.channel,
            "exact": "1" if self.exact else "",
        }
        return urlencode({name: value for name, value in pairs.items() if value})


def _date(text: str, name: str, errors: dict[str, str]) -> date | None:
    if not text:
        return None
    try:
        return date.fromisoformat(text)
    except ValueError:
        errors[name] = "a date, as YYYY-MM-DD"
        return None


def read_filters(request: Request) -> ReportFilters:
    """The filters of the request's query, checked as the API checks them."""
    params = request.query_params

    def text(name: str) -> str:
        return params.get(name, "").strip()[: MAX_FIELD_CHARS + 1]

    filters = ReportFilters(
        first_text=text("from"),
        last_text=text("to"),
        campaign_text=text("campaign_id"),
        purpose=text("purpose"),
        channel=text("channel"),
        exact=text("exact").lower() in _TRUE,
    )
    errors = filters.errors
    first = _date(filters.first_text, "from", errors)
    last = _date(filters.last_text, "to", errors)
    if filters.campaign_text:
        if filters.campaign_text.isdigit() and int(filters.campaign_text) >= 1:
            filters.campaign_id = int(filters.campaign_text)
        else:
            errors["campaign_id"] = "a campaign's number (1 or more), or empty for all"
    if filters.purpose and filters.purpose not in {p.value for p in Purpose}:
        errors["purpose"] = "not a purpose outreach knows"
    if filters.channel and not re.fullmatch(CHANNEL_PATTERN, filters.channel):
        errors["channel"] = "not a channel's name"
    if "from" in errors or "to" in errors:
        return filters
    try:
        filters.first, filters.last = report_period(
            first, last, request.app.state.services.clock().date()
        )
    except ApiError as refused:
        for problem in refused.detail if isinstance(refused.detail, list) else []:
            name = _FIELD_OF_LOCATION.get(str(problem.get("loc")), "from")
            errors[name] = "the last day comes before the first" if name == "to" else problem["msg"]
    return filters


def _scope(user: ConsoleUser, filters: ReportFilters) -> ReportScope:
    assert filters.first is not None and filters.last is not None
    return ReportScope(
        filters.first,
        filters.last,
        user.org_id,  # always the session's organisation
        filters.campaign_id,
        purpose=filters.purpose or None,
        channel=filters.channel or None,
    )


def _form_page(
    request: Request, user: ConsoleUser, filters: ReportFilters, **context: object
) -> Response:
    channels = sorted(request.app.state.services.channels)
    if filters.channel and filters.channel not in channels:
        channels.append(filters.channel)  # keep what was asked for in the list
    return render(
        request,
        "report_funnel.html",
        user,
        status_code=422 if filters.errors else 200,
        filters=filters,
        purposes=[p.value for p in Purpose],
        channels=channels,
        **({"report": None, "sections": (), "note": ""} | context),
    )


@router.get("")
def reports_page(request: Request, user: Analyst) -> Response:
    """The funnel of the chosen period with its charts and tables."""
    filters = read_filters(request)
    if filters.errors:
        return _form_page(request, user, filters)
    services = request.app.state.services
    report = funnel_report(services.store, _scope(user, filters), services.clock())
    policy = cell_policy(services.settings, filters.exact)
    return _form_page(
        request,
        user,
        filters,
        report=report,
        sections=report_sections(report, policy, data_tables=True),
        note=cells_note(policy),
    )


@router.get("/funnel.csv")
def reports_csv(request: Request, user: Analyst) -> Response:
    """The API's CSV of the same filters: one line per day, campaign, purpose, channel and
    variant, small counts hidden unless exact."""
    filters = read_filters(request)
    if filters.errors:
        return _form_page(request, user, filters)
    services = request.app.state.services
    report = funnel_report(services.store, _scope(user, filters), services.clock(), detailed=True)
    return secure(csv_answer(report, cell_policy(services.settings, filters.exact)))
