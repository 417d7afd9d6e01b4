"""The agents' one batch mechanism: malformed messages and poison messages become dead letters,
everything else goes through, and a transient failure is retried rather than dead-lettered."""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Sequence
from datetime import UTC, datetime
from typing import Any

from sqlalchemy.exc import IntegrityError

from outreach.events import SendRequest
from outreach.orchestrator.batch_consumer import (
    BatchRunner,
    parse_messages,
    processing_dead_letter,
)
from outreach.retrying import RetrySchedule

NOW = datetime(2026, 3, 2, 15, 0, tzinfo=UTC)


async def in_thread(function: Callable[..., Any], *args: Any) -> Any:
    return await asyncio.to_thread(function, *args)


def runner(attempts: int = 3) -> BatchRunner:
    return BatchRunner(in_thread, RetrySchedule(attempts, 0.001), lambda: NOW)


class Handler:
    """Fails any batch holding a poison message (as a database would, quoting the value)."""

    def __init__(self, poison: set[bytes], transient_failures: int = 0) -> None:
        self.poison = poison
        self.transient_failures = transient_failures
        self.calls: list[list[bytes]] = []
        self.handled: list[bytes] = []

    def __call__(self, batch: Sequence[tuple[bytes | None, bytes]]) -> int:
        values = [value for _, value in batch]
        self.calls.append(values)
        if self.transient_failures:
            self.transient_failures -= 1
            raise ConnectionError("lost connection")
        if self.poison & set(values):
            raise IntegrityError("INSERT ... VALUES ('Ana Pereira', '+14155550100')", {}, None)
        self.handled += values
        return len(values)


def messages(count: int) -> list[tuple[bytes | None, bytes]]:
    return [(f"p{i}".encode(), f"event-{i}".encode()) for i in range(count)]


async def test_a_poison_message_is_isolated_and_the_rest_go_through() -> None:
    batch = messages(8)
    handler = Handler(poison={b"event-5"})
    outcome = await runner().run(
        batch, handler, what="core batch", poison=processing_dead_letter("core.events", "stage")
    )
    assert sorted(handler.handled) == sorted(v for _, v in batch if v != b"event-5")
    assert sum(outcome.results) == 7
    [letter] = outcome.dead_letters
    assert (letter.original, letter.key, letter.kind) == (b"event-5", "p5", "processing")
    assert (letter.source_topic, letter.stage) == ("core.events", "stage")
    # The database error quoted the patient's name and number: the dead letter says its type.
    assert letter.error == "IntegrityError"


async def test_each_part_is_tried_the_configured_number_of_times_before_splitting() -> None:
    handler = Handler(poison={b"event-0"})
    await runner(attempts=3).run(
        messages(2), handler, what="x", poison=processing_dead_letter("t", "s")
    )
    sizes = [len(call) for call in handler.calls]
    assert sizes == [2, 2, 2, 1, 1, 1, 1]  # the batch 3 times, the poison alone 3 times, then ok


async def test_a_transient_failure_is_retried_not_dead_lettered() -> None:
    handler = Handler(poison=set(), transient_failures=2)
    outcome = await runner(attempts=3).run(
        messages(4), handler, what="x", poison=processing_dead_letter("t", "s")
    )
    assert outcome.dead_letters == [] and outcome.results == [4]


async def test_an_empty_batch_runs_nothing() -> None:
    handler = Handler(poison=set())
    outcome = await runner().run([], handler, what="x", poison=processing_dead_letter("t", "s"))
    assert handler.calls == [] and outcome.results == []


def test_malformed_messages_become_dead_letters_without_their_values() -> None:
    good = SendRequest(job_id=7, attempt=1).model_dump_json().encode()
    bad = b'{"job_id": "Ana Pereira", "attempt": 1}'
    parsed, malformed = parse_messages(
        [(b"k1", good), (b"k2", bad), (None, b"\xff\xfe")],
        SendRequest,
        topic="outreach.send.sms",
        stage="channel.parse",
        now=NOW,
    )
    assert [p.value.job_id for p in parsed] == [7] and parsed[0].raw == good
    assert [m.original for m in malformed] == [bad, b"\xff\xfe"]
    assert malformed[0].key == "k2" and malformed[1].key is None
    assert "job_id" in malformed[0].error and "Ana" not in malformed[0].error


async def test_parse_and_run_hands_over_values_and_dead_letters_both_kinds() -> None:
    handled: list[list[int]] = []

    def handle(requests: Sequence[SendRequest]) -> int:
        ids = [r.job_id for r in requests]
        handled.append(ids)
        if 13 in ids:
            raise RuntimeError("unlucky")
        return len(ids)

    messages = [
        (b"a", SendRequest(job_id=1, attempt=1).model_dump_json().encode()),
        (b"b", b"not json"),
        (b"c", SendRequest(job_id=13, attempt=1).model_dump_json().encode()),
    ]
    outcome = await runner(attempts=1).parse_and_run(
        messages, SendRequest, handle, topic="outreach.send.sms", stage="channel", what="x"
    )
    assert outcome.results == [1]
    assert [(d.stage, d.kind, d.key) for d in outcome.dead_letters] == [
        ("channel.parse", "malformed", "b"),
        ("channel.batch", "processing", "c"),
    ]
