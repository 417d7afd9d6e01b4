"""Templates as the sender needs them: seeding the shipped set and loading active versions."""

from __future__ import annotations

from collections.abc import Iterable

from sqlalchemy import Connection, func, select

from outreach.sql.bulk import insert_ignore
from outreach.sql.models import CommTemplate
from outreach.templating import TemplateRecord, load_seed_templates

templates = CommTemplate.__table__


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


def seed_templates(connection: Connection, records: Iterable[TemplateRecord] | None = None) -> int:
    """Insert the shipped templates as active version 1 of each family, once."""
    rows = []
    for record in records if records is not None else load_seed_templates():
        rows.append(
            {
                "family_key": family_key(
                    record.org_id,
                    record.provider_id,
                    record.purpose.value,
                    record.channel.value,
                    record.language,
                    record.variant,
                    record.family,
                ),
                "org_id": record.org_id,
                "provider_id": record.provider_id,
                "purpose": record.purpose.value,
                "channel": record.channel.value,
                "language": record.language,
                "variant": record.variant,
                "version": record.version,
                "subject": record.subject,
                "body": record.body,
                "declared_variables": list(record.declared_variables),
                "whatsapp_template_name": record.whatsapp_template_name,
                "family": record.family,
                "is_active": True,
                "created_by": "seed",
                "created_at": func.now(),
            }
        )
    for row in rows:
        row.pop("created_at")
    return insert_ignore(connection, templates, rows)


def record_from_row(row: object) -> TemplateRecord:
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
        is_active=row.is_active,
        family=row.family,
    )


def load_active_templates(connection: Connection) -> list[TemplateRecord]:
    rows = connection.execute(select(templates).where(templates.c.is_active.is_(True)))
    return [record_from_row(row) for row in rows]


def load_template_version(connection: Connection, template_id: int) -> TemplateRecord | None:
    """One template version by id, active or not (a request may pin a version)."""
    row = connection.execute(select(templates).where(templates.c.id == template_id)).first()
    return record_from_row(row) if row is not None else None
