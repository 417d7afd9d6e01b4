"""Correlation ids: one per unit of work, in every log line and in the Kafka headers it publishes.

A unit of work is an HTTP request (the caller's ``X-Correlation-ID`` when it is well formed,
else a new id, echoed in the answer), a batch a worker consumed (the ids its messages carried),
or a scheduler round (a new id). Whatever the work publishes to Kafka carries the id in the
header ``correlation_id``, so the next process's log lines can be joined to the request that
started it. Ids are short tokens of letters, digits and ``._:-``: never personal data of ours.
"""

from __future__ import annotations

import logging
import re
import uuid
from collections.abc import Iterable, Iterator, Sequence
from contextlib import contextmanager
from contextvars import ContextVar

HTTP_HEADER = "X-Correlation-ID"
KAFKA_HEADER = "correlation_id"
MAX_CHARS = 64
# A batch names at most this many ids of its messages; the rest are counted.
_BATCH_IDS_SHOWN = 3
_VALID = re.compile(r"^[A-Za-z0-9._:-]{1,64}$")

_current: ContextVar[str | None] = ContextVar("outreach_correlation_id", default=None)


def new_correlation_id() -> str:
    return uuid.uuid4().hex


def current_correlation_id() -> str | None:
    return _current.get()


def well_formed(value: str | bytes | None) -> str | None:
    """``value`` as a correlation id if it is one, else None (then a new one is made)."""
    if isinstance(value, bytes):
        value = value.decode("ascii", "replace")
    if value is None or not _VALID.match(value):
        return None
    return value


@contextmanager
def correlated(correlation_id: str | None) -> Iterator[str]:
    """Run the block under ``correlation_id`` (a new one when None)."""
    chosen = correlation_id or new_correlation_id()
    token = _current.set(chosen)
    try:
        yield chosen
    finally:
        _current.reset(token)


def kafka_headers() -> list[tuple[str, bytes]] | None:
    """Headers carrying the current id to the next process (None when there is none)."""
    current = _current.get()
    return [(KAFKA_HEADER, current.encode("ascii"))] if current else None


def from_kafka_headers(headers: Iterable[tuple[str, bytes]] | None) -> str | None:
    for name, value in headers or ():
        if name == KAFKA_HEADER:
            return well_formed(value)
    return None


def batch_correlation_id(ids: Sequence[str | None]) -> str | None:
    """The id of a batch: its messages' distinct ids, a few named and the rest counted."""
    distinct = list(dict.fromkeys(i for i in ids if i))
    if not distinct:
        return None
    shown = ",".join(distinct[:_BATCH_IDS_SHOWN])
    more = len(distinct) - _BATCH_IDS_SHOWN
    return f"{shown},+{more}" if more > 0 else shown


class CorrelationFilter(logging.Filter):
    """Puts the current id on every record as ``correlation_id`` ("-" outside any work)."""

    def filter(self, record: logging.LogRecord) -> bool:
        record.correlation_id = _current.get() or "-"
        return True
