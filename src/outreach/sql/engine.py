"""Engine and session factory, built from Settings by the caller (never at import time)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from sqlalchemy import Engine, create_engine, event
from sqlalchemy.engine import make_url
from sqlalchemy.orm import Session, sessionmaker

from outreach.campaigns.assignment import assignment_bucket

# The SQLite function that computes ``campaigns.assignment.assignment_bucket``.
ASSIGNMENT_BUCKET_FUNCTION = "outreach_assignment_bucket"


def build_engine(url: str, **kwargs: Any) -> Engine:
    """An engine tuned for the pipeline's access pattern on MariaDB or SQLite.

    MariaDB runs at READ COMMITTED: the scheduler's SKIP LOCKED claims and the orchestrator's
    bulk inserts should not take gap locks. SQLite gets WAL and a busy timeout so the demo's
    processes can share one file.
    """
    parsed = make_url(url)
    if parsed.get_backend_name() == "sqlite":
        if parsed.database and parsed.database != ":memory:":
            Path(parsed.database).parent.mkdir(parents=True, exist_ok=True)
        engine = create_engine(url, connect_args={"timeout": 30}, **kwargs)

        @event.listens_for(engine, "connect")
        def _sqlite_pragmas(dbapi_connection: Any, _record: Any) -> None:
            cursor = dbapi_connection.cursor()
            cursor.execute("PRAGMA journal_mode=WAL")
            cursor.execute("PRAGMA synchronous=NORMAL")
            cursor.execute("PRAGMA foreign_keys=ON")
            cursor.execute("PRAGMA busy_timeout=30000")
            cursor.close()
            # Campaign assignment in SQL (MariaDB computes it with SHA2 and CONV instead).
            dbapi_connection.create_function(
                ASSIGNMENT_BUCKET_FUNCTION, 3, assignment_bucket, deterministic=True
            )

        return engine
    kwargs.setdefault("pool_pre_ping", True)
    kwargs.setdefault("pool_recycle", 3600)
    kwargs.setdefault("isolation_level", "READ COMMITTED")
    if parsed.get_backend_name() == "mysql":
        connect_args = kwargs.pop("connect_args", {})
        connect_args.setdefault("charset", "utf8mb4")
        kwargs["connect_args"] = connect_args
    return create_engine(url, **kwargs)


def session_factory(engine: Engine) -> sessionmaker[Session]:
    return sessionmaker(engine, expire_on_commit=False)


def is_mysql(engine: Engine) -> bool:
    return engine.dialect.name in ("mysql", "mariadb")
