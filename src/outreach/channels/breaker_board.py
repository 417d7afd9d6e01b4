"""Where the workers' circuit breakers are seen from outside: each worker keeps its breakers in
memory (``services.send_jobs.ProviderBreakers``) and posts every change of state here, in
Redis; the console reads them back.

One hash per provider (``breakers:<provider>``), one field per worker holding its breaker's
state when it is not closed (a breaker starts closed: closing removes the field). The hash
expires ``ttl_seconds`` after its last change, so a worker that stopped while its breaker was
open is forgotten in time rather than reported for ever.
"""

from __future__ import annotations

import json
import logging
from datetime import datetime

import redis

from outreach.delivery.circuit_breaker import BreakerReport, BreakerState
from outreach.redis_store import KeySpace

logger = logging.getLogger(__name__)

DEFAULT_TTL_SECONDS = 3600


class RedisBreakerBoard:
    def __init__(
        self,
        client: redis.Redis,
        keys: KeySpace,
        reporter: str = "",
        *,
        ttl_seconds: int = DEFAULT_TTL_SECONDS,
    ) -> None:
        self._client = client
        self._keys = keys
        self._reporter = reporter
        self._ttl = ttl_seconds

    def _key(self, provider: str) -> str:
        return self._keys.key("breakers", provider)

    def post(
        self,
        provider: str,
        state: BreakerState,
        since: datetime,
        open_until: datetime | None = None,
    ) -> None:
        """This worker's breaker of ``provider`` changed to ``state`` at ``since``."""
        key = self._key(provider)
        if state is BreakerState.CLOSED:
            self._client.hdel(key, self._reporter)
            return
        value = {
            "state": state.value,
            "since": since.isoformat(),
            "open_until": open_until.isoformat() if open_until else None,
        }
        pipeline = self._client.pipeline()
        pipeline.hset(key, self._reporter, json.dumps(value))
        pipeline.expire(key, self._ttl)
        pipeline.execute()

    def reports(self, provider: str) -> list[BreakerReport]:
        """What the workers last posted for ``provider`` (an unreadable field is skipped)."""
        found = []
        for reporter, raw in sorted(self._client.hgetall(self._key(provider)).items()):
            try:
                value = json.loads(raw)
                found.append(
                    BreakerReport(
                        reporter=str(reporter),
                        state=BreakerState(value["state"]),
                        since=datetime.fromisoformat(value["since"]),
                        open_until=datetime.fromisoformat(value["open_until"])
                        if value.get("open_until")
                        else None,
                    )
                )
            except (ValueError, KeyError, TypeError):
                logger.warning("breaker report of %s by %s unreadable", provider, reporter)
        return found
