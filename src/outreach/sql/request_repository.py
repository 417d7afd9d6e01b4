"""What the schedule API reads: the job a direct request became, and what a request refers to
(a template version, a campaign). Rows in, typed values out; the rules are the API's.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import Connection, select

from outreach.domain import Channel, JobStatus, Purpose, SuppressionReason
from outreach.sql.models import CommCampaign, CommJob, CommTemplate

jobs = CommJob.__table__
templates = CommTemplate.__table__
campaigns = CommCampaign.__table__


@dataclass(frozen=True, slots=True)
class RequestedJob:
    """A planned job as its requester may see it: ids, plan and progress, no context."""

    id: int
    idempotency_key: str
    org_id: str
    patient_id: str
    purpose: Purpose
    channel: Channel | None
    status: JobStatus
    scheduled_for: datetime
    suppression_reason: SuppressionReason | None
    sent_at: datetime | None
    delivered_at: datetime | None


@dataclass(frozen=True, slots=True)
class TemplateRef:
    """Who a template version belongs to and what it is for (not its text)."""

    id: int
    org_id: str | None
    purpose: Purpose
    channel: Channel
    is_active: bool


@dataclass(frozen=True, slots=True)
class CampaignRef:
    id: int
    org_id: str


class RequestRepository:
    def __init__(self, connection: Connection) -> None:
        self.connection = connection

    def jobs_by_keys(self, idempotency_keys: Iterable[str]) -> dict[str, RequestedJob]:
        """The jobs stored under these idempotency keys (a unique-index lookup), by key."""
        keys = list(set(idempotency_keys))
        if not keys:
            return {}
        rows = self.connection.execute(
            select(
                jobs.c.id,
                jobs.c.idempotency_key,
                jobs.c.org_id,
                jobs.c.patient_id,
                jobs.c.purpose,
                jobs.c.channel,
                jobs.c.status,
                jobs.c.scheduled_for,
                jobs.c.suppression_reason,
                jobs.c.sent_at,
                jobs.c.delivered_at,
            ).where(jobs.c.idempotency_key.in_(keys))
        )
        return {
            row.idempotency_key: RequestedJob(
                id=row.id,
                idempotency_key=row.idempotency_key,
                org_id=row.org_id,
                patient_id=row.patient_id,
                purpose=Purpose(row.purpose),
                channel=Channel(row.channel) if row.channel is not None else None,
                status=JobStatus(row.status),
                scheduled_for=row.scheduled_for,
                suppression_reason=(
                    SuppressionReason(row.suppression_reason)
                    if row.suppression_reason is not None
                    else None
                ),
                sent_at=row.sent_at,
                delivered_at=row.delivered_at,
            )
            for row in rows
        }

    def template(self, template_id: int) -> TemplateRef | None:
        row = self.connection.execute(
            select(
                templates.c.id,
                templates.c.org_id,
                templates.c.purpose,
                templates.c.channel,
                templates.c.is_active,
            ).where(templates.c.id == template_id)
        ).first()
        if row is None:
            return None
        return TemplateRef(
            row.id, row.org_id, Purpose(row.purpose), Channel(row.channel), bool(row.is_active)
        )

    def campaign(self, campaign_id: int) -> CampaignRef | None:
        row = self.connection.execute(
            select(campaigns.c.id, campaigns.c.org_id).where(campaigns.c.id == campaign_id)
        ).first()
        return CampaignRef(row.id, row.org_id) if row is not None else None
