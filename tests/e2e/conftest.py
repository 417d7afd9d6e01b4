from __future__ import annotations

import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import Engine

from tests.e2e.pipeline import Pipeline, start_pipeline
from tests.mariadb_template import MariaDbTemplate


@pytest.fixture(scope="module")
def pipeline_database(mariadb_template: MariaDbTemplate) -> Iterator[Engine]:
    """Each module's deployment gets a database of its own: its scheduler claims every due job
    it can see, and must not send (or be confused by) jobs other tests left queued."""
    with mariadb_template.cloned_engine() as engine:
        yield engine


@pytest.fixture(scope="module")
def pipeline(
    tmp_path_factory: pytest.TempPathFactory,
    pipeline_database: Engine,
    kafka_bootstrap: str,
    redis_server_url: str,
) -> Iterator[Pipeline]:
    from redis import Redis

    from outreach.services.template_versions import seed_shipped_templates
    from outreach.sql.store import Store

    seed_shipped_templates(Store(pipeline_database))
    prefix = f"outreach-e2e:{uuid.uuid4().hex[:8]}:"
    tmp: Path = tmp_path_factory.mktemp("pipeline")
    running = start_pipeline(
        tmp,
        database_url=pipeline_database.url.render_as_string(hide_password=False),
        engine=pipeline_database,
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
