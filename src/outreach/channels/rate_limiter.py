"""Pacing shared by every worker: a token bucket per sender in Redis, taken by one Lua script.

The script is ``delivery.token_bucket.take_token`` run atomically inside Redis, so several
workers sending for one Twilio number together stay under its rate. A worker whose take is
refused sleeps the time the script names and asks again: it paces itself instead of collecting
429s. Time comes from the caller's clock (seconds since the epoch), the same on one machine and
close enough across a deployment's NTP-synchronised hosts.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Mapping

import redis

from outreach.delivery.token_bucket import Bucket, bucket_capacity, tokens_at
from outreach.redis_store import KeySpace

# KEYS[1]: the bucket (a hash: tokens, ts). ARGV: now, rate, capacity, ttl seconds.
# Returns the seconds to wait, as a string (0 when a token was taken).
TAKE_TOKEN_LUA = """
local now = tonumber(ARGV[1])
local rate = tonumber(ARGV[2])
local capacity = tonumber(ARGV[3])
local state = redis.call('HMGET', KEYS[1], 'tokens', 'ts')
local tokens = tonumber(state[1])
local ts = tonumber(state[2])
if tokens == nil or ts == nil then
  tokens = capacity
else
  local elapsed = now - ts
  if elapsed < 0 then elapsed = 0 end
  tokens = math.min(capacity, tokens + elapsed * rate)
end
local wait = 0
if tokens >= 1 then
  tokens = tokens - 1
else
  wait = (1 - tokens) / rate
end
-- %.17g: full double precision, so the stored bucket is the computed one
redis.call('HSET', KEYS[1], 'tokens', string.format('%.17g', tokens),
           'ts', string.format('%.17g', now))
redis.call('EXPIRE', KEYS[1], tonumber(ARGV[4]))
return string.format('%.17g', wait)
"""


class RedisRateLimiter:
    """Token buckets by pacing key; ``rates`` overrides a channel's default rate per key."""

    def __init__(
        self,
        client: redis.Redis,
        keys: KeySpace,
        rates: Mapping[str, float],
        *,
        burst_seconds: float = 1.0,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self._client = client
        self._script = client.register_script(TAKE_TOKEN_LUA)
        self._keys = keys
        self._rates = dict(rates)
        self._burst = burst_seconds
        self._clock = clock

    def rate_for(self, pacing_key: str, default_rate: float) -> float:
        return self._rates.get(pacing_key, default_rate)

    def is_configured(self, pacing_key: str) -> bool:
        """Whether the sender's rate is set for it (else its channel's default applies)."""
        return pacing_key in self._rates

    def capacity_for(self, pacing_key: str, default_rate: float) -> float:
        return bucket_capacity(self.rate_for(pacing_key, default_rate), self._burst)

    def tokens_now(self, pacing_key: str, default_rate: float) -> float:
        """The sends the sender may make back to back now: its bucket read, never taken from
        (a bucket no one took from lately is full)."""
        tokens, updated_at = self._client.hmget(self._keys.key("pace", pacing_key), "tokens", "ts")
        bucket = (
            Bucket(float(tokens), float(updated_at))
            if tokens is not None and updated_at is not None
            else None
        )
        rate = self.rate_for(pacing_key, default_rate)
        return tokens_at(bucket, self._clock(), rate, bucket_capacity(rate, self._burst))

    def try_take(self, pacing_key: str, default_rate: float) -> float:
        """Take a token for one send; 0 when taken, else the seconds until one is there."""
        rate = self.rate_for(pacing_key, default_rate)
        capacity = bucket_capacity(rate, self._burst)
        # The bucket forgets itself once it would be full again anyway.
        ttl = max(1, int(capacity / rate) + 60)
        wait = self._script(
            keys=[self._keys.key("pace", pacing_key)],
            args=[repr(self._clock()), repr(rate), repr(capacity), ttl],
        )
        return float(wait)
