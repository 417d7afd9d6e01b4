"""The weekly report is due from Monday 08:00 in the organisation's own time zone."""

from __future__ import annotations

from datetime import UTC, date, datetime

import pytest

from outreach.analytics.weekly import due_weekly_period


@pytest.mark.parametrize(
    ("now", "zone", "first_day"),
    [
        # Monday 9 March 2026, 07:59 in New York (11:59 UTC): last week's is not due yet.
        (datetime(2026, 3, 9, 11, 59, tzinfo=UTC), "America/New_York", date(2026, 2, 23)),
        # 08:00 in New York: the week of 2 March is due.
        (datetime(2026, 3, 9, 12, 0, tzinfo=UTC), "America/New_York", date(2026, 3, 2)),
        # 08:00 in Tokyo is still Sunday in UTC.
        (datetime(2026, 3, 8, 23, 0, tzinfo=UTC), "Asia/Tokyo", date(2026, 3, 2)),
        # Later in the week the same week stays the one due (sent once, caught up if missed).
        (datetime(2026, 3, 12, 18, 0, tzinfo=UTC), "Europe/Paris", date(2026, 3, 2)),
        # No zone: UTC.
        (datetime(2026, 3, 9, 8, 0, tzinfo=UTC), None, date(2026, 3, 2)),
    ],
)
def test_the_week_due(now: datetime, zone: str | None, first_day: date) -> None:
    period = due_weekly_period(now, zone)
    assert period.first_day == first_day
    assert (period.last_day - period.first_day).days == 6
    assert period.first_day.weekday() == 0
