"""What an organisation's admin may see of the dead-letter topic, and decisions recorded with
their audit entry, once."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import Engine, select

from outreach.dead_letters import DeadLetterSealer, dead_letter
from outreach.domain import Actor
from outreach.events import DlqEntry
from outreach.services.dead_letters_admin import (
    WEBHOOK_STAGE,
    AlreadyDecided,
    decision_of,
    discard,
    entries_from,
    of_organisation,
    webhook_failures,
)
from outreach.sql.models import CommAuditLog
from outreach.sql.store import Store

NOW = datetime(2026, 3, 2, 12, 0, tzinfo=UTC)
SEALER = DeadLetterSealer(DeadLetterSealer.new_key())


def entry(stage: str, *, org_id: str | None = None, minutes: int = 0) -> DlqEntry:
    return SEALER.seal(
        dead_letter(
            source_topic="http:/webhooks/twilio/status" if stage == WEBHOOK_STAGE else "t",
            stage=stage,
            error="MalformedWebhook: statuses: not a list",
            failed_at=NOW + timedelta(minutes=minutes),
            original=b"{}",
            org_id=org_id,
        )
    )


def test_an_organisation_sees_only_the_entries_that_carry_it() -> None:
    ours, theirs, unknown = (
        entry("channel.send", org_id="org-a"),
        entry("channel.send", org_id="org-b"),
        entry("orchestrator.parse"),
    )
    assert of_organisation([ours, theirs, unknown], "org-a") == [ours]
    assert of_organisation([unknown], "") == []


def test_webhook_failures_newest_first_and_bounded() -> None:
    hooks = [entry(WEBHOOK_STAGE, minutes=m) for m in (1, 3, 2)]
    listed = webhook_failures([*hooks, entry("channel.send", org_id="org-a")], limit=2)
    assert [e.failed_at.minute for e in listed] == [3, 2]


def test_a_record_that_is_no_entry_is_skipped() -> None:
    good = entry("channel.send", org_id="org-a")
    assert entries_from([b"not json", None, good.model_dump_json().encode(), b"{}"]) == [good]


@pytest.mark.services
def test_a_discard_is_recorded_once_with_its_audit_entry(isolated_mariadb: Engine) -> None:
    store = Store(isolated_mariadb)
    org_id = f"org-{uuid.uuid4().hex[:8]}"
    discarded = entry("channel.send", org_id=org_id)
    assert decision_of(store, discarded) == ("new", None, None)
    actor = Actor("key:abc123", org_id)
    audit = actor.audit("dead_letter_discarded", NOW, detail={"entry_id": discarded.entry_id})
    discard(store, discarded, actor.name, NOW, audit)
    state, when, by = decision_of(store, discarded)
    assert (state, by) == ("discarded", "key:abc123") and when is not None
    with pytest.raises(AlreadyDecided):
        discard(store, discarded, actor.name, NOW, audit)
    log = CommAuditLog.__table__
    with isolated_mariadb.connect() as connection:
        rows = connection.execute(
            select(log.c.action, log.c.org_id).where(log.c.actor == "key:abc123")
        ).all()
    assert [tuple(r) for r in rows] == [("dead_letter_discarded", org_id)]  # once
