"""What an A/B verdict with a hold-out reads: per campaign arm (a variant, or the hold-out), the
patients enrolled in a period and how many booked a visit after they were enrolled."""

from __future__ import annotations

from datetime import UTC, datetime, time, timedelta

from sqlalchemy import Connection, case, exists, func, select

from outreach.analytics.funnel_report import EnrolmentOutcome
from outreach.analytics.rollup_rows import ReportScope
from outreach.domain import AppointmentStatus
from outreach.sql.models import Appointment, CampaignEnrollment, CommCampaign

enrolments = CampaignEnrollment.__table__
campaigns = CommCampaign.__table__
appointments = Appointment.__table__

# A visit booked (or moved) after the enrolment, whether still ahead or since attended.
_VISIT_STATUSES = (AppointmentStatus.BOOKED.value, AppointmentStatus.ATTENDED.value)


class ExperimentRepository:
    def __init__(self, connection: Connection) -> None:
        self.connection = connection

    def enrolment_outcomes(self, scope: ReportScope) -> list[EnrolmentOutcome]:
        """Per campaign and arm, patients enrolled in the scope's days (UTC) and how many of
        them booked a visit since (the campaigns' own "booked" exit condition)."""
        since = datetime.combine(scope.start, time.min, UTC)
        until = datetime.combine(scope.end + timedelta(days=1), time.min, UTC)
        booked = exists(
            select(1).where(
                appointments.c.patient_id == enrolments.c.patient_id,
                appointments.c.status.in_(_VISIT_STATUSES),
                appointments.c.last_event_at >= enrolments.c.enrolled_at,
            )
        )
        if scope.channel is not None:
            raise ValueError("enrolments are not kept per channel (a hold-out gets none)")
        conditions = [enrolments.c.enrolled_at >= since, enrolments.c.enrolled_at < until]
        if scope.org_id is not None:
            conditions.append(campaigns.c.org_id == scope.org_id)
        if scope.campaign_id is not None:
            conditions.append(enrolments.c.campaign_id == scope.campaign_id)
        if scope.purpose is not None:
            conditions.append(campaigns.c.purpose == scope.purpose)
        rows = self.connection.execute(
            select(
                enrolments.c.campaign_id,
                enrolments.c.variant,
                func.count().label("enrolled"),
                func.sum(case((booked, 1), else_=0)).label("converted"),
            )
            .select_from(enrolments.join(campaigns, campaigns.c.id == enrolments.c.campaign_id))
            .where(*conditions)
            .group_by(enrolments.c.campaign_id, enrolments.c.variant)
        )
        return [
            EnrolmentOutcome(
                int(row.campaign_id), row.variant, int(row.enrolled), int(row.converted or 0)
            )
            for row in rows
        ]
