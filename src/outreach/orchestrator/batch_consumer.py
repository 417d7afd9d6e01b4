"""The one way every agent handles a batch of Kafka messages (``BatchRunner.parse_and_run``).

1. Parse each message into its typed value; one that does not parse becomes a dead letter and
   the others go on.
2. Run the blocking handler over the batch in a thread, retrying with backoff.
3. When it keeps failing, split the batch in halves until the message that breaks it is alone:
   that one becomes a dead letter ("processing"), every other message goes through.
Handlers are idempotent (inbox rows, idempotency keys, conditional updates), so running part of a
batch again after a failed attempt changes nothing that the first attempt committed.
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Generic, TypeVar

from pydantic import BaseModel, ValidationError

from outreach.clock import Clock
from outreach.dead_letters import DeadLetter, dead_letter
from outreach.retrying import RetrySchedule, retry_async

logger = logging.getLogger(__name__)

ItemT = TypeVar("ItemT")
ResultT = TypeVar("ResultT")
ModelT = TypeVar("ModelT", bound=BaseModel)

# Runs a blocking function with its arguments in the worker's thread pool.
RunBlocking = Callable[..., Awaitable[Any]]
KafkaMessage = tuple[bytes | None, bytes | None]


@dataclass(frozen=True, slots=True)
class Parsed(Generic[ModelT]):
    """A message that parsed, with what it came as (kept for a dead letter later)."""

    value: ModelT
    key: bytes | None
    raw: bytes


def parse_messages(
    messages: Sequence[KafkaMessage],
    model: type[ModelT],
    *,
    topic: str,
    stage: str,
    now: datetime,
) -> tuple[list[Parsed[ModelT]], list[DeadLetter]]:
    """Each message as ``model``; one that does not validate becomes a dead letter."""
    parsed: list[Parsed[ModelT]] = []
    malformed: list[DeadLetter] = []
    for key, value in messages:
        raw = value or b""
        try:
            parsed.append(Parsed(model.model_validate_json(raw), key, raw))
        except ValidationError as error:
            malformed.append(
                dead_letter(
                    source_topic=topic,
                    stage=stage,
                    error=error,
                    failed_at=now,
                    original=raw,
                    key=key,
                )
            )
    return parsed, malformed


@dataclass
class BatchOutcome(Generic[ResultT]):
    """The handler's results for the parts of a batch that went through, and the poison."""

    results: list[ResultT] = field(default_factory=list)
    dead_letters: list[DeadLetter] = field(default_factory=list)


@dataclass(frozen=True, slots=True)
class BatchRunner:
    """Runs blocking batch handlers in threads with retries, isolating poison messages."""

    run_blocking: RunBlocking
    retries: RetrySchedule
    clock: Clock

    async def run(
        self,
        items: Sequence[ItemT],
        handle: Callable[[Sequence[ItemT]], ResultT],
        *,
        what: str,
        poison: Callable[[ItemT, BaseException, datetime], DeadLetter],
    ) -> BatchOutcome[ResultT]:
        """``handle(items)`` in a thread, retried; split on persistent failure (see module)."""
        outcome: BatchOutcome[ResultT] = BatchOutcome()
        if not items:
            return outcome
        try:
            result = await retry_async(
                lambda: self.run_blocking(handle, items), self.retries, what=what
            )
        except Exception as error:
            if len(items) == 1:
                logger.error("%s failed for good: %s", what, type(error).__name__)
                outcome.dead_letters.append(poison(items[0], error, self.clock()))
                return outcome
            logger.warning("%s keeps failing: splitting %d messages", what, len(items))
            middle = len(items) // 2
            for half in (items[:middle], items[middle:]):
                part = await self.run(half, handle, what=what, poison=poison)
                outcome.results += part.results
                outcome.dead_letters += part.dead_letters
            return outcome
        outcome.results.append(result)
        return outcome

    async def parse_and_run(
        self,
        messages: Sequence[KafkaMessage],
        model: type[ModelT],
        handle: Callable[[Sequence[ModelT]], ResultT],
        *,
        topic: str,
        stage: str,
        what: str,
    ) -> BatchOutcome[ResultT]:
        """Steps 1 to 3 for a topic of ``model`` messages: ``handle`` gets the parsed values; the
        outcome's dead letters hold the malformed messages and the poison ones (``<stage>`` and
        ``<topic's role>.batch``)."""
        parsed, malformed = parse_messages(
            messages, model, topic=topic, stage=f"{stage}.parse", now=self.clock()
        )
        outcome = await self.run(
            parsed,
            lambda batch: handle([item.value for item in batch]),
            what=what,
            poison=processing_dead_letter(topic, f"{stage}.batch"),
        )
        outcome.dead_letters[:0] = malformed
        return outcome


def processing_dead_letter(
    topic: str, stage: str
) -> Callable[[Parsed[Any] | KafkaMessage, BaseException, datetime], DeadLetter]:
    """The ``poison`` callback for a handler over parsed messages or raw (key, value) pairs."""

    def build(item: Parsed[Any] | KafkaMessage, error: BaseException, now: datetime) -> DeadLetter:
        key, raw = (item.key, item.raw) if isinstance(item, Parsed) else item
        return dead_letter(
            source_topic=topic,
            stage=stage,
            kind="processing",
            error=error,
            failed_at=now,
            original=raw or b"",
            key=key,
        )

    return build
