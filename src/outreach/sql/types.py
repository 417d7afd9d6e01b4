"""Column types that behave the same on MariaDB and SQLite."""

from __future__ import annotations

import enum
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import JSON, BigInteger, DateTime, Enum, Integer, String
from sqlalchemy.dialects import mysql
from sqlalchemy.types import TypeDecorator

from outreach.domain import Channel

# BIGINT ids on MariaDB; SQLite only auto-increments INTEGER PRIMARY KEY.
BigId = BigInteger().with_variant(Integer(), "sqlite")

# MariaDB's JSON is LONGTEXT with a check; the generic type maps to it and to SQLite's TEXT.
Json = JSON().with_variant(mysql.JSON(), "mysql", "mariadb")


class UtcDateTime(TypeDecorator[datetime]):
    """Aware UTC datetimes in Python, naive UTC with microseconds in the database.

    Neither MariaDB's DATETIME nor SQLite keeps a zone; storing UTC and refusing naive values
    keeps quiet-hours arithmetic honest.
    """

    impl = DateTime
    cache_ok = True

    def load_dialect_impl(self, dialect: Any) -> Any:
        if dialect.name in ("mysql", "mariadb"):
            return dialect.type_descriptor(mysql.DATETIME(fsp=6))
        return dialect.type_descriptor(DateTime())

    def process_bind_param(self, value: datetime | None, dialect: Any) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("naive datetime given to a UTC column; pass an aware datetime")
        return value.astimezone(UTC).replace(tzinfo=None)

    def process_result_value(self, value: datetime | None, dialect: Any) -> datetime | None:
        if value is None:
            return None
        return value.replace(tzinfo=UTC)


class ChannelName(TypeDecorator[Channel]):
    """A channel's name (``domain.Channel``) in a VARCHAR: any registered channel, no enum."""

    impl = String(16)
    cache_ok = True

    def process_bind_param(self, value: str | None, dialect: Any) -> str | None:
        return None if value is None else Channel(value).value

    def process_result_value(self, value: str | None, dialect: Any) -> Channel | None:
        return None if value is None else Channel(value)


def str_enum(enum_cls: type[enum.Enum], length: int = 32) -> Enum:
    """A VARCHAR enum (values, not names): adding a member later needs no ALTER of a native ENUM."""
    return Enum(
        enum_cls,
        values_callable=lambda members: [m.value for m in members],
        native_enum=False,
        create_constraint=False,
        length=length,
        validate_strings=True,
    )
