"""ml_models: trained models, versioned per name, with their metrics; one active per name."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from sqlalchemy import Connection, func, insert, select, update

from outreach.sql.models import MlModel

models = MlModel.__table__


@dataclass(frozen=True, slots=True)
class StoredModel:
    name: str
    version: int
    trained_at: datetime
    metrics: Mapping[str, Any]
    is_active: bool
    artifact: bytes = field(repr=False)


class ModelRepository:
    def __init__(self, connection: Connection) -> None:
        self.connection = connection

    def active(self, name: str) -> StoredModel | None:
        """The model of that name in use, if any."""
        row = self.connection.execute(
            select(models).where(models.c.name == name, models.c.is_active.is_(True))
        ).first()
        return _stored(row) if row is not None else None

    def latest_version(self, name: str) -> int:
        """The highest version stored under ``name`` (0 for none)."""
        value = self.connection.execute(
            select(func.max(models.c.version)).where(models.c.name == name)
        ).scalar()
        return int(value or 0)

    def add(
        self,
        name: str,
        version: int,
        trained_at: datetime,
        metrics: Mapping[str, Any],
        artifact: bytes,
    ) -> None:
        """Store a trained model, not in use yet."""
        self.connection.execute(
            insert(models).values(
                name=name,
                version=version,
                trained_at=trained_at,
                metrics=dict(metrics),
                artifact=artifact,
                is_active=False,
            )
        )

    def activate(self, name: str, version: int) -> None:
        """Put ``version`` in use and retire whichever was."""
        self.connection.execute(
            update(models)
            .where(models.c.name == name, models.c.version != version)
            .values(is_active=False)
        )
        self.connection.execute(
            update(models)
            .where(models.c.name == name, models.c.version == version)
            .values(is_active=True)
        )


def _stored(row: Any) -> StoredModel:
    return StoredModel(
        name=row.name,
        version=row.version,
        trained_at=row.trained_at,
        metrics=row.metrics,
        is_active=bool(row.is_active),
        artifact=row.artifact,
    )
