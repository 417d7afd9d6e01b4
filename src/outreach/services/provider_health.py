"""Use case "how are the providers doing": per provider of the loaded channels, its circuit
across the workers that send to it, and each sender's configured pace and what its bucket holds.

Circuit breakers live in each worker's memory; the workers post their changes to a board
(``channels.breaker_board``), which is read here. Paces come from the settings
(``send_rates``, else the channel's ``default_rate_per_sec``) and the buckets the workers share
in Redis, read without taking a token. Either may be unknown (no Redis, or Redis not answering):
then it is said so, never guessed.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Protocol

from outreach.channels.base import ChannelWorker
from outreach.delivery.circuit_breaker import BreakerReport, CircuitView, circuit_view

logger = logging.getLogger(__name__)


class BreakerReader(Protocol):
    def reports(self, provider: str) -> list[BreakerReport]: ...


class BucketReader(Protocol):
    def tokens_now(self, pacing_key: str, default_rate: float) -> float: ...

    def capacity_for(self, pacing_key: str, default_rate: float) -> float: ...


@dataclass(frozen=True, slots=True)
class SenderPace:
    """One sender (provider account and number or address) and its pace."""

    channel: str
    pacing_key: str
    rate_per_second: float
    configured: bool  # set in ``send_rates``; else the channel's default
    capacity: float | None  # sends that may go back to back from a full bucket
    tokens: float | None  # what the bucket holds now; None: unknown


@dataclass(frozen=True, slots=True)
class ProviderHealth:
    provider: str
    circuit: CircuitView | None  # None: unknown
    senders: tuple[SenderPace, ...]


def provider_health(
    channels: Mapping[str, ChannelWorker],
    rates: Mapping[str, float],
    now: datetime,
    *,
    board: BreakerReader | None = None,
    buckets: BucketReader | None = None,
) -> list[ProviderHealth]:
    """Every provider of ``channels``, sorted by name, with its senders by channel."""
    by_provider: dict[str, list[ChannelWorker]] = {}
    for name in sorted(channels):
        by_provider.setdefault(channels[name].provider, []).append(channels[name])
    found = []
    for provider, workers in sorted(by_provider.items()):
        circuit = None
        if board is not None:
            try:
                circuit = circuit_view(board.reports(provider), now)
            except Exception as error:  # a page of status must not fail with its sources
                logger.warning("circuit of %s unreadable: %s", provider, type(error).__name__)
        found.append(
            ProviderHealth(provider, circuit, tuple(_pace(w, rates, buckets) for w in workers))
        )
    return found


def _pace(
    worker: ChannelWorker, rates: Mapping[str, float], buckets: BucketReader | None
) -> SenderPace:
    key, default = worker.pacing_key, worker.default_rate_per_sec
    tokens = capacity = None
    if buckets is not None:
        try:
            capacity = buckets.capacity_for(key, default)
            tokens = buckets.tokens_now(key, default)
        except Exception as error:
            logger.warning("bucket of %s unreadable: %s", worker.name, type(error).__name__)
    return SenderPace(
        channel=worker.name,
        pacing_key=key,
        rate_per_second=rates.get(key, default),
        configured=key in rates,
        capacity=capacity,
        tokens=tokens,
    )
