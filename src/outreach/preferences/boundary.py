"""Guards for values crossing the preferences API: aware UTC instants and real enum members.

The core never reads a clock; every instant is a parameter, and a naive one is a bug upstream (its
zone is a guess), so it is refused rather than assumed to be UTC. Purposes and channels from
adapters may arrive as plain strings; the rules compare enum members by identity, so a string
that slipped through would silently fail every check (a marketing message taken for transactional),
hence the coercion at every public entry point. The fast paths cost a class check.
"""

from __future__ import annotations

from datetime import UTC, datetime

from outreach.domain import Channel, Purpose


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


def as_purpose(value: Purpose | str) -> Purpose:
    """The ``Purpose`` member for ``value``; ``ValueError`` for an unknown purpose."""
    return value if value.__class__ is Purpose else Purpose(value)


def as_channel(value: Channel | str) -> Channel:
    """The ``Channel`` for ``value``; ``ValueError`` for a string that is no channel name."""
    return value if value.__class__ is Channel else Channel(value)


def as_channels(values: frozenset[Channel] | frozenset[str]) -> frozenset[Channel]:
    """``values`` as a frozenset of ``Channel`` names (the empty set passes untouched)."""
    if not values or all(v.__class__ is Channel for v in values):
        return values  # type: ignore[return-value]
    return frozenset(Channel(v) for v in values)
