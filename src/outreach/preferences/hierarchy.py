"""The preference hierarchy: patient > provider > organisation > global, field by field.

Each level is a ``PreferenceLayer`` whose fields are all optional; the most specific non-null value
of each field wins and ``EffectivePreferences.sources`` records which level it came from, so the
comm-context API can show a clinician why a message went out at 17:30 by SMS.

Work hours are modelled as "avoid contacting during work hours": a flag (``avoid_work_hours``), a
daily window that may cross midnight (a night shift) and the weekdays it applies to. The window is
a soft preference: when honouring it would leave no slot before a deadline, the message still goes
in quiet-hours-and-floor-compliant time (see ``send_time``).

Quiet-hours start and end resolve independently (a patient may move only the start of the
window); ``sources`` shows where each came from.

Addresses resolve like every other field, then are validated: an invalid most-specific address
makes the channel unreachable rather than falling back to a less specific level's address, which
would belong to someone else.
"""

from __future__ import annotations

import enum
import re
from collections.abc import Mapping
from dataclasses import dataclass, field, fields
from datetime import time
from types import MappingProxyType
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from outreach.domain import BUILTIN_CHANNELS, Channel
from outreach.preferences.addresses import (
    mask_email,
    mask_phone,
    normalise_email,
    normalise_phone,
)
from outreach.preferences.quiet_hours import seconds_of_day


class PreferenceLevel(enum.StrEnum):
    """Where an effective value came from, most specific first."""

    PATIENT = "patient"
    PROVIDER = "provider"
    ORGANISATION = "organisation"
    GLOBAL = "global"


_LANGUAGE_RE = re.compile(r"^[A-Za-z]{2,3}(?:-[A-Za-z0-9]{2,8})*$")


def _check_time(name: str, value: time | None) -> None:
    if value is None:
        return
    if not isinstance(value, time):
        raise ValueError(f"{name} must be a datetime.time, got {type(value).__name__}")
    # Windows are local wall-clock times; a zone or sub-second part would be ambiguous.
    if value.tzinfo is not None or value.microsecond:
        raise ValueError(f"{name} must be a naive local time with whole seconds")


def _check_count(name: str, value: int | None) -> None:
    if value is not None and (isinstance(value, bool) or not isinstance(value, int) or value < 0):
        raise ValueError(f"{name} must be a non-negative int")


def _check_flag(name: str, value: bool | None) -> None:
    if value is not None and not isinstance(value, bool):
        raise ValueError(f"{name} must be a bool")


@dataclass(frozen=True, slots=True, repr=False)
class PreferenceLayer:
    """One level's preferences; ``None`` means "no opinion, ask the next level".

    Configuration is validated here, loudly (a bad zone or language is a bug in the caller's
    data); addresses are not, because a mistyped phone number only makes a channel unreachable.
    """

    timezone: str | None = None  # IANA zone, e.g. "America/New_York"
    language: str | None = None  # BCP 47 tag, e.g. "es-MX"
    quiet_hours_start: time | None = None  # local; a window may cross midnight; start == end: none
    quiet_hours_end: time | None = None
    avoid_work_hours: bool | None = None  # whether to keep messages out of the work window
    work_hours_start: time | None = None  # local; may cross midnight (night shift)
    work_hours_end: time | None = None
    work_days: frozenset[int] | None = None  # weekdays a shift starts on, 0 = Monday
    allowed_channels: frozenset[Channel] | None = None
    preferred_channel: Channel | None = None
    channel_order: tuple[Channel, ...] | None = None  # fallback order; unlisted channels unused
    email: str | None = None
    phone: str | None = None  # E.164
    whatsapp: str | None = None  # E.164; the phone number is used when unset
    best_hour: int | None = None  # local hour 0-23 the patient engages most (learnt by ml)
    marketing_max_per_day: int | None = None  # per channel, rolling 24 h
    marketing_max_per_week: int | None = None  # per channel, rolling 7 days
    healthcare_reminder_profile: bool | None = None  # appt_reminder at most 1/day and 3/week

    def __post_init__(self) -> None:
        if self.timezone is not None:
            try:
                ZoneInfo(self.timezone)
            except (ZoneInfoNotFoundError, ValueError) as exc:
                raise ValueError(f"unknown IANA time zone {self.timezone!r}") from exc
        if self.language is not None and not _LANGUAGE_RE.match(self.language):
            raise ValueError(f"language must be a BCP 47 tag like 'es-MX', got {self.language!r}")
        for name in ("quiet_hours_start", "quiet_hours_end", "work_hours_start", "work_hours_end"):
            _check_time(name, getattr(self, name))
        for name in ("avoid_work_hours", "healthcare_reminder_profile"):
            _check_flag(name, getattr(self, name))
        for name in ("marketing_max_per_day", "marketing_max_per_week"):
            _check_count(name, getattr(self, name))
        if self.best_hour is not None and (
            isinstance(self.best_hour, bool)
            or not isinstance(self.best_hour, int)
            or not 0 <= self.best_hour <= 23
        ):
            raise ValueError("best_hour must be an int from 0 to 23")
        # Accept plain strings and sets from adapters; store the canonical immutable types.
        if self.work_days is not None:
            days = frozenset(self.work_days)
            if not all(isinstance(d, int) and 0 <= d <= 6 for d in days):
                raise ValueError("work_days must hold weekday numbers 0 (Monday) to 6 (Sunday)")
            object.__setattr__(self, "work_days", days)
        if self.allowed_channels is not None:
            object.__setattr__(
                self, "allowed_channels", frozenset(Channel(c) for c in self.allowed_channels)
            )
        if self.preferred_channel is not None:
            object.__setattr__(self, "preferred_channel", Channel(self.preferred_channel))
        if self.channel_order is not None:
            order = tuple(Channel(c) for c in self.channel_order)
            if len(set(order)) != len(order):
                raise ValueError("channel_order must not repeat a channel")
            object.__setattr__(self, "channel_order", order)

    def __repr__(self) -> str:
        shown = ", ".join(
            f"{name}={value!r}" for name, value in _masked_items(self) if value is not None
        )
        return f"PreferenceLayer({shown})"


