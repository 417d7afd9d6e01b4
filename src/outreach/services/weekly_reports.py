"""Use case "weekly report": every organisation with analyst addresses gets last week's funnel
as an HTML file by e-mail, once, from Monday 08:00 in its own time zone.

The mail holds aggregates only: the HTML report (small counts hidden) and a few totals in the
text. A period is claimed before it is sent and released if the send fails, so the next run
tries again; one that was sent is never sent again.
"""

from __future__ import annotations

import logging
from datetime import datetime
from typing import Protocol

from outreach.analytics.readings import funnel_reading
from outreach.analytics.report_html import render_html
from outreach.analytics.rollup_rows import ReportScope
from outreach.analytics.small_cells import CellPolicy
from outreach.analytics.weekly import ReportMail, due_weekly_period
from outreach.services.funnel_reports import funnel_report
from outreach.sql.store import Store

logger = logging.getLogger(__name__)

WEEKLY_FUNNEL = "weekly_funnel"


class ReportMailer(Protocol):
    def __call__(self, mail: ReportMail) -> str:
        """Send the mail; return the provider's message id."""
        ...


def send_weekly_reports(
    store: Store, mailer: ReportMailer, now: datetime, *, policy: CellPolicy
) -> int:
    """Send each organisation's due weekly report that was not sent yet; returns how many."""
    with store.reading() as repos:
        organisations = repos.orgs.report_recipients()
    sent = 0
    for org in organisations:
        period = due_weekly_period(now, org.timezone)
        with store.transaction() as repos:
            claimed = repos.reports.claim(
                org.org_id,
                WEEKLY_FUNNEL,
                period.first_day,
                period.last_day,
                len(org.analyst_emails),
                now,
            )
        if not claimed:
            continue
        scope = ReportScope(period.first_day, period.last_day, org.org_id)
        name = org.name or org.org_id
        try:
            report = funnel_report(
                store,
                scope,
                now,
                title=f"{name}: messaging funnel, week of {period.first_day:%d %b %Y}",
            )
            message_id = mailer(
                ReportMail(
                    recipients=org.analyst_emails,
                    subject=f"Weekly messaging report, {name}, week of {period.first_day:%d %b}",
                    text=(
                        f"{funnel_reading(report, policy)}\n\n"
                        "The full report, with its charts, is attached (one HTML file; it opens "
                        "in any browser, without network). It holds aggregates only: counts "
                        f"under {policy.threshold} are shown as {policy.hidden_label}.\n"
                        if policy.threshold is not None
                        else f"{funnel_reading(report, policy)}\n\nThe full report is attached.\n"
                    ),
                    filename=f"outreach-funnel-{org.org_id}-{period.first_day.isoformat()}.html",
                    html=render_html(report, policy),
                    reference=f"report-{org.org_id}-{period.first_day.isoformat()}",
                )
            )
        except Exception as error:  # the provider or the database: the next run tries again
            logger.warning(
                "weekly report for org %s (week of %s) not sent: %s",
                org.org_id,
                period.first_day,
                type(error).__name__,
            )
            with store.transaction() as repos:
                repos.reports.release(org.org_id, WEEKLY_FUNNEL, period.first_day)
            continue
        with store.transaction() as repos:
            repos.reports.mark_sent(org.org_id, WEEKLY_FUNNEL, period.first_day, message_id, now)
        logger.info("weekly report for org %s (week of %s) sent", org.org_id, period.first_day)
        sent += 1
    return sent
