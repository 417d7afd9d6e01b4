"""Dates and times in the patient's zone and the template's language (babel).

Context values stay typed until output: a date or time becomes a ``LocalMoment`` that knows its
zone and locale, so ``{{ appointment_date }}`` prints a natural default and
``{{ appointment_date|format_date('compact') }}`` can pick another style. The clock is a
parameter: ``current_year`` decides whether the year is worth printing.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import date, datetime, time, tzinfo
from functools import lru_cache
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from babel import Locale, UnknownLocaleError
from babel.dates import format_date as babel_format_date
from babel.dates import format_skeleton as babel_format_skeleton
from babel.dates import format_time as babel_format_time

from outreach.templating.errors import TemplateRenderError
from outreach.templating.phi_policy import VariableKind

# "default": weekday, day and month, plus the year only when it is not the current one.
DATE_STYLES: frozenset[str] = frozenset({"default", "compact", "short", "medium", "long", "full"})
TIME_STYLES: frozenset[str] = frozenset({"default", "short"})

FALLBACK_LOCALE = "en"

# A trailing year and its separator in a CLDR "full" pattern: ", y" (en), " 'de' y" (es), " y" (fr).
_TRAILING_YEAR = re.compile(r",?\s*(?:'[^']*'\s*)?y+$")


@lru_cache(maxsize=256)
def resolve_locale(tag: str) -> Locale:
    """A babel locale for a BCP 47 tag (``es-MX``), falling back to its language, then English."""
    candidates = [tag.replace("_", "-"), tag.replace("_", "-").split("-")[0], FALLBACK_LOCALE]
    for candidate in candidates:
        try:
            return Locale.parse(candidate, sep="-")
        except (UnknownLocaleError, ValueError, TypeError):
            continue
    return Locale.parse(FALLBACK_LOCALE)


@lru_cache(maxsize=1024)
def formatting_locale(template_language: str, patient_locale: str | None) -> Locale:
    """The locale dates are written in: the template's language, refined by the patient's region.

    A fallback may have chosen an English template for a Spanish speaker; its dates must then be
    English too, or the sentence mixes languages. Same language: the patient's region wins
    (``es`` template, ``es-MX`` patient: Mexican formats).
    """
    template_lang = template_language.replace("_", "-").split("-")[0].lower()
    if patient_locale:
        patient = patient_locale.replace("_", "-")
        if patient.split("-")[0].lower() == template_lang:
            return resolve_locale(patient)
    return resolve_locale(template_language)


@lru_cache(maxsize=512)
def resolve_zone(name: str) -> ZoneInfo:
    try:
        return ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError) as error:
        raise TemplateRenderError(f"unknown time zone {name!r}") from error


@dataclass(frozen=True, slots=True)
class LocalMoment:
    """A date/time context value bound to the patient's zone and the message's locale."""

    value: datetime | date | time
    kind: VariableKind
    zone: tzinfo
    locale: Locale
    current_year: int

    def __str__(self) -> str:
        if self.kind is VariableKind.TIME:
            return format_time_filter(self)
        return format_date_filter(self)


@lru_cache(maxsize=256)
def _date_pattern_without_year(locale: Locale) -> str | None:
    full = locale.date_formats["full"].pattern
    stripped = _TRAILING_YEAR.sub("", full)
    return stripped if stripped != full and "y" not in stripped else None


@lru_cache(maxsize=4096)
def _format_date(day: date, locale: Locale, style: str, current_year: int) -> str:
    if style == "compact":
        return babel_format_skeleton("MMMEd", day, locale=locale)
    if style == "default":
        pattern = _date_pattern_without_year(locale)
        if pattern is not None and day.year == current_year:
            return babel_format_date(day, pattern, locale=locale)
        return babel_format_date(day, "full", locale=locale)
    return babel_format_date(day, style, locale=locale)


@lru_cache(maxsize=4096)
def _format_time(moment: time, locale: Locale) -> str:
    # Both styles are babel's "short": hours and minutes, the way the locale writes them.
    return babel_format_time(moment, "short", locale=locale)


def _local(moment: LocalMoment) -> datetime | date | time:
    value = moment.value
    if isinstance(value, datetime):
        return value.astimezone(moment.zone)
    return value


def format_date_filter(value: object, style: str = "default") -> str:
    """Jinja filter ``format_date``: a date in the patient's zone; strings pass through unchanged.

    Strings pass so a caller may hand over pre-formatted dates and previews can show masks.
    """
    if not isinstance(value, LocalMoment):
        return str(value)
    if style not in DATE_STYLES:
        raise TemplateRenderError(f"unknown date style {style!r}")
    local = _local(value)
    if isinstance(local, datetime):
        local = local.date()
    if not isinstance(local, date):
        raise TemplateRenderError("format_date needs a date or datetime value")
    return _format_date(local, value.locale, style, value.current_year)


def format_time_filter(value: object, style: str = "default") -> str:
    """Jinja filter ``format_time``: the clock time in the patient's zone and locale."""
    if not isinstance(value, LocalMoment):
        return str(value)
    if style not in TIME_STYLES:
        raise TemplateRenderError(f"unknown time style {style!r}")
    local = _local(value)
    if isinstance(local, datetime):
        local = local.time()
    if not isinstance(local, time):
        raise TemplateRenderError("format_time needs a time or datetime value")
    return _format_time(local, value.locale)