_FIELD_NAMES: tuple[str, ...] = tuple(f.name for f in fields(PreferenceLayer))
# What an organisation or provider may set: addresses belong to a patient alone.
LEVEL_FIELDS: tuple[str, ...] = tuple(
    name for name in _FIELD_NAMES if name not in ("email", "phone", "whatsapp")
)
# Fields every effective preference set must have: the global layer has to provide them.
REQUIRED_FIELDS: frozenset[str] = frozenset(
    {
        "timezone",
        "language",
        "quiet_hours_start",
        "quiet_hours_end",
        "avoid_work_hours",
        "work_hours_start",
        "work_hours_end",
        "work_days",
        "allowed_channels",
        "channel_order",
        "healthcare_reminder_profile",
    }
)

GLOBAL_DEFAULTS = PreferenceLayer(
    timezone="UTC",
    language="en",
    quiet_hours_start=time(21, 0),
    quiet_hours_end=time(8, 0),
    avoid_work_hours=False,
    work_hours_start=time(9, 0),
    work_hours_end=time(17, 0),
    work_days=frozenset({0, 1, 2, 3, 4}),
    allowed_channels=frozenset(BUILTIN_CHANNELS),
    channel_order=(Channel.SMS, Channel.EMAIL, Channel.WHATSAPP),
    marketing_max_per_day=1,
    marketing_max_per_week=3,
    healthcare_reminder_profile=False,
)


def _masked_items(prefs: Any) -> list[tuple[str, Any]]:
    items = []
    for name in _FIELD_NAMES:
        value = getattr(prefs, name)
        if name == "email":
            value = mask_email(value)
        elif name in ("phone", "whatsapp"):
            value = mask_phone(value)
        items.append((name, value))
    return items


def json_ready(value: Any) -> Any:
    """A preference value as JSON shows it: times in ISO form, sets sorted, channels by name."""
    if isinstance(value, time):
        return value.isoformat()
    if isinstance(value, frozenset):
        return sorted(json_ready(v) for v in value)
    if isinstance(value, tuple):
        return [json_ready(v) for v in value]
    if isinstance(value, enum.Enum):
        return value.value
    return value


@dataclass(frozen=True, slots=True, repr=False)
class EffectivePreferences:
    """The resolved preferences for one patient, with where each value came from.

    Addresses are normalised (E.164, lower-cased e-mail domain) or ``None`` when absent or
    invalid; ``invalid_addresses`` names the fields whose most specific value was rejected.
    Build it with ``resolve_effective_preferences``; the hot path relies on its precomputed parts.
    """

    timezone: str
    language: str
    quiet_hours_start: time
    quiet_hours_end: time
    avoid_work_hours: bool
    work_hours_start: time
    work_hours_end: time
    work_days: frozenset[int]
    allowed_channels: frozenset[Channel]
    preferred_channel: Channel | None
    channel_order: tuple[Channel, ...]
    email: str | None
    phone: str | None
    whatsapp: str | None
    best_hour: int | None
    marketing_max_per_day: int | None
    marketing_max_per_week: int | None
    healthcare_reminder_profile: bool
    sources: Mapping[str, PreferenceLevel | None] = field(
        default_factory=lambda: MappingProxyType({}), compare=False, hash=False
    )
    invalid_addresses: frozenset[str] = frozenset()
    # Precomputed for the decision hot path.
    zone: ZoneInfo = field(init=False, compare=False, hash=False)
    quiet_window: tuple[int, int] = field(init=False, compare=False, hash=False)
    work_window: tuple[int, int, frozenset[int]] | None = field(
        init=False, compare=False, hash=False
    )

    def __post_init__(self) -> None:
        object.__setattr__(self, "zone", ZoneInfo(self.timezone))
        object.__setattr__(
            self,
            "quiet_window",
            (seconds_of_day(self.quiet_hours_start), seconds_of_day(self.quiet_hours_end)),
        )
        work = (
            (
                seconds_of_day(self.work_hours_start),
                seconds_of_day(self.work_hours_end),
                self.work_days,
            )
            if self.avoid_work_hours
            else None
        )
        object.__setattr__(self, "work_window", work)

    def __repr__(self) -> str:
        shown = ", ".join(f"{name}={value!r}" for name, value in _masked_items(self))
        return f"EffectivePreferences({shown})"

    def as_dict(self, *, mask_addresses: bool = True) -> dict[str, Any]:
        """JSON-ready ``{"values": {...}, "sources": {...}}`` for the comm-context API.

        Addresses are masked unless the caller (an authorised staff view) asks otherwise.
        """
        items = (
            _masked_items(self)
            if mask_addresses
            else [(name, getattr(self, name)) for name in _FIELD_NAMES]
        )
        return {
            "values": {name: json_ready(value) for name, value in items},
            "sources": {
                name: (level.value if level is not None else None)
                for name, level in self.sources.items()
            },
            "invalid_addresses": sorted(self.invalid_addresses),
        }


