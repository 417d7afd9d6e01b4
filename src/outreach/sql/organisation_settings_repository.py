"""``org_comm_prefs`` and ``provider_comm_prefs`` as staff edit them: read and replace a level.

Rows in, ``OrgSettings`` / ``ProviderSettings`` out. A save replaces every field of the level (a
NULL inherits from the level above); what changed, and its audit entry, are the caller's.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any, cast

from sqlalchemy import Connection, Table, select

from outreach.preferences import OrgSettings, ProviderSettings
from outreach.sql.bulk import upsert
from outreach.sql.models import OrgCommPrefs, ProviderCommPrefs
from outreach.sql.preference_rows import layer_from_row, layer_row_values

org_prefs = cast(Table, OrgCommPrefs.__table__)
provider_prefs = cast(Table, ProviderCommPrefs.__table__)


def _row(
    connection: Connection, table: Table, key: str, value: str, *, lock: bool
) -> dict[str, Any] | None:
    query = select(table).where(table.c[key] == value)
    if lock:
        query = query.with_for_update()
    row = connection.execute(query).mappings().first()
    return dict(row) if row is not None else None


def _replace(connection: Connection, table: Table, key: str, row: dict[str, Any]) -> None:
    # Every column is written, NULLs included: a field left out inherits again.
    upsert(connection, table, [row], [key], keep_existing_when_null=False)


class OrgSettingsRepository:
    def __init__(self, connection: Connection) -> None:
        self.connection = connection

    def get(self, org_id: str, *, lock: bool = False) -> OrgSettings | None:
        """The organisation's settings; ``lock`` holds the row until the transaction ends."""
        row = _row(self.connection, org_prefs, "org_id", org_id, lock=lock)
        if row is None:
            return None
        return OrgSettings(
            org_id=row["org_id"],
            name=row["name"],
            clinic_phone=row["clinic_phone"],
            booking_url=row["booking_url"],
            layer=layer_from_row(row),
            updated_at=row["updated_at"],
            analyst_emails=tuple(row["analyst_emails"]) if row["analyst_emails"] else None,
        )

    def save(self, settings: OrgSettings, *, updated_at: datetime) -> OrgSettings:
        """Insert or replace the organisation's row; returns it as stored."""
        row = {
            "org_id": settings.org_id,
            "name": settings.name,
            "clinic_phone": settings.clinic_phone,
            "booking_url": settings.booking_url,
            "analyst_emails": list(settings.analyst_emails) if settings.analyst_emails else None,
            **layer_row_values(settings.layer),
            "updated_at": updated_at,
        }
        _replace(self.connection, org_prefs, "org_id", row)
        stored = self.get(settings.org_id)
        if stored is None:  # just written in this transaction
            raise RuntimeError("saved organisation settings not found")
        return stored


class ProviderSettingsRepository:
    def __init__(self, connection: Connection) -> None:
        self.connection = connection

    def get(self, provider_id: str, *, lock: bool = False) -> ProviderSettings | None:
        """The provider's settings, whichever organisation it belongs to; ``lock`` holds the
        row until the transaction ends."""
        row = _row(self.connection, provider_prefs, "provider_id", provider_id, lock=lock)
        if row is None:
            return None
        return ProviderSettings(
            provider_id=row["provider_id"],
            org_id=row["org_id"],
            display_name=row["display_name"],
            layer=layer_from_row(row),
            updated_at=row["updated_at"],
        )

    def save(self, settings: ProviderSettings, *, updated_at: datetime) -> ProviderSettings:
        """Insert or replace the provider's row; returns it as stored."""
        row = {
            "provider_id": settings.provider_id,
            "org_id": settings.org_id,
            "display_name": settings.display_name,
            **layer_row_values(settings.layer),
            "updated_at": updated_at,
        }
        _replace(self.connection, provider_prefs, "provider_id", row)
        stored = self.get(settings.provider_id)
        if stored is None:  # just written in this transaction
            raise RuntimeError("saved provider settings not found")
        return stored
