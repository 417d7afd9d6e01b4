"""Use case "work with dead letters": list them with what was done, open one, replay or discard it.

An entry is replayed or discarded once (``dead_letter_decisions``). Replay puts the original back
where it came from, where the consumers' idempotency makes a second handling harmless (a core
event, an inbound message, a status, a send request). A send that ended ``failed``
(``channel.send``) cannot be sent by its old request: replay plans it again as a new job, whose
claim checks consent and the send window anew.

Who sees what: ``outreach dlq`` (operators of the deployment, holding its dead-letter key) sees
every entry. An organisation's admin in the console sees only the entries that carry its
organisation (``of_organisation``); entries whose organisation is unknown (a malformed message,
a batch that kept failing) stay with the operators, and a provider's unreadable webhook
(``WEBHOOK_STAGE``) is shown to admins read-only, as a failure of a provider every organisation
shares (``webhook_failures``: when, where and the PHI-free reason, never the original).
"""

from __future__ import annotations

import json
import logging
from collections.abc import Awaitable, Callable, Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime

from pydantic import ValidationError

from outreach.dead_letters import DeadLetterSealer
from outreach.domain import AuditRecord
from outreach.events import DlqEntry
from outreach.sql.store import Store

logger = logging.getLogger(__name__)

# (topic, key, value) records, returned once Kafka holds them.
PublishMany = Callable[[list[tuple[str, bytes | None, bytes]]], Awaitable[None]]
SEND_STAGE = "channel.send"
WEBHOOK_STAGE = "api.webhook"  # a provider's signed webhook whose body could not be read


@dataclass(frozen=True, slots=True)
class ListedDeadLetter:
    entry: DlqEntry
    state: str  # "new", "replayed" or "discarded"
    decided_by: str | None = None


class AlreadyDecided(Exception):
    """The entry was replayed or discarded before."""


class UnknownEntry(LookupError):
    """No entry with that id is on the topic."""


def entries_from(values: Iterable[bytes | None]) -> list[DlqEntry]:
    """The entries of the topic's record values; a value that is no entry is skipped (and
    counted in the log) rather than hide every other entry."""
    entries, unreadable = [], 0
    for value in values:
        try:
            entries.append(DlqEntry.model_validate_json(value or b""))
        except ValidationError:
            unreadable += 1
    if unreadable:
        logger.warning("%d record(s) on the dead-letter topic are not entries", unreadable)
    return entries


def of_organisation(entries: Iterable[DlqEntry], org_id: str) -> list[DlqEntry]:
    """The entries that carry ``org_id``: what an organisation's admin may see and act on."""
    return [entry for entry in entries if entry.org_id is not None and entry.org_id == org_id]


def webhook_failures(entries: Iterable[DlqEntry], limit: int) -> list[DlqEntry]:
    """The latest ``limit`` provider webhooks that could not be read, newest first."""
    failed = [entry for entry in entries if entry.stage == WEBHOOK_STAGE]
    return sorted(failed, key=lambda entry: entry.failed_at, reverse=True)[:limit]


def decision_of(store: Store, entry: DlqEntry) -> tuple[str, datetime | None, str | None]:
    """(state, when, by whom) of one entry: ``new`` until replayed or discarded."""
    with store.reading() as repos:
        decided = repos.dead_letters.decisions_of([entry.entry_id])
    if entry.entry_id not in decided:
        return "new", None, None
    return decided[entry.entry_id]


def with_states(store: Store, entries: Sequence[DlqEntry]) -> list[ListedDeadLetter]:
    with store.reading() as repos:
        decided = repos.dead_letters.decisions_of(e.entry_id for e in entries)
    return [
        ListedDeadLetter(e, decided[e.entry_id][0], decided[e.entry_id][2])
        if e.entry_id in decided
        else ListedDeadLetter(e, "new")
        for e in entries
    ]


def find_entry(entries: Sequence[DlqEntry], entry_id: str) -> DlqEntry:
    for entry in entries:
        if entry.entry_id == entry_id:
            return entry
    raise UnknownEntry(entry_id)


def discard(
    store: Store, entry: DlqEntry, actor: str, now: datetime, audit: AuditRecord | None = None
) -> None:
    """Mark the entry handled without replaying it (``audit``: recorded with the decision)."""
    with store.transaction() as repos:
        if not repos.dead_letters.decide(entry.entry_id, "discarded", actor, now):
            raise AlreadyDecided(entry.entry_id)
        if audit is not None:
            repos.audit.record([audit])


async def replay(
    store: Store,
    sealer: DeadLetterSealer,
    publish_many: PublishMany,
    entry: DlqEntry,
    actor: str,
    now: datetime,
    audit: AuditRecord | None = None,
) -> str:
    """Replay ``entry`` once; returns what was done, in words (no personal data). ``audit``
    is recorded with the decision, in its transaction."""
    original = sealer.open(entry)
    if entry.stage == SEND_STAGE:
        request = json.loads(original)
        with store.transaction() as repos:
            if not repos.dead_letters.decide(entry.entry_id, "replayed", actor, now):
                raise AlreadyDecided(entry.entry_id)
            job = repos.jobs.load([int(request["job_id"])]).get(int(request["job_id"]))
            if job is None:
                raise UnknownEntry(f"job {request['job_id']} no longer exists")
            new_id = repos.jobs.insert_replay(job, entry.entry_id, now)
            if audit is not None:
                repos.audit.record([audit])
        return f"job {job.id} planned again as job {new_id}"
    with store.transaction() as repos:
        if not repos.dead_letters.decide(entry.entry_id, "replayed", actor, now):
            raise AlreadyDecided(entry.entry_id)
        if audit is not None:
            repos.audit.record([audit])
        # Published inside the transaction: a failed publish records no decision.
        await publish_many(
            [(entry.source_topic, entry.key.encode() if entry.key else None, original)]
        )
    return f"republished to {entry.source_topic}"
