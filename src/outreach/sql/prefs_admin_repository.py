"""Organisation and provider defaults edited by staff: read, replace, and audit every change.

A save replaces the level's hierarchy fields (NULL: inherit from the level above) and writes one
``comm_audit_log`` row naming each changed field with its old and new value, in the same
transaction, so no change goes unrecorded.
"""

from __future__ import annotations

import enum
from collections.abc import Mapping, Sequence
from datetime import datetime, time
from typing import Any, cast

from sqlalchemy import Connection, Table, select

from outreach.domain import Actor
from outreach.sql.bulk import upsert
from outreach.sql.models import CommAuditLog, OrgCommPrefs, ProviderCommPrefs
from outreach.sql.preference_rows import LAYER_COLUMNS

org_prefs = cast(Table, OrgCommPrefs.__table__)
provider_prefs = cast(Table, ProviderCommPrefs.__table__)
audit_log = cast(Table, CommAuditLog.__table__)

ORG_DESCRIPTIVE_COLUMNS = ("name", "clinic_phone", "booking_url", "analyst_emails")
PROVIDER_DESCRIPTIVE_COLUMNS = ("org_id", "display_name")
# Lists whose order carries no meaning: compared and stored sorted.
_UNORDERED = frozenset({"allowed_channels", "work_days", "analyst_emails"})
# Staff addresses: the audit log records how many there were and are, not the addresses.
_COUNTED_IN_AUDIT = frozenset({"analyst_emails"})


def _json_value(name: str, value: Any) -> Any:
    """A column value as it is compared and shown in the audit log."""
    if value is None:
        return None
    if isinstance(value, time):
        return value.isoformat()
    if isinstance(value, enum.Enum):
        return value.value
    if isinstance(value, list | tuple | frozenset | set):
        items = [v.value if isinstance(v, enum.Enum) else v for v in value]
        return sorted(items) if name in _UNORDERED else items
    return value


def _load(
    connection: Connection, table: Table, key: str, key_value: str, *, for_update: bool = False
) -> dict[str, Any] | None:
    query = select(table).where(table.c[key] == key_value)
    if for_update:
        query = query.with_for_update()
    row = connection.execute(query).mappings().first()
    return dict(row) if row is not None else None


def _save(
    connection: Connection,
    table: Table,
    key: str,
    key_value: str,
    columns: Sequence[str],
    values: Mapping[str, Any],
    *,
    action: str,
    actor: Actor,
    org_id: str,
    now: datetime,
) -> dict[str, dict[str, Any]]:
    """Replace ``columns`` of the row with ``values``; returns (and audits) what changed."""
    old = _load(connection, table, key, key_value, for_update=True)
    new_row: dict[str, Any] = {key: key_value}
    changes: dict[str, dict[str, Any]] = {}
    for name in columns:
        value = values.get(name)
        if name in _UNORDERED and value is not None:
            value = sorted(_json_value(name, value))
        new_row[name] = value
        before = _json_value(name, old.get(name)) if old is not None else None
        after = _json_value(name, value)
        if old is None or before != after:
            if old is None and after is None:
                continue
            if name in _COUNTED_IN_AUDIT:
                before = len(before) if before is not None else None
                after = len(after) if after is not None else None
            changes[name] = {"from": before, "to": after}
    if old is not None and not changes:
        return {}
    new_row["updated_at"] = now
    upsert(connection, table, [new_row], [key], keep_existing_when_null=False)
    connection.execute(
        audit_log.insert(),
        [
            {
                "occurred_at": now,
                "actor": actor.name,
                "patient_id": None,
                "action": action,
                "detail": {key: key_value, "created": old is None, "changes": changes},
                "org_id": org_id,
                "ip": actor.ip,
                "user_agent": actor.user_agent,
            }
        ],
    )
    return changes


def load_org_prefs(connection: Connection, org_id: str) -> dict[str, Any] | None:
    return _load(connection, org_prefs, "org_id", org_id)


def load_provider_prefs(connection: Connection, provider_id: str) -> dict[str, Any] | None:
    return _load(connection, provider_prefs, "provider_id", provider_id)


def save_org_prefs(
    connection: Connection, org_id: str, values: Mapping[str, Any], *, actor: Actor, now: datetime
) -> dict[str, dict[str, Any]]:
    """Replace an organisation's defaults (and name, phone, booking URL); audited."""
    return _save(
        connection,
        org_prefs,
        "org_id",
        org_id,
        (*ORG_DESCRIPTIVE_COLUMNS, *LAYER_COLUMNS),
        values,
        action="org_prefs_changed",
        actor=actor,
        org_id=org_id,
        now=now,
    )


def save_provider_prefs(
    connection: Connection,
    provider_id: str,
    values: Mapping[str, Any],
    *,
    actor: Actor,
    now: datetime,
) -> dict[str, dict[str, Any]]:
    """Replace a provider's defaults (and organisation, display name); audited."""
    return _save(
        connection,
        provider_prefs,
        "provider_id",
        provider_id,
        (*PROVIDER_DESCRIPTIVE_COLUMNS, *LAYER_COLUMNS),
        values,
        action="provider_prefs_changed",
        actor=actor,
        org_id=str(values["org_id"]),
        now=now,
    )