_NO_CHECKS: Mapping[str, str | None] = MappingProxyType({})


@dataclass(frozen=True, slots=True)
class InheritedPreferences:
    """The levels above a patient (provider > organisation > global) resolved: what a patient's
    own level then overrides. Patients of one provider share it, so it is resolved once."""

    values: Mapping[str, Any]
    sources: Mapping[str, PreferenceLevel | None]
    missing: tuple[str, ...]  # required fields no level above the patient sets


def resolve_inherited(
    global_layer: PreferenceLayer, org: PreferenceLayer | None, provider: PreferenceLayer | None
) -> InheritedPreferences:
    """Every field's most specific non-null value among provider > org > global."""
    layers = [
        (level, layer)
        for level, layer in (
            (PreferenceLevel.PROVIDER, provider),
            (PreferenceLevel.ORGANISATION, org),
            (PreferenceLevel.GLOBAL, global_layer),
        )
        if layer is not None
    ]
    values: dict[str, Any] = {}
    sources: dict[str, PreferenceLevel | None] = {}
    for name in _FIELD_NAMES:
        for level, layer in layers:
            value = getattr(layer, name)
            if value is not None:
                values[name] = value
                sources[name] = level
                break
        else:
            values[name] = None
            sources[name] = None
    missing = tuple(
        name for name in _FIELD_NAMES if name in REQUIRED_FIELDS and values[name] is None
    )
    return InheritedPreferences(values, sources, missing)


def resolve_effective_preferences(
    global_layer: PreferenceLayer,
    org: PreferenceLayer | None,
    provider: PreferenceLayer | None,
    patient: PreferenceLayer | None,
    checked_numbers: Mapping[str, str | None] = _NO_CHECKS,
) -> EffectivePreferences:
    """Resolve every field to its most specific non-null value: patient > provider > org > global.

    A missing level (``None``) has no opinion. The global layer must set every field in
    ``REQUIRED_FIELDS``; ``GLOBAL_DEFAULTS`` does. ``checked_numbers`` holds what
    ``normalise_phone`` already answered for some numbers (checked when they were stored: their
    E.164 form, ``None`` when not valid); any other number is checked here.
    """
    return resolve_with_inherited(
        resolve_inherited(global_layer, org, provider), patient, checked_numbers
    )


_PATIENT = PreferenceLevel.PATIENT


def resolve_with_inherited(
    inherited: InheritedPreferences,
    patient: PreferenceLayer | None,
    checked_numbers: Mapping[str, str | None] = _NO_CHECKS,
) -> EffectivePreferences:
    """``resolve_effective_preferences`` with the levels above the patient already resolved."""
    values = dict(inherited.values)
    sources = dict(inherited.sources)
    if patient is not None:
        # The resolution hot path: a plain getattr loop measured fastest.
        for name in _FIELD_NAMES:
            value = getattr(patient, name)
            if value is not None:
                values[name] = value
                sources[name] = _PATIENT
    for name in inherited.missing:
        if values[name] is None:
            raise ValueError(f"the global preference layer must set {name!r}")

    invalid: set[str] = set()
    raw_email = values["email"]
    if raw_email is not None:
        values["email"] = normalise_email(raw_email)
        if values["email"] is None:
            invalid.add("email")
    for name in ("phone", "whatsapp"):
        raw = values[name]
        if raw is not None:
            values[name] = checked_numbers[raw] if raw in checked_numbers else normalise_phone(raw)
            if values[name] is None:
                invalid.add(name)

    return EffectivePreferences(
        **values,
        sources=MappingProxyType(sources),
        invalid_addresses=frozenset(invalid),
    )
