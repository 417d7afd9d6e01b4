"""Rows of the preference tables <-> the pure ``preferences`` values."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from outreach.domain import Channel
from outreach.preferences import LEVEL_FIELDS, ConsentState, PreferenceLayer, json_ready

LAYER_COLUMNS = LEVEL_FIELDS  # each column is named after the field it holds
ADDRESS_COLUMNS = ("email", "phone", "whatsapp")


def layer_from_row(
    row: Mapping[str, Any] | None, *, with_addresses: bool = False
) -> PreferenceLayer:
    """A hierarchy level from its row; a missing row is a level with no opinion."""
    if row is None:
        return PreferenceLayer()
    values: dict[str, Any] = {name: row.get(name) for name in LAYER_COLUMNS}
    for name in ("allowed_channels", "work_days"):
        if values[name] is not None:
            values[name] = frozenset(values[name])
    if values["channel_order"] is not None:
        values["channel_order"] = tuple(values["channel_order"])
    if with_addresses:
        values.update({name: row.get(name) for name in ADDRESS_COLUMNS})
    return PreferenceLayer(**values)


def layer_row_values(layer: PreferenceLayer) -> dict[str, Any]:
    """A level's column values: channels by name, sets as sorted JSON lists, the order kept."""
    values: dict[str, Any] = {name: getattr(layer, name) for name in LAYER_COLUMNS}
    for name in ("work_days", "allowed_channels", "preferred_channel", "channel_order"):
        values[name] = json_ready(values[name])
    return values


def consent_from_row(row: Mapping[str, Any] | None) -> ConsentState:
    if row is None:
        return ConsentState()
    granted = bool(row.get("contact_consent")) and row.get("consent_granted_at") is not None
    return ConsentState(
        contact_granted=granted,
        granted_at=row.get("consent_granted_at") if granted else None,
        expires_at=row.get("consent_expires_at") if granted else None,
        marketing_opt_in=frozenset(c for c in Channel if row.get(f"marketing_opt_in_{c.value}")),
        opted_out=frozenset(c for c in Channel if row.get(f"opted_out_{c.value}")),
        whatsapp_opt_in=bool(row.get("whatsapp_opt_in")),
    )


def failed_channels_from_row(row: Mapping[str, Any] | None) -> frozenset[Channel]:
    if row is None or not row.get("failed_channels"):
        return frozenset()
    return frozenset(Channel(c) for c in row["failed_channels"])
