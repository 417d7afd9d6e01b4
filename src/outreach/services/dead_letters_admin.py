"""Use case "work with dead letters": list them with what was done, open one, replay or discard it.

An entry is replayed or discarded once (``dead_letter_decisions``). Replay puts the original back
where it came from, where the consumers' idempotency makes a second handling harmless (a core
event, an inbound message, a status, a send request). A send that ended ``failed``
(``channel.send``) cannot be sent by its old request: replay plans it again as a new job, whose
claim checks consent and the send window anew.
"""

from __future__ import annotations

import json
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from datetime import datetime

from outreach.dead_letters import DeadLetterSealer
from outreach.events import DlqEntry
from outreach.sql.store import Store

# (topic, key, value) records, returned once Kafka holds them.
PublishMany = Callable[[list[tuple[str, bytes | None, bytes]]], Awaitable[None]]
SEND_STAGE = "channel.send"


@dataclass(frozen=True, slots=True)
class ListedDeadLetter:
    entry: DlqEntry
    state: str  # "new", "replayed" or "discarded"
    decided_by: str | None = None


class AlreadyDecided(Exception):
    """The entry was replayed or discarded before."""


class UnknownEntry(LookupError):
    """No entry with that id is on the topic."""


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


def discard(store: Store, entry: DlqEntry, actor: str, now: datetime) -> None:
    with store.transaction() as repos:
        if not repos.dead_letters.decide(entry.entry_id, "discarded", actor, now):
            raise AlreadyDecided(entry.entry_id)


async def replay(
    store: Store,
    sealer: DeadLetterSealer,
    publish_many: PublishMany,
    entry: DlqEntry,
    actor: str,
    now: datetime,
) -> str:
    """Replay ``entry`` once; returns what was done, in words (no personal data)."""
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
        return f"job {job.id} planned again as job {new_id}"
    with store.transaction() as repos:
        if not repos.dead_letters.decide(entry.entry_id, "replayed", actor, now):
            raise AlreadyDecided(entry.entry_id)
        # Published inside the transaction: a failed publish records no decision.
        await publish_many(
            [(entry.source_topic, entry.key.encode() if entry.key else None, original)]
        )
    return f"republished to {entry.source_topic}"
