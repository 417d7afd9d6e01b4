"""May this job go now? The legal window checked again at the moment of sending.

Planning chose a time inside quiet hours, the legal floor and the deadline, but a backlog, an
outage, retries or pacing can hold a job until that time is long gone. So the claim and the last
step before the provider call ask again: send now, or re-plan to the next allowed moment, or
suppress a job whose deadline has passed (or that no allowed moment before its deadline is left
for). Only the hard rules count here (floor, quiet hours, deadline); work hours and the best hour
were preferences for planning and do not hold a job back again.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from outreach.domain import Channel, Purpose, SuppressionReason
from outreach.preferences.boundary import as_utc, optional_utc
from outreach.preferences.hierarchy import EffectivePreferences
from outreach.preferences.legal_floor import is_florida_number
from outreach.preferences.quiet_hours import week_plan
from outreach.preferences.wall_clock import earliest_allowed, is_allowed

# Without a deadline, look this far for the next allowed moment (a week covers every plan).
SEARCH_HORIZON = timedelta(days=8)


@dataclass(frozen=True, slots=True)
class SendNow:
    pass


@dataclass(frozen=True, slots=True)
class Replan:
    """Outside the window: try again at ``at``, the next allowed moment."""

    at: datetime


@dataclass(frozen=True, slots=True)
class TooLate:
    """No allowed moment is left before the deadline."""

    reason: SuppressionReason
    detail: str


WindowVerdict = SendNow | Replan | TooLate
SEND_NOW = SendNow()


def check_send_window(
    purpose: Purpose,
    deadline: datetime | None,
    channel: Channel,
    address: str | None,
    prefs: EffectivePreferences,
    now: datetime,
) -> WindowVerdict:
    """Whether a job may go at ``now``; ``urgent`` ignores quiet hours and the floor, never the
    deadline. The Florida floor follows the number, as in planning (not e-mail)."""
    now = as_utc(now, "now")
    deadline = optional_utc(deadline, "deadline")
    if deadline is not None and now > deadline:
        return TooLate(SuppressionReason.DEADLINE_PASSED, "the deadline passed before sending")
    if purpose is Purpose.URGENT:
        return SEND_NOW
    florida = channel is not Channel.EMAIL and is_florida_number(address)
    plan = week_plan(florida, prefs.quiet_window, None)
    zone = prefs.zone
    if is_allowed(now, zone, plan):
        return SEND_NOW
    limit = deadline if deadline is not None else now + SEARCH_HORIZON
    slot = earliest_allowed(now, limit, zone, plan)
    if slot is None:
        return TooLate(
            SuppressionReason.QUIET_HOURS_DEADLINE,
            "no local time allowed by quiet hours and the legal floor is left before the deadline",
        )
    return Replan(slot)


OUTSIDE_LEGAL_FLOOR = "outside_legal_floor"  # before 08:00 or after 21:00 (20:00 Florida) local
IN_QUIET_HOURS = "in_quiet_hours"  # inside the patient's own quiet hours
AFTER_DEADLINE = "after_deadline"


def send_time_breaches(
    sent_at: datetime,
    purpose: Purpose,
    deadline: datetime | None,
    channel: Channel,
    address: str | None,
    prefs: EffectivePreferences,
) -> frozenset[str]:
    """Which of the hard rules a send made at ``sent_at`` broke (none, for a lawful send):
    what the demo's summary and an operator's audit count."""
    sent_at = as_utc(sent_at, "sent_at")
    breaches: set[str] = set()
    if deadline is not None and sent_at > as_utc(deadline, "deadline"):
        breaches.add(AFTER_DEADLINE)
    if purpose is not Purpose.URGENT:
        florida = channel is not Channel.EMAIL and is_florida_number(address)
        zone = prefs.zone
        if not is_allowed(sent_at, zone, week_plan(florida, (0, 0), None)):
            breaches.add(OUTSIDE_LEGAL_FLOOR)
        elif not is_allowed(sent_at, zone, week_plan(florida, prefs.quiet_window, None)):
            breaches.add(IN_QUIET_HOURS)
    return frozenset(breaches)
