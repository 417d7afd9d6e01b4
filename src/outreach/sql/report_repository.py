"""``comm_report_deliveries``: each report period is claimed once per organisation before it is
sent, so several schedulers (or a restart) never e-mail the same week twice."""

from __future__ import annotations

from datetime import date, datetime

from sqlalchemy import Connection, delete, update

from outreach.sql.bulk import insert_ignore
from outreach.sql.models import CommReportDelivery

deliveries = CommReportDelivery.__table__


class ReportRepository:
    def __init__(self, connection: Connection) -> None:
        self.connection = connection

    def claim(
        self,
        org_id: str,
        kind: str,
        first_day: date,
        last_day: date,
        recipients: int,
        now: datetime,
    ) -> bool:
        """True when this caller is the one to send the report of this period."""
        return (
            insert_ignore(
                self.connection,
                deliveries,
                [
                    {
                        "org_id": org_id,
                        "kind": kind,
                        "period_start": first_day,
                        "period_end": last_day,
                        "recipients": recipients,
                        "claimed_at": now,
                    }
                ],
            )
            == 1
        )

    def release(self, org_id: str, kind: str, first_day: date) -> None:
        """Give a claim back (the send failed), so the next run tries again."""
        self.connection.execute(
            delete(deliveries).where(
                deliveries.c.org_id == org_id,
                deliveries.c.kind == kind,
                deliveries.c.period_start == first_day,
                deliveries.c.sent_at.is_(None),
            )
        )

    def mark_sent(
        self, org_id: str, kind: str, first_day: date, provider_message_id: str, now: datetime
    ) -> None:
        self.connection.execute(
            update(deliveries)
            .where(
                deliveries.c.org_id == org_id,
                deliveries.c.kind == kind,
                deliveries.c.period_start == first_day,
            )
            .values(sent_at=now, provider_message_id=provider_message_id[:128])
        )
