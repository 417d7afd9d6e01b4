"""What the stats rollup reads and remembers: jobs that changed, everything stored about them,
their funnel facts as last counted, and the rollup's watermark and lock.

Rows in, typed values out (``analytics.job_facts``); the arithmetic is in ``analytics``.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable, Sequence
from datetime import date, datetime
from typing import Any

from sqlalchemy import Connection, delete, func, select, update

from outreach.analytics.job_facts import (
    FunnelGroup,
    FunnelState,
    JobFacts,
    JobSnapshot,
    JobSources,
    ProviderReport,
    ReplyFact,
    VisitOutcome,
)
from outreach.domain import JobStatus
from outreach.sql.bulk import insert_ignore, upsert
from outreach.sql.models import (
    Appointment,
    CommFunnelFact,
    CommInbound,
    CommJob,
    CommRollupState,
    CommStatusEvent,
    OrgCommPrefs,
)

jobs = CommJob.__table__
status_events = CommStatusEvent.__table__
inbound = CommInbound.__table__
appointments = Appointment.__table__
facts_table = CommFunnelFact.__table__
state = CommRollupState.__table__
org_prefs = OrgCommPrefs.__table__

STATS_ROLLUP = "stats"


class RollupRepository:
    def __init__(self, connection: Connection) -> None:
        self.connection = connection

    # ---- lock and watermark ----

    def lock(self, now: datetime, name: str = STATS_ROLLUP) -> datetime | None:
        """Take the rollup's lock for this transaction (its state row, updated first) and return
        its watermark: concurrent sweeps and rebuilds run one after the other."""
        touched = self.connection.execute(
            update(state).where(state.c.name == name).values(locked_at=now)
        ).rowcount
        if not touched:
            insert_ignore(self.connection, state, [{"name": name, "through_at": None}])
            self.connection.execute(update(state).where(state.c.name == name).values(locked_at=now))
        return self.connection.execute(
            select(state.c.through_at).where(state.c.name == name)
        ).scalar_one_or_none()

    def watermark(self, name: str = STATS_ROLLUP) -> datetime | None:
        return self.connection.execute(
            select(state.c.through_at).where(state.c.name == name)
        ).scalar_one_or_none()

    def advance(self, through_at: datetime, name: str = STATS_ROLLUP) -> None:
        """Move the watermark forward to ``through_at`` (never back). Call with the lock held."""
        self.connection.execute(
            update(state)
            .where(
                state.c.name == name,
                (state.c.through_at.is_(None)) | (state.c.through_at < through_at),
            )
            .values(through_at=through_at)
        )

    # ---- what changed ----

    def earliest_change(self) -> datetime | None:
        """The oldest change stamp anywhere the rollup looks (for a first sweep)."""
        stamps = [
            self.connection.execute(select(func.min(column))).scalar()
            for column in (
                jobs.c.updated_at,
                status_events.c.received_at,
                inbound.c.handled_at,
                appointments.c.updated_at,
            )
        ]
        present = [s for s in stamps if s is not None]
        return min(present) if present else None

    def changed_job_ids(self, since: datetime, until: datetime) -> set[int]:
        """Jobs whose row, provider reports, replies or appointment were stamped in
        ``[since, until)``."""
        found: set[int] = set()
        queries = (
            select(jobs.c.id).where(jobs.c.updated_at >= since, jobs.c.updated_at < until),
            select(status_events.c.job_id).where(
                status_events.c.received_at >= since,
                status_events.c.received_at < until,
                status_events.c.job_id.is_not(None),
            ),
            select(inbound.c.job_id).where(
                inbound.c.handled_at >= since,
                inbound.c.handled_at < until,
                inbound.c.job_id.is_not(None),
            ),
            select(jobs.c.id)
            .join(appointments, appointments.c.appointment_id == jobs.c.appointment_id)
            .where(appointments.c.updated_at >= since, appointments.c.updated_at < until),
        )
        for query in queries:
            found.update(self.connection.execute(query).scalars())
        return found

    def earliest_request(self) -> datetime | None:
        """When the oldest job was asked for."""
        return self.connection.execute(select(func.min(jobs.c.requested_at))).scalar()

    def job_ids_requested_between(self, since: datetime, until: datetime) -> list[int]:
        """Jobs asked for in ``[since, until)``, in id order (what a rebuild recomputes)."""
        return list(
            self.connection.execute(
                select(jobs.c.id)
                .where(jobs.c.requested_at >= since, jobs.c.requested_at < until)
                .order_by(jobs.c.id)
            ).scalars()
        )

    # ---- everything stored about a job ----

    def sources(self, job_ids: Sequence[int]) -> list[JobSources]:
        """Each existing job's row, provider reports, replies and appointment outcome."""
        if not job_ids:
            return []
        ids = list(job_ids)
        snapshots = [
            JobSnapshot(
                job_id=row.id,
                org_id=row.org_id,
                purpose=str(row.purpose),
                channel=str(row.channel) if row.channel is not None else None,
                campaign_id=row.campaign_id,
                variant=row.variant,
                status=JobStatus(row.status),
                suppression_reason=(
                    str(row.suppression_reason) if row.suppression_reason is not None else None
                ),
                requested_at=row.requested_at,
                created_at=row.created_at,
                sent_at=row.sent_at,
                appointment_id=row.appointment_id,
            )
            for row in self.connection.execute(
                select(
                    jobs.c.id,
                    jobs.c.org_id,
                    jobs.c.purpose,
                    jobs.c.channel,
                    jobs.c.campaign_id,
                    jobs.c.variant,
                    jobs.c.status,
                    jobs.c.suppression_reason,
                    jobs.c.requested_at,
                    jobs.c.created_at,
                    jobs.c.sent_at,
                    jobs.c.appointment_id,
                ).where(jobs.c.id.in_(ids))
            )
        ]
        reports: dict[int, list[ProviderReport]] = defaultdict(list)
        for row in self.connection.execute(
            select(
                status_events.c.job_id,
                status_events.c.status,
                status_events.c.occurred_at,
                status_events.c.provider,
                status_events.c.price_micros,
                status_events.c.price_unit,
            ).where(status_events.c.job_id.in_(ids))
        ):
            reports[row.job_id].append(
                ProviderReport(
                    row.status, row.occurred_at, row.provider, row.price_micros, row.price_unit
                )
            )
        replies: dict[int, list[ReplyFact]] = defaultdict(list)
        for row in self.connection.execute(
            select(inbound.c.job_id, inbound.c.received_at, inbound.c.intent).where(
                inbound.c.job_id.in_(ids)
            )
        ):
            replies[row.job_id].append(ReplyFact(row.received_at, row.intent))
        appointment_ids = list({s.appointment_id for s in snapshots if s.appointment_id})
        visits: dict[str, VisitOutcome] = {}
        if appointment_ids:
            for row in self.connection.execute(
                select(
                    appointments.c.appointment_id,
                    appointments.c.status,
                    appointments.c.last_event_at,
                ).where(appointments.c.appointment_id.in_(appointment_ids))
            ):
                visits[row.appointment_id] = VisitOutcome(str(row.status), row.last_event_at)
        return [
            JobSources(
                job=snapshot,
                reports=reports.get(snapshot.job_id, ()),
                replies=replies.get(snapshot.job_id, ()),
                visit=visits.get(snapshot.appointment_id) if snapshot.appointment_id else None,
            )
            for snapshot in snapshots
        ]

    def org_timezones(self, org_ids: Iterable[str]) -> dict[str, str | None]:
        """Each known organisation's time zone (None: not set, so UTC)."""
        ids = list(set(org_ids))
        if not ids:
            return {}
        rows = self.connection.execute(
            select(org_prefs.c.org_id, org_prefs.c.timezone).where(org_prefs.c.org_id.in_(ids))
        )
        return {row.org_id: row.timezone for row in rows}

    # ---- the facts as last counted ----

    def stored_facts(self, job_ids: Sequence[int]) -> dict[int, JobFacts]:
        if not job_ids:
            return {}
        rows = self.connection.execute(
            select(facts_table).where(facts_table.c.job_id.in_(list(job_ids)))
        ).mappings()
        return {row["job_id"]: _facts_from_row(row) for row in rows}

    def save_facts(self, facts: Sequence[JobFacts]) -> None:
        upsert(
            self.connection,
            facts_table,
            [_facts_row(f) for f in facts],
            ["job_id"],
            keep_existing_when_null=False,
        )

    def delete_facts(self, job_ids: Sequence[int]) -> None:
        if job_ids:
            self.connection.execute(
                delete(facts_table).where(facts_table.c.job_id.in_(list(job_ids)))
            )

    def delete_facts_of_days(self, start: date, end: date) -> None:
        """Forget the facts of every job of these days (``start``..``end``, included)."""
        self.connection.execute(
            delete(facts_table).where(facts_table.c.day >= start, facts_table.c.day <= end)
        )


