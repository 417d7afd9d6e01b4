"""What the stats rollup reads and remembers: jobs that changed, everything stored about them,
their funnel facts as last counted, and the rollup's watermark and lock.

Rows in, typed values out (``analytics.job_facts``); the arithmetic is in ``analytics``.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from datetime import date, datetime
from typing import Any

from sqlalchemy import (
    Connection,
    String,
    case,
    delete,
    func,
    literal_column,
    select,
    type_coerce,
    update,
)

from outreach.analytics.job_facts import (
    CONFIRM_INTENT,
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
from outreach.sql.types import UtcDateTime

jobs = CommJob.__table__
status_events = CommStatusEvent.__table__
inbound = CommInbound.__table__
appointments = Appointment.__table__
facts_table = CommFunnelFact.__table__
state = CommRollupState.__table__
org_prefs = OrgCommPrefs.__table__

STATS_ROLLUP = "stats"
# The normalised statuses providers report (channels.base.NORMALISED_STATUSES), and an
# unsubscribe should a provider report one.
_REPORTED_STATUSES = ("sent", "delivered", "opened", "clicked", "failed", "bounced", "unsubscribed")


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

    def sources(self, job_ids: Sequence[int]) -> tuple[list[JobSources], int]:
        """Each existing job's row, provider reports, replies and appointment outcome, in one
        statement returning one row per job; and how many provider reports there were.

        The database sums up each job's reports and replies first (the earliest time of each
        status, the price, the intents): what the funnel reads of them is exactly that, and a
        job then comes back as one row however many reports it had.
        """
        if not job_ids:
            return [], 0
        ids = _id_list(job_ids)
        first = {
            status: type_coerce(
                func.min(case((status_events.c.status == status, status_events.c.occurred_at))),
                UtcDateTime(),
            ).label(f"first_{status}")
            for status in _REPORTED_STATUSES
        }
        reports = (
            select(
                status_events.c.job_id,
                *first.values(),
                func.max(status_events.c.price_micros).label("price_micros"),
                func.max(status_events.c.price_unit).label("price_unit"),
                func.min(status_events.c.provider).label("provider"),
                func.count().label("reports"),
            )
            .where(status_events.c.job_id.op("IN")(ids))
            .group_by(status_events.c.job_id)
            .subquery("reports")
        )
        replies = (
            select(
                inbound.c.job_id,
                type_coerce(func.min(inbound.c.received_at), UtcDateTime()).label("replied_at"),
                type_coerce(
                    func.min(case((inbound.c.intent == CONFIRM_INTENT, inbound.c.received_at))),
                    UtcDateTime(),
                ).label("confirmed_at"),
                func.group_concat(inbound.c.intent.distinct()).label("intents"),
            )
            .where(inbound.c.job_id.op("IN")(ids))
            .group_by(inbound.c.job_id)
            .subquery("replies")
        )
        query = (
            select(
                jobs.c.id,
                jobs.c.org_id,
                # The stored text as is: no enum objects built only to be turned back.
                type_coerce(jobs.c.purpose, String).label("purpose"),
                type_coerce(jobs.c.channel, String).label("channel"),
                jobs.c.campaign_id,
                jobs.c.variant,
                type_coerce(jobs.c.status, String).label("status"),
                type_coerce(jobs.c.suppression_reason, String).label("suppression_reason"),
                jobs.c.requested_at,
                jobs.c.created_at,
                jobs.c.sent_at,
                jobs.c.appointment_id,
                *(reports.c[f"first_{status}"] for status in _REPORTED_STATUSES),
                reports.c.price_micros,
                reports.c.price_unit,
                reports.c.provider,
                reports.c.reports,
                replies.c.replied_at,
                replies.c.confirmed_at,
                replies.c.intents,
                type_coerce(appointments.c.status, String).label("visit_status"),
                appointments.c.last_event_at.label("visit_at"),
            )
            .select_from(
                jobs.outerjoin(reports, reports.c.job_id == jobs.c.id)
                .outerjoin(replies, replies.c.job_id == jobs.c.id)
                .outerjoin(appointments, appointments.c.appointment_id == jobs.c.appointment_id)
            )
            .where(jobs.c.id.op("IN")(ids))
        )
        found = []
        report_count = 0
        statuses = len(_REPORTED_STATUSES)
        for row in self.connection.execute(query):
            # Positional: this runs for every job of a sweep.
            (
                job_id,
                org_id,
                purpose,
                channel,
                campaign_id,
                variant,
                status,
                suppression_reason,
                requested_at,
                created_at,
                sent_at,
                appointment_id,
            ) = row[:12]
            firsts = row[12 : 12 + statuses]
            (
                price_micros,
                price_unit,
                provider,
                reports_of_job,
                replied_at,
                confirmed_at,
                intents,
                visit_status,
                visit_at,
            ) = row[12 + statuses :]
            report_count += reports_of_job or 0
            found.append(
                JobSources(
                    job=JobSnapshot(
                        job_id=job_id,
                        org_id=org_id,
                        purpose=purpose,
                        channel=channel,
                        campaign_id=campaign_id,
                        variant=variant,
                        status=JobStatus(status),
                        suppression_reason=suppression_reason,
                        requested_at=requested_at,
                        created_at=created_at,
                        sent_at=sent_at,
                        appointment_id=appointment_id,
                    ),
                    reports=[
                        ProviderReport(name, at, provider, price_micros, price_unit)
                        for name, at in zip(_REPORTED_STATUSES, firsts, strict=True)
                        if at is not None
                    ],
                    replies=_replies(replied_at, confirmed_at, intents),
                    visit=VisitOutcome(visit_status, visit_at) if visit_status else None,
                )
            )
        return found, report_count

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


def _id_list(job_ids: Sequence[int]) -> Any:
    """``(1,2,3)``: job ids written into the statement as numbers. Thousands of them, three times
    over, would otherwise each be a bound parameter to name and send."""
    return literal_column("(" + ",".join(str(int(job_id)) for job_id in job_ids) + ")")


def _replies(
    replied_at: datetime | None, confirmed_at: datetime | None, intents: str | None
) -> list[ReplyFact]:
    """A job's replies as the funnel reads them: the first, the first confirmation, and one per
    other intent (at the first reply's time, which is all the funnel reads of them)."""
    if replied_at is None:
        return []
    replies = [ReplyFact(replied_at, None)]
    if confirmed_at is not None:
        replies.append(ReplyFact(confirmed_at, CONFIRM_INTENT))
    others = {i for i in (intents or "").split(",") if i and i != CONFIRM_INTENT}
    replies.extend(ReplyFact(replied_at, intent) for intent in sorted(others))
    return replies


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
