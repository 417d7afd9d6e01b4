"""Console sessions as a use case: sign in (with an API key or a single sign-on token), find the
session a cookie names, sign out. Each sign-in and sign-out is audited.

The cookie carries a random token of 256 bits; only its SHA-256 digest is stored, as for API
keys. A session stands for the principal of the credential it was opened with and ends at
sign-out, at its absolute expiry, after an idle spell, or as soon as that API key is revoked.
The platform role has no console: its credentials are for machines.
"""

from __future__ import annotations

import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta

from outreach.credentials import key_digest
from outreach.domain import Actor, PhiFreeError, Principal, Role
from outreach.sql.store import Store

CONSOLE_ROLES = frozenset({Role.MARKETER, Role.ANALYST, Role.ADMIN})
# last_seen_at is written at most this often: a page view is not a write each time.
TOUCH_EVERY = timedelta(minutes=1)


class ConsoleSignInRefused(PhiFreeError):
    """The credential verified but may not open a console session."""


@dataclass(frozen=True, slots=True)
class SessionPolicy:
    lifetime: timedelta
    idle: timedelta


@dataclass(frozen=True, slots=True)
class ConsoleSession:
    """A live session: who it stands for and the CSRF token its forms carry."""

    id: int
    principal: Principal
    csrf_token: str
    expires_at: datetime

    def __repr__(self) -> str:
        return f"ConsoleSession(id={self.id!r}, principal={self.principal!r}, csrf_token=***)"


@dataclass(frozen=True, slots=True)
class OpenedSession:
    """A session just opened: ``token`` goes into the cookie and is never stored."""

    token: str
    session: ConsoleSession

    def __repr__(self) -> str:
        return f"OpenedSession(session={self.session!r}, token=***)"


def open_session(
    store: Store,
    principal: Principal,
    *,
    actor: Actor,
    policy: SessionPolicy,
    now: datetime,
    api_key_prefix: str | None = None,
) -> OpenedSession:
    if principal.role not in CONSOLE_ROLES:
        raise ConsoleSignInRefused(
            f"the {principal.role.value} role has no console; sign in as a marketer, an analyst "
            "or an admin"
        )
    token, csrf_token = secrets.token_urlsafe(32), secrets.token_urlsafe(32)
    expires_at = now + policy.lifetime
    with store.transaction() as repos:
        repos.console_sessions.add(
            token_hash=key_digest(token),
            csrf_token=csrf_token,
            principal=principal,
            api_key_prefix=api_key_prefix,
            created_at=now,
            expires_at=expires_at,
        )
        found = repos.console_sessions.by_token_hash(key_digest(token))
        if found is None:  # just inserted in this transaction
            raise RuntimeError("inserted console session not found")
        repos.audit.record(
            [actor.audit("console_signed_in", now, detail={"role": principal.role.value})]
        )
    return OpenedSession(token, ConsoleSession(found.id, principal, csrf_token, expires_at))


def live_session(
    store: Store, token: str, *, policy: SessionPolicy, now: datetime
) -> ConsoleSession | None:
    """The live session a cookie's token names; None when unknown, ended, expired, idle too
    long, or opened with a key revoked since."""
    if not token or len(token) > 128:
        return None
    with store.reading() as repos:
        found = repos.console_sessions.by_token_hash(key_digest(token))
    if found is None or found.ended_at is not None or found.key_revoked:
        return None
    if now >= found.expires_at or now - found.last_seen_at >= policy.idle:
        return None
    if now - found.last_seen_at >= TOUCH_EVERY:
        with store.transaction() as repos:
            repos.console_sessions.touch(found.id, now)
    return ConsoleSession(found.id, found.principal, found.csrf_token, found.expires_at)


def close_session(store: Store, session: ConsoleSession, *, actor: Actor, now: datetime) -> None:
    with store.transaction() as repos:
        if repos.console_sessions.end(session.id, now):
            repos.audit.record([actor.audit("console_signed_out", now)])


def forget_expired_sessions(store: Store, now: datetime, *, kept_for: timedelta) -> int:
    """Delete the rows of sessions that expired more than ``kept_for`` ago; sign-ins and
    sign-outs stay in the audit log."""
    with store.transaction() as repos:
        return repos.console_sessions.delete_expired_before(now - kept_for)
