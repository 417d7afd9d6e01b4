"""Console sessions against MariaDB: who a cookie's token stands for, and when it stops."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import Engine, func, select

from outreach.credentials import key_digest
from outreach.domain import Actor, Principal, Role
from outreach.services.api_keys import issue_api_key, revoke_api_key
from outreach.services.console_sessions import (
    ConsoleSignInRefused,
    SessionPolicy,
    close_session,
    forget_expired_sessions,
    live_session,
    open_session,
)
from outreach.sql.models import CommAuditLog, ConsoleSession
from outreach.sql.store import Store

pytestmark = pytest.mark.services

NOW = datetime(2026, 12, 1, 9, 0, tzinfo=UTC)
POLICY = SessionPolicy(lifetime=timedelta(hours=8), idle=timedelta(minutes=60))
ACTOR = Actor("key:ork_test", "org-x", "127.0.0.1", "tests")


def principal(role: Role = Role.MARKETER) -> Principal:
    return Principal(actor="key:ork_test", org_id=f"org-{uuid.uuid4().hex[:8]}", role=role)


def test_a_session_stands_for_its_principal_and_stores_only_a_digest(
    mariadb_engine: Engine,
) -> None:
    store = Store(mariadb_engine)
    who = principal()
    opened = open_session(store, who, actor=ACTOR, policy=POLICY, now=NOW)
    found = live_session(store, opened.token, policy=POLICY, now=NOW + timedelta(minutes=5))
    assert found is not None and found.principal == who
    assert found.csrf_token == opened.session.csrf_token
    assert opened.token not in repr(opened) and found.csrf_token not in repr(found)
    with mariadb_engine.connect() as connection:
        stored = connection.execute(
            select(ConsoleSession.__table__).where(
                ConsoleSession.token_hash == key_digest(opened.token)
            )
        ).one()
    assert opened.token not in stored and stored.expires_at == NOW + POLICY.lifetime


def test_an_idle_session_ends_and_activity_keeps_it_alive(mariadb_engine: Engine) -> None:
    store = Store(mariadb_engine)
    opened = open_session(store, principal(), actor=ACTOR, policy=POLICY, now=NOW)
    moment = NOW
    for _ in range(4):  # a request every 50 minutes keeps it going past the idle limit
        moment += timedelta(minutes=50)
        assert live_session(store, opened.token, policy=POLICY, now=moment) is not None
    assert live_session(store, opened.token, policy=POLICY, now=moment + POLICY.idle) is None


def test_a_session_ends_at_its_expiry_however_active(mariadb_engine: Engine) -> None:
    store = Store(mariadb_engine)
    opened = open_session(store, principal(), actor=ACTOR, policy=POLICY, now=NOW)
    moment = NOW
    while moment < NOW + POLICY.lifetime - timedelta(minutes=30):
        moment += timedelta(minutes=30)
        assert live_session(store, opened.token, policy=POLICY, now=moment) is not None
    assert live_session(store, opened.token, policy=POLICY, now=NOW + POLICY.lifetime) is None


def test_signing_out_ends_it_once_and_is_audited(mariadb_engine: Engine) -> None:
    store = Store(mariadb_engine)
    who = principal(Role.ANALYST)
    actor = Actor(who.actor, who.org_id, "127.0.0.1", "tests")
    opened = open_session(store, who, actor=actor, policy=POLICY, now=NOW)
    close_session(store, opened.session, actor=actor, now=NOW + timedelta(minutes=1))
    close_session(store, opened.session, actor=actor, now=NOW + timedelta(minutes=2))
    assert live_session(store, opened.token, policy=POLICY, now=NOW + timedelta(minutes=3)) is None
    log = CommAuditLog.__table__
    with mariadb_engine.connect() as connection:
        actions = (
            connection.execute(
                select(log.c.action).where(log.c.org_id == who.org_id).order_by(log.c.id)
            )
            .scalars()
            .all()
        )
    assert actions == ["console_signed_in", "console_signed_out"]


def test_revoking_the_key_ends_the_sessions_opened_with_it(mariadb_engine: Engine) -> None:
    store = Store(mariadb_engine)
    org_id = f"org-{uuid.uuid4().hex[:8]}"
    issued = issue_api_key(store, org_id=org_id, role=Role.ADMIN, name="ana", actor=ACTOR, now=NOW)
    who = Principal(actor=f"key:{issued.key.prefix}", org_id=org_id, role=Role.ADMIN)
    opened = open_session(
        store, who, actor=ACTOR, policy=POLICY, now=NOW, api_key_prefix=issued.key.prefix
    )
    assert live_session(store, opened.token, policy=POLICY, now=NOW) is not None
    revoke_api_key(store, issued.key.prefix, actor=ACTOR, now=NOW + timedelta(minutes=1))
    assert live_session(store, opened.token, policy=POLICY, now=NOW + timedelta(minutes=2)) is None


def test_the_platform_role_has_no_console_and_unknown_tokens_stand_for_nobody(
    mariadb_engine: Engine,
) -> None:
    store = Store(mariadb_engine)
    with pytest.raises(ConsoleSignInRefused, match="platform role has no console"):
        open_session(store, principal(Role.PLATFORM), actor=ACTOR, policy=POLICY, now=NOW)
    for token in ("", "x" * 43, "y" * 500):
        assert live_session(store, token, policy=POLICY, now=NOW) is None


def test_expired_sessions_are_forgotten_after_a_while(isolated_mariadb: Engine) -> None:
    store = Store(isolated_mariadb)
    old = open_session(store, principal(), actor=ACTOR, policy=POLICY, now=NOW - timedelta(days=40))
    recent = open_session(store, principal(), actor=ACTOR, policy=POLICY, now=NOW)
    assert forget_expired_sessions(store, NOW, kept_for=timedelta(days=30)) == 1
    table = ConsoleSession.__table__
    with isolated_mariadb.connect() as connection:
        left = connection.execute(select(func.count()).select_from(table)).scalar_one()
    assert left == 1
    assert live_session(store, recent.token, policy=POLICY, now=NOW) is not None
    assert live_session(store, old.token, policy=POLICY, now=NOW) is None
