"""The synthetic clinic's planted engagement truth: when each patient reads their messages.

Every synthetic patient has a preferred local hour, when they habitually check their phone and
mail, and a responsiveness. A message is engaged with (opened, clicked or answered):

- promptly (within the hour), with a probability that peaks when it arrives at the preferred
  hour and falls off either side, scaled by the channel (a WhatsApp message is read more often
  than an e-mail is opened, and an SMS is only ever answered), the patient's responsiveness and
  the day of the week; or, failing that,
- later, at the patient's next preferred hour (give or take), with a smaller probability: the
  message waited in their inbox until they looked.

Preferred hours depend partly on the patient's age band (a retiree reads mid-morning, a young
adult in the evening, a parent of a child after work), with individual variation on top, so a
cohort says something about a patient but not everything. Nothing outside the simulators reads
this module: the send-time model only ever sees the engagement it causes.

Pure: the random source is a parameter; the vectorised functions take NumPy arrays.
"""

from __future__ import annotations

import hashlib
import random
from dataclasses import dataclass

import numpy as np

from outreach.domain import Channel

# Prompt engagement at the preferred hour, per channel, for a patient of responsiveness 1.
PEAK_ENGAGEMENT = {Channel.WHATSAPP: 0.70, Channel.EMAIL: 0.40, Channel.SMS: 0.22}
# Far from the preferred hour a message is still engaged with promptly at this share of the peak.
OFF_PEAK_SHARE = 0.3
# Standard deviation, in hours, of the bell around the preferred hour.
PEAK_WIDTH_HOURS = 1.0
WEEKEND_FACTOR = 0.9
MAX_ENGAGEMENT = 0.95
PROMPT_LATENCY_MINUTES = 15.0  # mean minutes to a prompt engagement (exponential, at most 60)
# A message not engaged with promptly is engaged with at the next preferred hour with this share
# of the peak probability, at that hour give or take this many hours (normal).
LATER_SHARE = 0.4
LATER_SPREAD_HOURS = 0.5
# Preferred hours lie where messages may legally go (08:00-21:00 local).
EARLIEST_PREFERRED_HOUR, LATEST_PREFERRED_HOUR = 8, 20
# Typical hours per age band (lowest age of the band): (hour, share) mixtures.
TYPICAL_HOURS: dict[int, tuple[tuple[int, float], ...]] = {
    0: ((19, 0.5), (8, 0.3), (13, 0.2)),  # a parent reads for a child
    18: ((20, 0.5), (12, 0.3), (17, 0.2)),
    35: ((12, 0.4), (19, 0.4), (8, 0.2)),
    50: ((8, 0.4), (17, 0.3), (12, 0.3)),
    65: ((10, 0.6), (15, 0.4)),
    80: ((10, 0.5), (14, 0.5)),
}
INDIVIDUAL_SPREAD_HOURS = 1.2  # standard deviation of a patient's hour around the typical one
RESPONSIVENESS_SPREAD = 0.35  # log-normal sigma of how responsive patients are
_CHANNEL_CODES = {channel: code for code, channel in enumerate(Channel)}
_PEAK_BY_CODE = np.array([PEAK_ENGAGEMENT[channel] for channel in Channel])
_PROMPT_WINDOW_MINUTES = 60.0


@dataclass(frozen=True, slots=True)
class EngagementProfile:
    """How one patient engages: the truth the model is measured against."""

    timezone: str
    preferred_hour: int  # local hour 8-20
    responsiveness: float  # multiplies the channel's engagement rate


def age_band_floor(age: int) -> int:
    """The lowest age of the band ``age`` falls in (a key of ``TYPICAL_HOURS``)."""
    return max(floor for floor in TYPICAL_HOURS if floor <= age)


def plant_profile(rng: random.Random, age: int, timezone: str) -> EngagementProfile:
    """Draw a patient's preferred hour and responsiveness."""
    roll, hour = rng.random(), EARLIEST_PREFERRED_HOUR
    for typical, share in TYPICAL_HOURS[age_band_floor(age)]:
        hour = typical
        if roll < share:
            break
        roll -= share
    hour = round(hour + rng.gauss(0.0, INDIVIDUAL_SPREAD_HOURS))
    hour = min(max(hour, EARLIEST_PREFERRED_HOUR), LATEST_PREFERRED_HOUR)
    responsiveness = min(max(rng.lognormvariate(0.0, RESPONSIVENESS_SPREAD), 0.3), 2.0)
    return EngagementProfile(timezone, hour, round(responsiveness, 3))


