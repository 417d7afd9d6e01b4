from __future__ import annotations

import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.e2e.pipeline import Pipeline, start_pipeline


@pytest.fixture(scope="module")
def pipeline(
    tmp_path_factory: pytest.TempPathFactory,
    mariadb_url: str,
    mariadb_engine,
    kafka_bootstrap: str,
    redis_server_url: str,
) -> Iterator[Pipeline]:
    from redis import Redis

    from outreach.sql.template_store import seed_templates

    with mariadb_engine.begin() as connection:
        seed_templates(connection)
    prefix = f"outreach-e2e:{uuid.uuid4().hex[:8]}:"
    tmp: Path = tmp_path_factory.mktemp("pipeline")
    running = start_pipeline(
        tmp,
        database_url=mariadb_url,
        engine=mariadb_engine,
        kafka=kafka_bootstrap,
        redis_url=redis_server_url,
        redis_prefix=prefix,
    )
    # These tests follow messages to "delivered": the simulator's random failures are for the
    # demo and the failure tests, not here.
    running.configure_sim(outcomes={"delivered": 1, "failed": 0, "bounced": 0, "undelivered": 0})
    try:
        yield running
    finally:
        running.group.stop_all()
        client = Redis.from_url(redis_server_url)
        keys = list(client.scan_iter(match=prefix + "*"))
        if keys:
            client.delete(*keys)
