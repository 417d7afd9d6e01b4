"""The real Redis: writes and reads under an isolated key prefix."""

from __future__ import annotations

from outreach.redis_store import KeySpace, connect_redis


def test_write_and_read_redis(redis_server_url: str, redis_prefix: str) -> None:
    client = connect_redis(redis_server_url)
    keys = KeySpace(redis_prefix)
    client.set(keys.key("optout", "sms", "p1"), "1", ex=60)
    client.hset(keys.key("caps", "p1"), mapping={"sms": 2, "email": 0})
    assert client.get(keys.key("optout", "sms", "p1")) == "1"
    assert client.hgetall(keys.key("caps", "p1")) == {"sms": "2", "email": "0"}
    assert 0 < client.ttl(keys.key("optout", "sms", "p1")) <= 60
    assert all(k.startswith(redis_prefix) for k in client.scan_iter(match=redis_prefix + "*"))


def test_embedded_redis_stand_in_serves_the_real_client() -> None:
    from outreach.embedded.redis_server import EmbeddedRedis

    with EmbeddedRedis() as server:
        client = connect_redis(server.url)
        assert client.incr("n") == 1 and client.incr("n") == 2
        # A second client (another demo process) sees the same data.
        other = connect_redis(server.url)
        assert other.get("n") == "2"
        assert other.set("clock", "3600.5") and client.get("clock") == "3600.5"
