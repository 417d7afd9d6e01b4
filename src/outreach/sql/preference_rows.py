"""Rows of the preference tables <-> the pure ``preferences`` values."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from outreach.domain import BUILTIN_CHANNELS, Channel
from outreach.preferences import (
    LEVEL_FIELDS,
    ConsentState,
    PreferenceLayer,
    json_ready,
    normalise_email,
    normalise_phone,
)

LAYER_COLUMNS = LEVEL_FIELDS  # each column is named after the field it holds
ADDRESS_COLUMNS = ("email", "phone", "whatsapp")
# Per number column, the number as checked and its check (E.164 form, '' when not valid).
NUMBER_CHECKS = (
    ("phone", "phone_checked", "phone_e164"),
    ("whatsapp", "whatsapp_checked", "whatsapp_e164"),
)
CHECK_COLUMNS = tuple(column for _, *columns in NUMBER_CHECKS for column in columns)
# The e-mail address as checked and whether it is deliverable.
EMAIL_CHECK_COLUMNS = ("email_checked", "email_valid")
_NOT_VALID = ""


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


def consent_from_row(
    row: Mapping[str, Any] | None, opted_out: frozenset[Channel] = frozenset()
) -> ConsentState:
    """Consent from a patient's preference row and the channels they opted out of (rows of
    their own, ``opt_out_repository``)."""
    if row is None:
        return ConsentState(opted_out=opted_out)
    granted = bool(row.get("contact_consent")) and row.get("consent_granted_at") is not None
    return ConsentState(
        contact_granted=granted,
        granted_at=row.get("consent_granted_at") if granted else None,
        expires_at=row.get("consent_expires_at") if granted else None,
        marketing_opt_in=frozenset(
            c for c in BUILTIN_CHANNELS if row.get(f"marketing_opt_in_{c.value}")
        ),
        opted_out=opted_out,
        whatsapp_opt_in=bool(row.get("whatsapp_opt_in")),
    )


def failed_channels_from_row(row: Mapping[str, Any] | None) -> frozenset[Channel]:
    if row is None or not row.get("failed_channels"):
        return frozenset()
    return frozenset(Channel(c) for c in row["failed_channels"])


def address_check_values(
    email: str | None, phone: str | None, whatsapp: str | None
) -> dict[str, str | bool | None]:
    """The check columns of a row that stores these addresses (None: not given, nothing
    stored)."""
    values: dict[str, str | bool | None] = {
        "email_checked": email,
        "email_valid": None if email is None else normalise_email(email) is not None,
    }
    for (_, checked, e164), number in zip(NUMBER_CHECKS, (phone, whatsapp), strict=True):
        values[checked] = number
        values[e164] = None if number is None else (normalise_phone(number) or _NOT_VALID)
    return values


def checked_numbers_from_row(row: Mapping[str, Any] | None) -> dict[str, str | None]:
    """The row's numbers whose stored check still applies: number -> E.164 form, or None when
    it is not valid. A number changed since it was checked is left out (checked again)."""
    if row is None:
        return {}
    checked: dict[str, str | None] = {}
    for number_column, checked_column, e164_column in NUMBER_CHECKS:
        number = row.get(number_column)
        if number is not None and row.get(checked_column) == number:
            e164 = row.get(e164_column)
            if e164 is not None:
                checked[number] = e164 or None
    return checked
