"""``api_keys``: stored digests of API keys, looked up by their visible prefix."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any, cast

from sqlalchemy import Connection, Table, select, update

from outreach.domain import Role
from outreach.sql.models import ApiKey

api_keys = cast(Table, ApiKey.__table__)


@dataclass(frozen=True, slots=True)
class StoredApiKey:
    id: int
    prefix: str
    key_hash: str
    org_id: str
    role: Role
    name: str
    created_by: str
    created_at: datetime
    revoked_at: datetime | None
    revoked_by: str | None

    def __repr__(self) -> str:
        return f"StoredApiKey(prefix={self.prefix!r}, org_id={self.org_id!r}, role={self.role})"


def _stored(row: Any) -> StoredApiKey:
    return StoredApiKey(
        id=row.id,
        prefix=row.prefix,
        key_hash=row.key_hash,
        org_id=row.org_id,
        role=Role(row.role),
        name=row.name,
        created_by=row.created_by,
        created_at=row.created_at,
        revoked_at=row.revoked_at,
        revoked_by=row.revoked_by,
    )


class ApiKeyRepository:
    def __init__(self, connection: Connection) -> None:
        self.connection = connection

    def add(
        self,
        *,
        prefix: str,
        key_hash: str,
        org_id: str,
        role: Role,
        name: str,
        created_by: str,
        created_at: datetime,
    ) -> StoredApiKey:
        self.connection.execute(
            api_keys.insert().values(
                prefix=prefix,
                key_hash=key_hash,
                org_id=org_id,
                role=role,
                name=name,
                created_by=created_by,
                created_at=created_at,
            )
        )
        stored = self.by_prefix(prefix)
        if stored is None:  # just inserted in this transaction
            raise RuntimeError("inserted API key not found")
        return stored

    def by_prefix(self, prefix: str) -> StoredApiKey | None:
        row = self.connection.execute(select(api_keys).where(api_keys.c.prefix == prefix)).first()
        return _stored(row) if row is not None else None

    def listed(self, org_id: str | None = None) -> list[StoredApiKey]:
        """Every key (of one organisation when given), oldest first, revoked ones included."""
        query = select(api_keys).order_by(api_keys.c.id)
        if org_id is not None:
            query = query.where(api_keys.c.org_id == org_id)
        return [_stored(row) for row in self.connection.execute(query)]

    def revoke(self, prefix: str, *, revoked_by: str, revoked_at: datetime) -> bool:
        """Revoke a live key; False when it is unknown or already revoked."""
        result = self.connection.execute(
            update(api_keys)
            .where(api_keys.c.prefix == prefix, api_keys.c.revoked_at.is_(None))
            .values(revoked_at=revoked_at, revoked_by=revoked_by)
        )
        return bool(result.rowcount)
