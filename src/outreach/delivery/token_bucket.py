"""Token-bucket pacing: the math shared by every worker through one Redis script.

A sender (provider account and sending number or address) earns ``rate`` tokens a second up to
``capacity``; a send takes one. When none is left, the answer is how long to wait for the next,
so a worker sleeps instead of collecting 429s. ``channels.rate_limiter`` runs exactly this in Redis
(a Lua script, atomic across workers); this pure version states the rule and is what its tests
compare the script against.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class Bucket:
    tokens: float
    updated_at: float  # seconds (any epoch, the same for every caller)


@dataclass(frozen=True, slots=True)
class Take:
    granted: bool
    wait_seconds: float  # 0 when granted: how long until a token is there
    bucket: Bucket  # the state to store


def bucket_capacity(rate: float, burst_seconds: float) -> float:
    """How many sends may go back to back: a burst of ``burst_seconds`` at ``rate``, at least 1."""
    return max(1.0, rate * burst_seconds)


def tokens_at(bucket: Bucket | None, now: float, rate: float, capacity: float) -> float:
    """The tokens a bucket holds at ``now`` (what it earned since, up to capacity); a missing
    bucket is full."""
    if rate <= 0:
        raise ValueError("rate must be positive")
    if bucket is None:
        return capacity
    elapsed = max(0.0, now - bucket.updated_at)  # a clock that stepped back earns nothing
    return min(capacity, bucket.tokens + elapsed * rate)


def take_token(bucket: Bucket | None, now: float, rate: float, capacity: float) -> Take:
    """Take one token at ``now`` if there is one; a missing bucket starts full."""
    tokens = tokens_at(bucket, now, rate, capacity)
    if tokens >= 1.0:
        return Take(True, 0.0, Bucket(tokens - 1.0, now))
    return Take(False, (1.0 - tokens) / rate, Bucket(tokens, now))
