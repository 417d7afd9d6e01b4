"""``console_sessions``: the console's signed-in sessions, found by the digest of their token."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any, cast

from sqlalchemy import Connection, Table, delete, select, update

from outreach.domain import Principal, Role
from outreach.sql.models import ApiKey, ConsoleSession

console_sessions = cast(Table, ConsoleSession.__table__)
api_keys = cast(Table, ApiKey.__table__)


@dataclass(frozen=True, slots=True)
class StoredConsoleSession:
    id: int
    csrf_token: str
    principal: Principal
    api_key_prefix: str | None
    created_at: datetime
    last_seen_at: datetime
    expires_at: datetime
    ended_at: datetime | None
    key_revoked: bool  # the API key it was opened with has been revoked since

    def __repr__(self) -> str:
        return f"StoredConsoleSession(id={self.id!r}, principal={self.principal!r})"


def _stored(row: Any) -> StoredConsoleSession:
    return StoredConsoleSession(
        id=row.id,
        csrf_token=row.csrf_token,
        principal=Principal(actor=row.actor, org_id=row.org_id, role=Role(row.role)),
        api_key_prefix=row.api_key_prefix,
        created_at=row.created_at,
        last_seen_at=row.last_seen_at,
        expires_at=row.expires_at,
        ended_at=row.ended_at,
        key_revoked=row.key_revoked_at is not None,
    )


class ConsoleSessionRepository:
    def __init__(self, connection: Connection) -> None:
        self.connection = connection

    def add(
        self,
        *,
        token_hash: str,
        csrf_token: str,
        principal: Principal,
        api_key_prefix: str | None,
        created_at: datetime,
        expires_at: datetime,
    ) -> None:
        self.connection.execute(
            console_sessions.insert().values(
                token_hash=token_hash,
                csrf_token=csrf_token,
                actor=principal.actor,
                org_id=principal.org_id,
                role=principal.role,
                api_key_prefix=api_key_prefix,
                created_at=created_at,
                last_seen_at=created_at,
                expires_at=expires_at,
            )
        )

    def by_token_hash(self, token_hash: str) -> StoredConsoleSession | None:
        """The session with this digest, with whether its API key was revoked since."""
        query = (
            select(console_sessions, api_keys.c.revoked_at.label("key_revoked_at"))
            .select_from(
                console_sessions.outerjoin(
                    api_keys, api_keys.c.prefix == console_sessions.c.api_key_prefix
                )
            )
            .where(console_sessions.c.token_hash == token_hash)
        )
        row = self.connection.execute(query).first()
        return _stored(row) if row is not None else None

    def touch(self, session_id: int, seen_at: datetime) -> None:
        self.connection.execute(
            update(console_sessions)
            .where(console_sessions.c.id == session_id)
            .values(last_seen_at=seen_at)
        )

    def end(self, session_id: int, ended_at: datetime) -> bool:
        result = self.connection.execute(
            update(console_sessions)
            .where(console_sessions.c.id == session_id, console_sessions.c.ended_at.is_(None))
            .values(ended_at=ended_at)
        )
        return bool(result.rowcount)

    def delete_expired_before(self, cutoff: datetime) -> int:
        """Forget the sessions that expired before ``cutoff`` (their audit entries stay)."""
        result = self.connection.execute(
            delete(console_sessions).where(console_sessions.c.expires_at < cutoff)
        )
        return int(result.rowcount or 0)
