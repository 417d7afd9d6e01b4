"""``outreach keys``: a key is shown once, listed by prefix, works until revoked; all audited."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from sqlalchemy import select
from typer.testing import CliRunner

from outreach.cli import app
from outreach.domain import Role
from outreach.services.api_keys import authenticate_api_key
from outreach.sql.engine import build_engine
from outreach.sql.migrate import upgrade
from outreach.sql.models import CommAuditLog
from outreach.sql.store import Store

runner = CliRunner()


def test_create_list_and_revoke(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    url = f"sqlite:///{tmp_path / 'keys.sqlite3'}"
    upgrade(url)
    monkeypatch.setenv("OUTREACH_DATABASE_URL", url)

    created = runner.invoke(
        app, ["keys", "create", "--org", "org-7", "--role", "admin", "--name", "first admin"]
    )
    assert created.exit_code == 0, created.output
    plaintext = re.search(r"ork_\w{8}_[\w-]{43}", created.output).group(0)  # type: ignore[union-attr]
    prefix = plaintext[:12]
    engine = build_engine(url)
    principal = authenticate_api_key(Store(engine), plaintext)
    assert principal is not None
    assert (principal.org_id, principal.role, principal.actor) == (
        "org-7",
        Role.ADMIN,
        f"key:{prefix}",
    )

    listed = runner.invoke(app, ["keys", "list"])
    assert listed.exit_code == 0 and prefix in listed.output and "live" in listed.output
    assert plaintext not in listed.output

    assert runner.invoke(app, ["keys", "revoke", prefix]).exit_code == 0
    assert authenticate_api_key(Store(engine), plaintext) is None
    assert runner.invoke(app, ["keys", "revoke", prefix]).exit_code == 1
    assert "revoked" in runner.invoke(app, ["keys", "list", "--org", "org-7"]).output

    with engine.connect() as connection:
        rows = connection.execute(
            select(CommAuditLog.action, CommAuditLog.actor, CommAuditLog.org_id).where(
                CommAuditLog.action.like("api_key_%")
            )
        ).all()
    engine.dispose()
    assert [(action, org) for action, _, org in rows] == [
        ("api_key_created", "org-7"),
        ("api_key_revoked", "org-7"),
    ]
    assert all(actor.startswith("cli:") for _, actor, _ in rows)