def profile_rng(seed: int, patient_id: str) -> random.Random:
    """A random source of its own per patient, so planting the truth changes no other draw."""
    digest = hashlib.blake2b(f"{seed}/{patient_id}".encode(), digest_size=8).digest()
    return random.Random(int.from_bytes(digest, "big"))


def hours_apart(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """Distance in hours between local times of day, around the clock (23:00 to 01:00 is 2)."""
    gap = np.abs(np.asarray(a, dtype=float) - np.asarray(b, dtype=float)) % 24.0
    return np.minimum(gap, 24.0 - gap)


def _peak_probability(
    responsiveness: np.ndarray, channel_code: np.ndarray, weekend: np.ndarray
) -> np.ndarray:
    day = np.where(np.asarray(weekend, dtype=bool), WEEKEND_FACTOR, 1.0)
    return _PEAK_BY_CODE[np.asarray(channel_code)] * np.asarray(responsiveness) * day


def prompt_probabilities(
    preferred_hour: np.ndarray,
    responsiveness: np.ndarray,
    channel_code: np.ndarray,
    local_hour: np.ndarray,
    weekend: np.ndarray,
) -> np.ndarray:
    """P(engaged within the hour) of messages arriving at ``local_hour`` (fractional hours).

    ``channel_code`` indexes ``Channel`` in declaration order (``channel_codes``).
    """
    # The preferred hour h is the hour from h:00 to h+1:00: the bell is centred on its middle.
    distance = hours_apart(local_hour, np.asarray(preferred_hour, dtype=float) + 0.5)
    bell = OFF_PEAK_SHARE + (1.0 - OFF_PEAK_SHARE) * np.exp(
        -(distance**2) / (2.0 * PEAK_WIDTH_HOURS**2)
    )
    peak = _peak_probability(responsiveness, channel_code, weekend)
    return np.minimum(peak * bell, MAX_ENGAGEMENT)


def draw_engagement(
    rng: np.random.Generator,
    preferred_hour: np.ndarray,
    responsiveness: np.ndarray,
    channel_code: np.ndarray,
    local_hour: np.ndarray,
    weekend: np.ndarray,
) -> np.ndarray:
    """Minutes from arrival to engagement of each message (NaN: never engaged with).

    ``local_hour`` is the arrival's local time of day in fractional hours.
    """
    local_hour = np.asarray(local_hour, dtype=float)
    count = len(local_hour)
    prompt = rng.random(count) < prompt_probabilities(
        preferred_hour, responsiveness, channel_code, local_hour, weekend
    )
    later_chance = np.minimum(
        LATER_SHARE * _peak_probability(responsiveness, channel_code, weekend), MAX_ENGAGEMENT
    )
    later = ~prompt & (rng.random(count) < later_chance)
    prompt_minutes = np.minimum(rng.exponential(PROMPT_LATENCY_MINUTES, count), 59.0)
    # The next time the clock shows the preferred hour (give or take), at least an hour on.
    target = (
        np.asarray(preferred_hour, dtype=float) + 0.5 + rng.normal(0.0, LATER_SPREAD_HOURS, count)
    )
    wait_hours = (target - local_hour) % 24.0
    wait_hours = np.where(wait_hours * 60.0 < _PROMPT_WINDOW_MINUTES, wait_hours + 24.0, wait_hours)
    minutes = np.where(prompt, prompt_minutes, np.where(later, wait_hours * 60.0, np.nan))
    return minutes


def channel_codes(channels: list[Channel] | tuple[Channel, ...]) -> np.ndarray:
    return np.array([_CHANNEL_CODES[channel] for channel in channels], dtype=np.int8)


def engagement_delay_minutes(
    rng: np.random.Generator,
    profile: EngagementProfile,
    channel: Channel,
    local_hour: float,
    weekend: bool,
) -> float | None:
    """``draw_engagement`` for one message: minutes to engagement, or None."""
    minutes = draw_engagement(
        rng,
        np.array([profile.preferred_hour]),
        np.array([profile.responsiveness]),
        np.array([_CHANNEL_CODES[channel]]),
        np.array([local_hour]),
        np.array([weekend]),
    )[0]
    return None if np.isnan(minutes) else float(minutes)
