"""Guards for the datetimes that cross the preferences API: aware, and expressed in UTC.

The core never reads a clock; every instant is a parameter, and a naive one is a bug upstream
(its zone is a guess), so it is refused rather than assumed to be UTC.
"""

from __future__ import annotations

from datetime import UTC, datetime


def as_utc(value: datetime, name: str) -> datetime:
    """``value`` in UTC; ``ValueError`` when it is naive."""
    if value.tzinfo is UTC:
        return value
    if value.tzinfo is None or value.utcoffset() is None:
        raise ValueError(
            f"{name} must be a timezone-aware datetime (UTC at the API boundary), got naive {value}"
        )
    return value.astimezone(UTC)


def optional_utc(value: datetime | None, name: str) -> datetime | None:
    """``as_utc`` for an optional instant."""
    return None if value is None else as_utc(value, name)
