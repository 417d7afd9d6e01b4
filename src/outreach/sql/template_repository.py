"""``comm_templates``: immutable versions of template families, one active per family.

A family is one (organisation, provider, purpose, channel, language, variant, and for campaign
templates a family name); its versions are
numbered from 1 and never edited. Activating a version deactivates its siblings in the same
transaction, so the sender never sees two active versions of one family. Rows in,
``TemplateRecord`` out (and ``StoredTemplate``, with the bookkeeping staff see).
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime
from typing import Any, cast

from sqlalchemy import Connection, Table, func, or_, select, update
from sqlalchemy.exc import IntegrityError

from outreach.domain import Channel, Purpose
from outreach.sql.bulk import insert_ignore
from outreach.sql.models import CommTemplate
from outreach.templating import TemplateRecord

templates = cast(Table, CommTemplate.__table__)

LIST_LIMIT = 500


def family_key(
    org_id: str | None,
    provider_id: str | None,
    purpose: str,
    channel: str,
    language: str,
    variant: str,
    family: str | None = None,
) -> str:
    """The NULL-safe identity of a template family; versions share it. A named family (campaign
    steps) adds its name, so it never shares versions with the purpose's standard templates."""
    parts = [org_id or "-", provider_id or "-", purpose, channel, language, variant]
    return "|".join([*parts, family] if family else parts)


def family_key_of(record: TemplateRecord) -> str:
    return family_key(
        record.org_id,
        record.provider_id,
        record.purpose.value,
        record.channel.value,
        record.language,
        record.variant,
        record.family,
    )


@dataclass(frozen=True, slots=True)
class StoredTemplate:
    """A template version as stored: the record, plus who saved it, when, and its family."""

    id: int
    record: TemplateRecord
    family_key: str
    created_by: str | None  # the credential that saved it; "seed" for shipped templates
    created_at: datetime


@dataclass(frozen=True, slots=True)
class TemplateFilter:
    """Which versions to list: each given field must match (None: any)."""

    purpose: Purpose | None = None
    channel: Channel | None = None
    language: str | None = None
    org_id: str | None = None
    provider_id: str | None = None
    active: bool | None = None
    visible_to_org: str | None = None  # only this organisation's versions and the global ones
    family_key: str | None = None  # one family's versions (its history)
    limit: int = LIST_LIMIT


class VersionNumberTaken(Exception):
    """Another save took the family's next version number first; number again."""


def _record(row: Any) -> TemplateRecord:
    return TemplateRecord(
        id=str(row.id),
        org_id=row.org_id,
        provider_id=row.provider_id,
        purpose=row.purpose,
        channel=row.channel,
        language=row.language,
        version=row.version,
        variant=row.variant,
        subject=row.subject,
        body=row.body,
        declared_variables=tuple(row.declared_variables or ()),
        whatsapp_template_name=row.whatsapp_template_name,
        is_active=bool(row.is_active),
        family=row.family,
    )


def _stored(row: Any) -> StoredTemplate:
    return StoredTemplate(
        id=int(row.id),
        record=_record(row),
        family_key=row.family_key,
        created_by=row.created_by,
        created_at=row.created_at,
    )


def _row_values(record: TemplateRecord) -> dict[str, Any]:
    return {
        "family_key": family_key_of(record),
        "org_id": record.org_id,
        "provider_id": record.provider_id,
        "purpose": record.purpose.value,
        "channel": record.channel.value,
        "language": record.language,
        "variant": record.variant,
        "subject": record.subject,
        "body": record.body,
        "declared_variables": list(record.declared_variables),
        "whatsapp_template_name": record.whatsapp_template_name,
        "family": record.family,
    }


