"""Redis connections with the deployment's key prefix (tests get an isolated one)."""

from __future__ import annotations

import redis


class KeySpace:
    """Builds prefixed keys so that several deployments or test runs share one Redis safely."""

    def __init__(self, prefix: str) -> None:
        self.prefix = prefix

    def key(self, *parts: object) -> str:
        return self.prefix + ":".join(str(part) for part in parts)


def connect_redis(url: str) -> redis.Redis:
    return redis.Redis.from_url(url, decode_responses=True, health_check_interval=30)
