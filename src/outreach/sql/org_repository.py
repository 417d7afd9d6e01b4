"""Organisations as the send path and the replies see them: their contact facts for messages."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

from sqlalchemy import Connection, select

from outreach.domain import ClinicContact
from outreach.sql.models import OrgCommPrefs

org_prefs = OrgCommPrefs.__table__


@dataclass(frozen=True, slots=True)
class ReportRecipients:
    """Who receives an organisation's reports, and the zone its days and Mondays are in."""

    org_id: str
    name: str | None
    timezone: str | None
    analyst_emails: tuple[str, ...]


class OrgRepository:
    def __init__(self, connection: Connection) -> None:
        self.connection = connection

    def clinic_contacts(self, org_ids: Iterable[str]) -> dict[str, ClinicContact]:
        """Each known organisation's name, phone, booking link and language."""
        ids = list(set(org_ids))
        if not ids:
            return {}
        rows = self.connection.execute(
            select(
                org_prefs.c.org_id,
                org_prefs.c.name,
                org_prefs.c.clinic_phone,
                org_prefs.c.booking_url,
                org_prefs.c.language,
            ).where(org_prefs.c.org_id.in_(ids))
        )
        return {
            row.org_id: ClinicContact(
                row.org_id, row.name, row.clinic_phone, row.booking_url, row.language
            )
            for row in rows
        }

    def report_recipients(self) -> list[ReportRecipients]:
        """Every organisation with at least one analyst address."""
        rows = self.connection.execute(
            select(
                org_prefs.c.org_id,
                org_prefs.c.name,
                org_prefs.c.timezone,
                org_prefs.c.analyst_emails,
            ).where(org_prefs.c.analyst_emails.is_not(None))
        )
        return [
            ReportRecipients(row.org_id, row.name, row.timezone, tuple(row.analyst_emails))
            for row in rows
            if row.analyst_emails
        ]
