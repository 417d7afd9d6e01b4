"""Frequency caps: how many messages a patient may receive, in rolling windows.

- Marketing purposes: at most ``marketing_max_per_day`` per rolling 24 h and
  ``marketing_max_per_week`` per rolling 7 days, counted per patient and channel. An effective
  ``None`` is uncapped, but ``GLOBAL_DEFAULTS`` sets 1 and 3, so an org lifts a cap by setting a
  larger number (``None`` at a level means "inherit"). Transactional purposes are exempt.
- The healthcare-reminder profile (an org switch): ``appt_reminder`` at most 1 per 24 h and 3 per
  7 days, counted across channels, since a reminder is about the patient not the channel.
- Florida numbers (legal floor): at most 3 marketing messages per 24 h to the number, i.e. across
  SMS and WhatsApp.

- Fatigue: a patient whose fatigue score (recent sends against recent engagement, computed by
  the ``ml`` package) reaches the configured threshold gets the lower marketing caps of the
  ``FatiguePolicy`` instead, never higher ones. Transactional messages are untouched.

Windows are checked around the planned send instant: a record counts when it lies less than a
window away on either side, so messages already planned (passed in as records at their send time)
are counted too and no rolling window containing the new message can exceed its cap.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta

from outreach.domain import Channel, Purpose, SuppressionReason
from outreach.preferences.boundary import as_channel, as_purpose, as_utc
from outreach.preferences.hierarchy import EffectivePreferences
from outreach.preferences.legal_floor import FLORIDA_MARKETING_MAX, FLORIDA_MARKETING_PERIOD

DAY = timedelta(hours=24)
WEEK = timedelta(days=7)
REMINDER_PROFILE_MAX_PER_DAY = 1
REMINDER_PROFILE_MAX_PER_WEEK = 3
_PHONE_CHANNELS = frozenset({Channel.SMS, Channel.WHATSAPP})


@dataclass(frozen=True, slots=True)
class SentRecord:
    """A message the patient received (or is already planned to receive) at ``sent_at``."""

    channel: Channel
    purpose: Purpose
    sent_at: datetime

    def __post_init__(self) -> None:
        object.__setattr__(self, "channel", as_channel(self.channel))
        object.__setattr__(self, "purpose", as_purpose(self.purpose))
        object.__setattr__(self, "sent_at", as_utc(self.sent_at, "sent_at"))


@dataclass(frozen=True, slots=True)
class FatiguePolicy:
    """Marketing caps for patients whose fatigue score reaches ``threshold``."""

    threshold: float
    marketing_max_per_day: int
    marketing_max_per_week: int


def _lower(current: int | None, fatigued: int) -> int:
    return fatigued if current is None else min(current, fatigued)


def is_fatigued(fatigue_score: float | None, policy: FatiguePolicy | None) -> bool:
    return policy is not None and fatigue_score is not None and fatigue_score >= policy.threshold


def with_fatigue(
    prefs: EffectivePreferences, fatigue_score: float | None, policy: FatiguePolicy | None
) -> EffectivePreferences:
    """``prefs`` with the fatigued marketing caps when the score reaches the threshold.

    Only the marketing caps change, and only downwards: transactional messages are never capped
    by fatigue, and a patient already capped lower keeps their own caps.
    """
    if policy is None or not is_fatigued(fatigue_score, policy):
        return prefs
    return dataclasses.replace(
        prefs,
        marketing_max_per_day=_lower(prefs.marketing_max_per_day, policy.marketing_max_per_day),
        marketing_max_per_week=_lower(prefs.marketing_max_per_week, policy.marketing_max_per_week),
    )


def frequency_refusal(
    purpose: Purpose,
    channel: Channel,
    send_at: datetime,
    prefs: EffectivePreferences,
    history: Sequence[SentRecord],
    florida_number: bool = False,
) -> SuppressionReason | None:
    """``frequency_cap`` when sending ``purpose`` on ``channel`` at ``send_at`` would exceed a cap.

    ``florida_number`` says the message goes to a Florida number (SMS or WhatsApp).
    """
    purpose, channel = as_purpose(purpose), as_channel(channel)
    if purpose is Purpose.CAMPAIGN_EDUCATION:
        per_day = prefs.marketing_max_per_day
        per_week = prefs.marketing_max_per_week
        florida = florida_number and channel in _PHONE_CHANNELS
        if per_day is None and per_week is None and not florida:
            return None
        day_lo, day_hi = send_at - DAY, send_at + DAY
        week_lo, week_hi = send_at - WEEK, send_at + WEEK
        fl_lo, fl_hi = send_at - FLORIDA_MARKETING_PERIOD, send_at + FLORIDA_MARKETING_PERIOD
        day_count = week_count = florida_count = 0
        for record in history:
            if record.purpose is not Purpose.CAMPAIGN_EDUCATION:
                continue
            at = record.sent_at
            if florida and record.channel in _PHONE_CHANNELS and fl_lo < at < fl_hi:
                florida_count += 1
            if record.channel is channel and week_lo < at < week_hi:
                week_count += 1
                if day_lo < at < day_hi:
                    day_count += 1
        if (
            (per_day is not None and day_count >= per_day)
            or (per_week is not None and week_count >= per_week)
            or (florida and florida_count >= FLORIDA_MARKETING_MAX)
        ):
            return SuppressionReason.FREQUENCY_CAP
        return None

    if purpose is Purpose.APPT_REMINDER and prefs.healthcare_reminder_profile:
        day_lo, day_hi = send_at - DAY, send_at + DAY
        week_lo, week_hi = send_at - WEEK, send_at + WEEK
        day_count = week_count = 0
        for record in history:
            if record.purpose is Purpose.APPT_REMINDER and week_lo < record.sent_at < week_hi:
                week_count += 1
                if day_lo < record.sent_at < day_hi:
                    day_count += 1
        if day_count >= REMINDER_PROFILE_MAX_PER_DAY or week_count >= REMINDER_PROFILE_MAX_PER_WEEK:
            return SuppressionReason.FREQUENCY_CAP
    return None