def _facts_row(facts: JobFacts) -> dict[str, Any]:
    group = facts.group
    return {
        "job_id": facts.job_id,
        "day": group.day,
        "org_id": group.org_id,
        "purpose": group.purpose,
        "channel": group.channel,
        "campaign_id": group.campaign_id,
        "variant": group.variant,
        "provider": group.provider,
        "state": facts.state.value,
        "suppression_reason": facts.suppression_reason,
        "planned_at": facts.planned_at,
        "sent_at": facts.sent_at,
        "delivered_at": facts.delivered_at,
        "opened_at": facts.opened_at,
        "clicked_at": facts.clicked_at,
        "replied_at": facts.replied_at,
        "confirmed_at": facts.confirmed_at,
        "reply_intents": ",".join(facts.reply_intents),
        "unsubscribed": facts.unsubscribed,
        "visit_outcome": facts.visit_outcome,
        "visit_at": facts.visit_at,
        "price_micros": facts.price_micros,
        "price_unit": facts.price_unit,
    }


def _facts_from_row(row: Any) -> JobFacts:
    return JobFacts(
        job_id=row["job_id"],
        group=FunnelGroup(
            day=row["day"],
            org_id=row["org_id"],
            purpose=row["purpose"],
            channel=row["channel"],
            campaign_id=row["campaign_id"],
            variant=row["variant"],
            provider=row["provider"],
        ),
        state=FunnelState(row["state"]),
        suppression_reason=row["suppression_reason"],
        planned_at=row["planned_at"],
        sent_at=row["sent_at"],
        delivered_at=row["delivered_at"],
        opened_at=row["opened_at"],
        clicked_at=row["clicked_at"],
        replied_at=row["replied_at"],
        confirmed_at=row["confirmed_at"],
        reply_intents=tuple(i for i in row["reply_intents"].split(",") if i),
        unsubscribed=bool(row["unsubscribed"]),
        visit_outcome=row["visit_outcome"],
        visit_at=row["visit_at"],
        price_micros=row["price_micros"],
        price_unit=row["price_unit"],
    )
