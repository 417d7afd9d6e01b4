"""Hypothesis strategies and an independent reference model of the timing rules.

The reference model re-states the rules in the plainest way (wall-clock ``time`` comparisons in
the patient's zone) so the properties compare two independent readings of the spec, not the
implementation with itself.
"""

from __future__ import annotations

from datetime import UTC, datetime, time, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from hypothesis import strategies as st

from outreach.domain import BUILTIN_CHANNELS, Channel, Purpose
from outreach.preferences import (
    ConsentState,
    EffectivePreferences,
    PreferenceLayer,
    SentRecord,
)

REQUIRED_ZONES = (
    "America/New_York",
    "America/Phoenix",
    "Europe/Bucharest",
    "Asia/Kolkata",
    "Australia/Lord_Howe",
)
# Zones whose transitions happen at local midnight stress the wall-clock search's day handling.
MIDNIGHT_ZONES = ("America/Havana", "America/Santiago", "Asia/Beirut")

# The 2026 offset changes (UTC), for instants generated around them.
TRANSITIONS_BY_ZONE: dict[str, tuple[datetime, ...]] = {
    "America/New_York": (
        datetime(2026, 3, 8, 7, 0, tzinfo=UTC),  # spring forward at 02:00
        datetime(2026, 11, 1, 6, 0, tzinfo=UTC),  # fall back at 02:00
    ),
    "Europe/Bucharest": (
        datetime(2026, 3, 29, 1, 0, tzinfo=UTC),  # 03:00 -> 04:00
        datetime(2026, 10, 25, 1, 0, tzinfo=UTC),  # 04:00 -> 03:00
    ),
    "Australia/Lord_Howe": (
        datetime(2026, 4, 4, 15, 0, tzinfo=UTC),  # 02:00 -> 01:30, half an hour back
        datetime(2026, 10, 3, 15, 30, tzinfo=UTC),  # 02:00 -> 02:30, half an hour forward
    ),
    "America/Havana": (
        datetime(2026, 3, 8, 5, 0, tzinfo=UTC),  # 00:00 -> 01:00
        datetime(2026, 11, 1, 5, 0, tzinfo=UTC),  # 01:00 -> 00:00
    ),
    "America/Santiago": (
        datetime(2026, 4, 5, 3, 0, tzinfo=UTC),  # 00:00 -> 23:00 the day before
        datetime(2026, 9, 6, 4, 0, tzinfo=UTC),  # 00:00 -> 01:00
    ),
    "Asia/Beirut": (
        datetime(2026, 3, 28, 22, 0, tzinfo=UTC),  # 00:00 -> 01:00
        datetime(2026, 10, 24, 21, 0, tzinfo=UTC),  # 00:00 -> 23:00 the day before
    ),
}
# Zones without DST still see other zones' transition dates, where bugs would be shared.
TRANSITIONS_2026 = tuple(t for ts in TRANSITIONS_BY_ZONE.values() for t in ts)

FLORIDA_PHONE = "+13052345678"
OTHER_US_PHONE = "+12125550199"
PHONES = (FLORIDA_PHONE, OTHER_US_PHONE, "+40721234567", "+919812345678", "+61412345678")
EMAILS = ("ann@example.org", "Bob.Smith+clinic@Example.COM")
INVALID_PHONES = ("12345", "+1", "not a number", "3052345678")
INVALID_EMAILS = ("no-at-sign", "a@b", "two@@example.org")

zones = st.sampled_from(REQUIRED_ZONES)
channels = st.sampled_from(list(BUILTIN_CHANNELS))
purposes = st.sampled_from(list(Purpose))
channel_sets = st.frozensets(channels)


@st.composite
def instants_2026(draw: st.DrawFn, zone: str | None = None, within: int = 4 * 86_400) -> datetime:
    """Aware UTC instants within ``within`` seconds of a 2026 transition (of ``zone`` when it has
    any), or anywhere in 2026."""
    if draw(st.integers(0, 3)):
        anchors = TRANSITIONS_BY_ZONE.get(zone or "", TRANSITIONS_2026)
        anchor = draw(st.sampled_from(anchors))
        # Half the time within three hours of the jump itself, where folds and gaps bite.
        offset = draw(st.one_of(st.integers(-within, within), st.integers(-10_800, 10_800)))
    else:
        anchor = datetime(2026, 1, 1, tzinfo=UTC)
        offset = draw(st.integers(0, 364 * 86_400))
    seconds = draw(st.sampled_from([0, 0, 0, draw(st.integers(0, 59))]))
    return anchor + timedelta(seconds=offset - offset % 60 + seconds)


# Window bounds at whole minutes (what people configure), sometimes on the hour.
minute_times = st.one_of(
    st.builds(time, st.integers(0, 23)),
    st.builds(time, st.integers(0, 23), st.integers(0, 59)),
)


