"""API keys as a use case: issue, list, revoke (each change audited) and authenticate.

Shared by ``outreach keys`` (the first keys of a deployment) and the admin routes of the API.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from outreach.credentials import digest_matches, key_prefix, new_api_key
from outreach.domain import Actor, Principal, Role
from outreach.sql.api_key_repository import StoredApiKey
from outreach.sql.store import Store

MAX_NAME_CHARS = 100


@dataclass(frozen=True, slots=True)
class NewApiKey:
    """A key just issued: ``plaintext`` is shown to its owner this once."""

    plaintext: str
    key: StoredApiKey

    def __repr__(self) -> str:
        return f"NewApiKey(key={self.key!r}, plaintext=***)"


def issue_api_key(
    store: Store, *, org_id: str, role: Role, name: str, actor: Actor, now: datetime
) -> NewApiKey:
    issued = new_api_key()
    with store.transaction() as repos:
        stored = repos.api_keys.add(
            prefix=issued.prefix,
            key_hash=issued.digest,
            org_id=org_id,
            role=role,
            name=name[:MAX_NAME_CHARS],
            created_by=actor.name,
            created_at=now,
        )
        repos.audit.record(
            [
                actor.audit(
                    "api_key_created",
                    now,
                    org_id=org_id,
                    detail={"prefix": stored.prefix, "role": role.value, "name": stored.name},
                )
            ]
        )
    return NewApiKey(issued.plaintext, stored)


def list_api_keys(store: Store, org_id: str | None = None) -> list[StoredApiKey]:
    with store.reading() as repos:
        return repos.api_keys.listed(org_id)


def revoke_api_key(
    store: Store, prefix: str, *, actor: Actor, now: datetime, org_id: str | None = None
) -> bool:
    """Revoke a live key (only one of ``org_id`` when given); False when there is none."""
    with store.transaction() as repos:
        stored = repos.api_keys.by_prefix(prefix)
        if stored is None or (org_id is not None and stored.org_id != org_id):
            return False
        if not repos.api_keys.revoke(prefix, revoked_by=actor.name, revoked_at=now):
            return False
        repos.audit.record(
            [
                actor.audit(
                    "api_key_revoked",
                    now,
                    org_id=stored.org_id,
                    detail={"prefix": prefix, "role": stored.role.value},
                )
            ]
        )
    return True


def authenticate_api_key(store: Store, plaintext: str) -> Principal | None:
    """The principal a live, well-formed key stands for; None for anything else."""
    prefix = key_prefix(plaintext)
    if prefix is None:
        return None
    with store.reading() as repos:
        stored = repos.api_keys.by_prefix(prefix)
    if stored is None or stored.revoked_at is not None:
        return None
    if not digest_matches(plaintext, stored.key_hash):
        return None
    return Principal(actor=f"key:{stored.prefix}", org_id=stored.org_id, role=stored.role)