class TemplateRepository:
    def __init__(self, connection: Connection) -> None:
        self.connection = connection

    def get(self, template_id: int) -> StoredTemplate | None:
        """One version by id, active or not."""
        row = self.connection.execute(select(templates).where(templates.c.id == template_id))
        first = row.first()
        return _stored(first) if first is not None else None

    def latest_in_family(self, record: TemplateRecord) -> int | None:
        """The id of the latest version of ``record``'s family; None when there is none."""
        return self.connection.execute(
            select(templates.c.id)
            .where(templates.c.family_key == family_key_of(record))
            .order_by(templates.c.version.desc())
            .limit(1)
        ).scalar()

    def add_version(self, draft: TemplateRecord, *, created_by: str, created_at: datetime) -> int:
        """Store ``draft`` as the next, inactive version of its family; returns the new id.

        The draft's own id, version and active flag are not stored. The version is one above the
        family's highest; a concurrent save that took that number first raises
        ``VersionNumberTaken`` (the unique family and version key).
        """
        key = family_key_of(draft)
        latest = self.connection.execute(
            select(func.max(templates.c.version)).where(templates.c.family_key == key)
        ).scalar()
        row = _row_values(draft) | {
            "version": (latest or 0) + 1,
            "is_active": False,
            "created_by": created_by,
            "created_at": created_at,
        }
        try:
            result = self.connection.execute(templates.insert().values(**row))
        except IntegrityError as error:
            raise VersionNumberTaken(key) from error
        (new_id,) = result.inserted_primary_key or (None,)
        if new_id is None:
            raise RuntimeError("the database returned no id for the new template")
        return int(new_id)

    def activate(self, template_id: int) -> bool:
        """Make ``template_id`` the active version of its family; False when it does not exist."""
        key = self.connection.execute(
            select(templates.c.family_key).where(templates.c.id == template_id).with_for_update()
        ).scalar()
        if key is None:
            return False
        self.connection.execute(
            update(templates)
            .where(
                templates.c.family_key == key,
                templates.c.id != template_id,
                templates.c.is_active.is_(True),
            )
            .values(is_active=False)
        )
        self.connection.execute(
            update(templates).where(templates.c.id == template_id).values(is_active=True)
        )
        return True

    def listed(self, wanted: TemplateFilter) -> list[StoredTemplate]:
        """Versions matching ``wanted``, by family then version, at most ``wanted.limit``."""
        query = select(templates)
        if wanted.visible_to_org is not None:
            query = query.where(
                or_(templates.c.org_id.is_(None), templates.c.org_id == wanted.visible_to_org)
            )
        for column, value in (
            ("purpose", wanted.purpose),
            ("channel", wanted.channel),
            ("language", wanted.language),
            ("org_id", wanted.org_id),
            ("provider_id", wanted.provider_id),
            ("family_key", wanted.family_key),
        ):
            if value is not None:
                query = query.where(templates.c[column] == value)
        if wanted.active is not None:
            query = query.where(templates.c.is_active.is_(wanted.active))
        query = query.order_by(templates.c.family_key, templates.c.version).limit(wanted.limit)
        return [_stored(row) for row in self.connection.execute(query)]

    def active(self) -> list[TemplateRecord]:
        """Every active version: what the sender chooses from."""
        rows = self.connection.execute(select(templates).where(templates.c.is_active.is_(True)))
        return [_record(row) for row in rows]

    def active_in_families(
        self, org_id: str, purpose: Purpose, families: Iterable[str]
    ) -> list[TemplateRecord]:
        """Active versions of these named families the organisation may use: its own and the
        global ones (a campaign's templates)."""
        names = sorted(set(families))
        if not names:
            return []
        rows = self.connection.execute(
            select(templates).where(
                templates.c.family.in_(names),
                templates.c.purpose == purpose.value,
                templates.c.is_active.is_(True),
                or_(templates.c.org_id.is_(None), templates.c.org_id == org_id),
            )
        )
        return [_record(row) for row in rows]

    def named_families(self, org_id: str) -> list[tuple[str, Purpose, Channel, str]]:
        """(family, purpose, channel, variant) of every active named-family template the
        organisation may use (its own and the global ones): what a campaign step can name."""
        rows = self.connection.execute(
            select(
                templates.c.family, templates.c.purpose, templates.c.channel, templates.c.variant
            )
            .where(
                templates.c.family.is_not(None),
                templates.c.is_active.is_(True),
                or_(templates.c.org_id.is_(None), templates.c.org_id == org_id),
            )
            .distinct()
            .order_by(templates.c.family, templates.c.purpose, templates.c.channel)
        )
        return [
            (str(family), Purpose(purpose), Channel(channel), str(variant))
            for family, purpose, channel, variant in rows
        ]

    def seed(self, records: Iterable[TemplateRecord]) -> int:
        """Store each record as the active version it names, unless its family already has that
        version; returns how many were added."""
        rows = [
            _row_values(record)
            | {"version": record.version, "is_active": True, "created_by": "seed"}
            for record in records
        ]
        return insert_ignore(self.connection, templates, rows)
