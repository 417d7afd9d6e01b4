"""``comm_templates`` as staff manage them: immutable versions of a family, one active at a time.

A family is one (organisation, provider, purpose, channel, language, variant, and for campaign
templates a family name); its versions are
numbered from 1 and never edited. Activating a version deactivates its siblings in the same
transaction, so the sender never sees two active versions of one family.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime
from typing import Any, cast

from sqlalchemy import Connection, Table, func, or_, select, update

from outreach.sql.models import CommTemplate
from outreach.sql.template_store import family_key

templates = cast(Table, CommTemplate.__table__)

LIST_LIMIT = 500


def family_key_of(values: Mapping[str, Any]) -> str:
    return family_key(
        values.get("org_id"),
        values.get("provider_id"),
        str(values["purpose"]),
        str(values["channel"]),
        values["language"],
        values.get("variant") or "A",
        values.get("family"),
    )


def get_template(connection: Connection, template_id: int) -> dict[str, Any] | None:
    row = connection.execute(select(templates).where(templates.c.id == template_id)).mappings()
    first = row.first()
    return dict(first) if first is not None else None


def family_exists(connection: Connection, key: str) -> int | None:
    """The id of the family's latest version, or None when the family is new."""
    return connection.execute(
        select(templates.c.id)
        .where(templates.c.family_key == key)
        .order_by(templates.c.version.desc())
        .limit(1)
    ).scalar()


def insert_template_version(
    connection: Connection, values: Mapping[str, Any], *, created_by: str, now: datetime
) -> int:
    """Insert the next version of the family ``values`` belong to; returns the new id.

    The version number is one above the family's highest; two concurrent saves of one family
    collide on the unique (family_key, version) key and the caller retries or refuses.
    """
    key = family_key_of(values)
    latest = connection.execute(
        select(func.max(templates.c.version)).where(templates.c.family_key == key)
    ).scalar()
    row = {
        "family_key": key,
        "org_id": values.get("org_id"),
        "provider_id": values.get("provider_id"),
        "purpose": str(values["purpose"]),
        "channel": str(values["channel"]),
        "language": values["language"],
        "variant": values.get("variant") or "A",
        "version": (latest or 0) + 1,
        "subject": values.get("subject"),
        "body": values["body"],
        "declared_variables": list(values.get("declared_variables") or []),
        "whatsapp_template_name": values.get("whatsapp_template_name"),
        "family": values.get("family"),
        "is_active": False,
        "created_by": created_by,
        "created_at": now,
    }
    result = connection.execute(templates.insert().values(**row))
    (new_id,) = result.inserted_primary_key or (None,)
    if new_id is None:
        raise RuntimeError("the database returned no id for the new template")
    return int(new_id)


def activate_template(connection: Connection, template_id: int) -> bool:
    """Make ``template_id`` the active version of its family; False when it does not exist."""
    key = connection.execute(
        select(templates.c.family_key).where(templates.c.id == template_id).with_for_update()
    ).scalar()
    if key is None:
        return False
    connection.execute(
        update(templates)
        .where(
            templates.c.family_key == key,
            templates.c.id != template_id,
            templates.c.is_active.is_(True),
        )
        .values(is_active=False)
    )
    connection.execute(
        update(templates).where(templates.c.id == template_id).values(is_active=True)
    )
    return True


def list_templates(
    connection: Connection,
    *,
    purpose: str | None = None,
    channel: str | None = None,
    language: str | None = None,
    org_id: str | None = None,
    provider_id: str | None = None,
    active: bool | None = None,
    visible_to_org: str | None = None,
    limit: int = LIST_LIMIT,
) -> list[dict[str, Any]]:
    """Template versions matching every given filter, by family then version; with
    ``visible_to_org``, only that organisation's and the global ones."""
    query = select(templates)
    if visible_to_org is not None:
        query = query.where(or_(templates.c.org_id.is_(None), templates.c.org_id == visible_to_org))
    for column, value in (
        ("purpose", purpose),
        ("channel", channel),
        ("language", language),
        ("org_id", org_id),
        ("provider_id", provider_id),
    ):
        if value is not None:
            query = query.where(templates.c[column] == value)
    if active is not None:
        query = query.where(templates.c.is_active.is_(active))
    query = query.order_by(templates.c.family_key, templates.c.version).limit(limit)
    return [dict(row) for row in connection.execute(query).mappings()]
