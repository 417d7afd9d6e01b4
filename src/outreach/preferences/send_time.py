"""Send time: the earliest instant a message may go, in the patient's zone, before its deadline.

Non-urgent messages go at the earliest instant at or after max(requested_at, now) whose local time
is inside the legal floor, outside quiet hours and, as a preference, outside the patient's work
hours. Flexible purposes (``FLEXIBLE_PURPOSES``) are then nudged to the patient's best hour when
it comes round within a day and before the deadline. Work hours are soft: if honouring them leaves
no slot, the slot is sought again without them, because a reminder outside work hours matters less
than a reminder at all. Quiet hours and the floor are hard: no slot before the deadline means
``quiet_hours_deadline``, never a late message. ``urgent`` goes at once, whatever the hour.

Exploration, against the model's exposure bias: a share of flexible messages whose deadline
leaves them the whole next day goes instead at a random allowed hour of that day (every hour at
which the rules above allow a send, equally likely). How the time was chosen (model, exploration
or default) and the probability the chosen hour had of being chosen are returned with it, so the
model can weigh what it learns from the send. Every candidate comes from the same allowed
windows, so neither the best hour nor exploration can move a send into quiet hours, outside the
floor or past the deadline.

All arithmetic is in UTC instants mapped to local wall time with zoneinfo (see ``wall_clock``).
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from datetime import UTC, datetime, time, timedelta
from zoneinfo import ZoneInfo

from outreach.domain import Purpose, SendTimeSource, SuppressionReason
from outreach.preferences.boundary import as_purpose, as_utc, optional_utc
from outreach.preferences.hierarchy import EffectivePreferences
from outreach.preferences.legal_floor import is_florida_number
from outreach.preferences.outcomes import Suppressed
from outreach.preferences.quiet_hours import WeekPlan, week_plan
from outreach.preferences.wall_clock import earliest_allowed

FLEXIBLE_PURPOSES: frozenset[Purpose] = frozenset(
    {Purpose.RX_REFILL, Purpose.LAB_READY, Purpose.NO_SHOW, Purpose.CAMPAIGN_EDUCATION}
)
# Without a deadline, look this far for an allowed slot: a week covers every weekday plan.
SEARCH_HORIZON = timedelta(days=8)
# The best hour is worth waiting for at most until it next comes round.
BEST_HOUR_REACH = timedelta(hours=24)
# Exploration picks among the allowed hours of the day after the earliest slot.
EXPLORATION_REACH = timedelta(hours=24)
_ONE_DAY = timedelta(days=1)
_ONE_HOUR_SECONDS = 3600


@dataclass(frozen=True, slots=True)
class Exploration:
    """Whether this job explores, and where: ``draw`` and ``pick`` are uniform in [0, 1).

    It explores when ``draw < share``, at the allowed hour ``pick`` selects.
    """

    share: float
    draw: float
    pick: float


def exploration_for(key: str, share: float) -> Exploration:
    """The job's exploration draws, derived from its idempotency key: a replayed event draws the
    same, and no random source is needed."""
    digest = hashlib.blake2b(key.encode(), digest_size=16).digest()
    scale = float(2**64)
    return Exploration(
        share,
        int.from_bytes(digest[:8], "big") / scale,
        int.from_bytes(digest[8:], "big") / scale,
    )


@dataclass(frozen=True, slots=True)
class SendTime:
    """When to send, how that was chosen, and the probability the chosen hour had of being
    chosen (1.0 when nothing random was involved)."""

    at: datetime
    source: SendTimeSource
    propensity: float


def next_allowed_send_time(
    requested_at: datetime,
    deadline: datetime | None,
    purpose: Purpose,
    prefs: EffectivePreferences,
    recipient_phone: str | None,
    now: datetime,
) -> datetime | Suppressed:
    """The UTC instant to send at, or ``Suppressed`` when the rules leave none before the deadline.

    ``recipient_phone`` (E.164, or ``None`` for e-mail) decides whether the Florida floor applies.
    Naive datetimes are refused with ``ValueError``.
    """
    purpose = as_purpose(purpose)
    now = as_utc(now, "now")
    requested_at = as_utc(requested_at, "requested_at")
    deadline = optional_utc(deadline, "deadline")
    earliest = max(requested_at, now)
    if deadline is not None and deadline < earliest:
        return Suppressed(SuppressionReason.DEADLINE_PASSED, "the deadline passed before planning")
    return plan_send_time(earliest, deadline, purpose, prefs, is_florida_number(recipient_phone))


def plan_send_time(
    earliest: datetime,
    deadline: datetime | None,
    purpose: Purpose,
    prefs: EffectivePreferences,
    florida: bool,
) -> datetime | Suppressed:
    """``next_allowed_send_time`` for callers holding a ``Purpose`` and UTC instants with
    earliest <= deadline."""
    chosen = choose_send_time(earliest, deadline, purpose, prefs, florida)
    return chosen if isinstance(chosen, Suppressed) else chosen.at


def choose_send_time(
    earliest: datetime,
    deadline: datetime | None,
    purpose: Purpose,
    prefs: EffectivePreferences,
    florida: bool,
    exploration: Exploration | None = None,
) -> SendTime | Suppressed:
    """The send time with how it was chosen (the ``decide`` hot path): UTC instants with
    earliest <= deadline."""
    if purpose is Purpose.URGENT:
        return SendTime(earliest, SendTimeSource.DEFAULT, 1.0)
    limit = deadline if deadline is not None else earliest + SEARCH_HORIZON
    zone = prefs.zone
    plan = week_plan(florida, prefs.quiet_window, prefs.work_window)
    slot = earliest_allowed(earliest, limit, zone, plan)
    if slot is None and prefs.work_window is not None:
        plan = week_plan(florida, prefs.quiet_window, None)
        slot = earliest_allowed(earliest, limit, zone, plan)
    if slot is None:
        until = "the deadline" if deadline is not None else f"{SEARCH_HORIZON.days} days"
        return Suppressed(
            SuppressionReason.QUIET_HOURS_DEADLINE,
            f"no local time allowed by quiet hours and the legal floor in {prefs.timezone} "
            f"within {until}",
        )
    chosen, source = slot, SendTimeSource.DEFAULT
    if prefs.best_hour is not None and purpose in FLEXIBLE_PURPOSES:
        chosen = _nudge_to_best_hour(
            slot, min(limit, slot + BEST_HOUR_REACH), zone, plan, prefs.best_hour
        )
        if chosen.astimezone(zone).hour == prefs.best_hour:
            source = SendTimeSource.MODEL
    if (
        exploration is None
        or exploration.share <= 0.0
        or purpose not in FLEXIBLE_PURPOSES
        or (deadline is not None and deadline < slot + EXPLORATION_REACH)
    ):
        return SendTime(chosen, source, 1.0)
    hours = _allowed_hour_starts(slot, slot + EXPLORATION_REACH, zone, plan)
    share, count = exploration.share, len(hours)
    chosen_hour = chosen.astimezone(zone).hour
    if exploration.draw < share:
        hour, at = hours[min(int(exploration.pick * count), count - 1)]
        propensity = share / count + (1.0 - share) * (hour == chosen_hour)
        return SendTime(at, SendTimeSource.EXPLORATION, propensity)
    return SendTime(chosen, source, (1.0 - share) + share / count)


def _allowed_hour_starts(
    slot: datetime, end: datetime, zone: ZoneInfo, plan: WeekPlan
) -> list[tuple[int, datetime]]:
    """(local hour, first allowed instant in it) for each local hour with an allowed instant in
    [slot, end), in time order. ``slot`` itself is allowed, so the list is never empty."""
    found: dict[int, datetime] = {}
    cursor = slot
    while cursor < end:
        candidate = earliest_allowed(cursor, end, zone, plan)
        if candidate is None or candidate >= end:
            break
        local = candidate.astimezone(zone)
        found.setdefault(local.hour, candidate)
        into_hour = local.minute * 60 + local.second + local.microsecond / 1e6
        cursor = candidate + timedelta(seconds=_ONE_HOUR_SECONDS - into_hour)
    return sorted(found.items(), key=lambda item: item[1])


def _nudge_to_best_hour(
    slot: datetime, limit: datetime, zone: ZoneInfo, plan: WeekPlan, best_hour: int
) -> datetime:
    local = slot.astimezone(zone)
    if local.hour == best_hour:
        return slot
    day = local.date()
    for candidate_day in (day, day + _ONE_DAY):
        hour_start = datetime.combine(candidate_day, time(best_hour), zone).astimezone(UTC)
        if hour_start < slot:
            continue
        if hour_start > limit:
            break
        candidate = earliest_allowed(hour_start, limit, zone, plan)
        # Only a slot inside the best hour is a nudge; later in the day it is just a delay.
        if candidate is not None and candidate.astimezone(zone).hour == best_hour:
            return candidate
    return slot
