"""Which database errors are worth waiting out: the one place that knows SQLAlchemy's exceptions.

Services take the classifier as a parameter, so they can pause on an outage without importing
SQLAlchemy.
"""

from __future__ import annotations

from sqlalchemy import exc as sa_exc


def is_transient_database_error(error: BaseException) -> bool:
    """Database trouble worth waiting out (connection lost, deadlock, lock timeout), as opposed
    to a fault of the message being handled."""
    if isinstance(error, sa_exc.DBAPIError) and error.connection_invalidated:
        return True
    return isinstance(error, sa_exc.OperationalError | sa_exc.InterfaceError | sa_exc.TimeoutError)
