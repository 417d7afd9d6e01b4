"""Provider times move into a shifted clock's frame, and stay as they are with the real clock."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from outreach.clock import in_clock_frame


def test_the_real_clock_keeps_provider_times() -> None:
    reported = datetime(2026, 3, 2, 12, 0, tzinfo=UTC)
    assert in_clock_frame(reported, datetime.now(UTC)) == reported


def test_a_clock_running_ahead_moves_provider_times_with_it() -> None:
    reported = datetime.now(UTC) - timedelta(seconds=3)
    ahead = timedelta(days=2, hours=5)
    moved = in_clock_frame(reported, datetime.now(UTC) + ahead)
    # Still three seconds before "now" in the shifted frame (to within the test's own runtime).
    assert abs((moved - reported) - ahead) < timedelta(seconds=1)