LAYER_FIELDS: dict[str, st.SearchStrategy[Any]] = {
    "timezone": zones,
    "language": st.sampled_from(["en", "es-MX", "ro", "hi-IN"]),
    "quiet_hours_start": minute_times,
    "quiet_hours_end": minute_times,
    "avoid_work_hours": st.booleans(),
    "work_hours_start": minute_times,
    "work_hours_end": minute_times,
    "work_days": st.frozensets(st.integers(0, 6)),
    "allowed_channels": channel_sets,
    "preferred_channel": channels,
    "channel_order": st.permutations(list(BUILTIN_CHANNELS)).map(tuple),
    "email": st.sampled_from(EMAILS + INVALID_EMAILS[:1]),
    "phone": st.sampled_from(PHONES + INVALID_PHONES[:1]),
    "whatsapp": st.sampled_from(PHONES),
    "best_hour": st.integers(0, 23),
    "marketing_max_per_day": st.integers(0, 3),
    "marketing_max_per_week": st.integers(0, 6),
    "healthcare_reminder_profile": st.booleans(),
}


@st.composite
def layers(draw: st.DrawFn, **fixed: Any) -> PreferenceLayer:
    """A layer whose fields are each set or left to the next level; ``fixed`` pins some."""
    values = {name: draw(st.one_of(st.none(), strategy)) for name, strategy in LAYER_FIELDS.items()}
    values.update(fixed)
    return PreferenceLayer(**values)


@st.composite
def consent_states(draw: st.DrawFn, now: datetime | None = None) -> ConsentState:
    """Consent states; given ``now``, often granted close to two years before it (expiry)."""
    granted = draw(st.sampled_from([True] * 7 + [False]))
    reference = now if now is not None else draw(instants_2026())
    near_expiry = st.integers(-2 * 24, 2 * 24).map(lambda h: 730 + h / 24)
    age = draw(st.one_of(st.integers(0, 700), near_expiry))
    granted_at = reference - timedelta(days=age)
    return ConsentState(
        contact_granted=granted,
        granted_at=granted_at if granted else None,
        marketing_opt_in=draw(channel_sets),
        # Mostly none or one: an opt-out of everything leaves little else to check.
        opted_out=draw(
            st.sampled_from(
                [frozenset(), frozenset(), frozenset(), *(frozenset({c}) for c in BUILTIN_CHANNELS)]
                + [frozenset({Channel.SMS, Channel.EMAIL}), frozenset(BUILTIN_CHANNELS)]
            )
        ),
        whatsapp_opt_in=draw(st.booleans()),
    )


@st.composite
def histories(draw: st.DrawFn, around: datetime) -> list[SentRecord]:
    return draw(
        st.lists(
            st.builds(
                SentRecord,
                channel=channels,
                purpose=st.sampled_from([Purpose.CAMPAIGN_EDUCATION, Purpose.APPT_REMINDER]),
                # Whole hours crowd the records into the same rolling windows.
                sent_at=st.integers(-8 * 24, 0).map(lambda h: around + timedelta(hours=h)),
            ),
            max_size=10,
        )
    )


# --- reference model of the timing rules -----------------------------------------------------


def in_daily_window(moment: time, start: time, end: time) -> bool:
    if start < end:
        return start <= moment < end
    if start > end:
        return moment >= start or moment < end
    return False


def legal_and_quiet_ok(instant: datetime, prefs: EffectivePreferences, florida: bool) -> bool:
    """Inside the legal floor and outside quiet hours, in the patient's zone."""
    local = instant.astimezone(ZoneInfo(prefs.timezone))
    wall = local.time()
    floor_end = time(20) if florida else time(21)
    if not time(8) <= wall < floor_end:
        return False
    return not in_daily_window(wall, prefs.quiet_hours_start, prefs.quiet_hours_end)


def outside_work_hours(instant: datetime, prefs: EffectivePreferences) -> bool:
    if not prefs.avoid_work_hours:
        return True
    local = instant.astimezone(ZoneInfo(prefs.timezone))
    wall, weekday = local.time(), local.weekday()
    start, end, days = prefs.work_hours_start, prefs.work_hours_end, prefs.work_days
    if start < end:
        return not (weekday in days and start <= wall < end)
    if start > end:
        late = weekday in days and wall >= start
        early = (weekday - 1) % 7 in days and wall < end
        return not (late or early)
    return True


def minute_grid(start: datetime, end: datetime) -> list[datetime]:
    """``start`` and every whole UTC minute in (start, end): where an allowed stretch can begin.

    Window bounds are whole local minutes and every zone here is offset by whole minutes, so an
    allowed stretch inside [start, end) always contains ``start`` or one of these minutes.
    """
    grid = [start]
    minute = start.replace(second=0, microsecond=0) + timedelta(minutes=1)
    while minute < end:
        grid.append(minute)
        minute += timedelta(minutes=1)
    return grid
