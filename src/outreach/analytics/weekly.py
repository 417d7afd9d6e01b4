"""When an organisation's weekly report is due, and which week it covers (pure; the clock is a
parameter).

The report of a week (Monday to Sunday, the organisation's own days) is due from the next
Monday at 08:00 in the organisation's time zone. A scheduler that was down at that moment sends
it when it next looks: each week is sent once (``comm_report_deliveries``), so catching up never
sends twice.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, time, timedelta

from outreach.analytics.job_facts import zone_of

WEEKLY_SEND_TIME = time(8, 0)


@dataclass(frozen=True, slots=True)
class ReportMail:
    """One report e-mail: its recipients, subject, text and the attached HTML file."""

    recipients: tuple[str, ...]
    subject: str
    text: str
    filename: str
    html: str
    reference: str  # an id for logs and provider callbacks (no personal data)


@dataclass(frozen=True, slots=True)
class ReportPeriod:
    first_day: date
    last_day: date


def due_weekly_period(
    now: datetime, timezone: str | None, send_at: time = WEEKLY_SEND_TIME
) -> ReportPeriod:
    """The latest week whose report is due at ``now``: the week before this Monday once this
    Monday's ``send_at`` has passed locally, else the week before last."""
    local = now.astimezone(zone_of(timezone))
    monday = local.date() - timedelta(days=local.weekday())
    if local.time() < send_at and local.date() == monday:
        monday -= timedelta(days=7)
    return ReportPeriod(monday - timedelta(days=7), monday - timedelta(days=1))
