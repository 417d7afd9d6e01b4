"""``comm_campaigns`` and ``campaign_enrollments``: campaigns, set-based enrolment, the facts
their exit and wait-until conditions read, step progress and the counts progress reports show.

Enrolment is one ``INSERT ... SELECT`` per chunk of patient ids, straight from the segment's
query (``sql/segment_query.compile_segment``): the variant and hold-out are computed in the
statement from the bucket bounds of ``campaigns.assignment`` (SHA2 and CONV on MariaDB, a
registered function on SQLite), and the unique (campaign, patient) key makes a rerun add nothing.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any, cast

from sqlalchemy import (
    ColumnElement,
    Connection,
    Integer,
    Select,
    Table,
    case,
    exists,
    func,
    insert,
    literal,
    null,
    select,
    update,
)
from sqlalchemy import (
    cast as sql_cast,
)

from outreach.campaigns import (
    AssignmentThresholds,
    CampaignDefinition,
    CampaignState,
    Condition,
    Enrolment,
    EnrolmentState,
    StatusCount,
    holdout_salt,
    variant_salt,
)
from outreach.campaigns.assignment import HASH_HEX_DIGITS
from outreach.domain import AppointmentStatus, JobStatus
from outreach.segments import Catalogue, RuleLimits
from outreach.sql.engine import ASSIGNMENT_BUCKET_FUNCTION
from outreach.sql.json_rows import JsonRows
from outreach.sql.models import (
    Appointment,
    CampaignEnrollment,
    CommCampaign,
    CommInbound,
    CommJob,
    CommStatusEvent,
    Patient,
    PatientSegment,
)
from outreach.sql.segment_query import compile_segment, count_statement
from outreach.sql.types import UtcDateTime

appointments = cast(Table, Appointment.__table__)
campaigns = cast(Table, CommCampaign.__table__)
enrolments = cast(Table, CampaignEnrollment.__table__)
jobs = cast(Table, CommJob.__table__)
patients = cast(Table, Patient.__table__)
segments = cast(Table, PatientSegment.__table__)
inbound = cast(Table, CommInbound.__table__)
status_events = cast(Table, CommStatusEvent.__table__)

_ACTIVE = EnrolmentState.ACTIVE.value
_HELD_OUT = EnrolmentState.HELD_OUT.value
# What step planning reads of a due enrolment, one JSON array a row (a million of them).
_DUE_ROWS = JsonRows(
    (
        enrolments.c.id,
        enrolments.c.patient_id,
        enrolments.c.enrolled_at,
        enrolments.c.variant,
        patients.c.org_id,
        patients.c.provider_id,
    )
)


@dataclass(frozen=True, slots=True)
class CampaignRecord:
    """A stored campaign: its definition, where it is in its life, and when it last enrolled."""

    id: int
    state: CampaignState
    definition: CampaignDefinition
    enrolled_through: datetime | None
    created_by: str | None
    created_at: datetime


@dataclass(frozen=True, slots=True)
class DueEnrolment:
    """An enrolment whose next step is due, with what planning its job needs."""

    enrolment_id: int
    enrolment: Enrolment


def _definition_row(definition: CampaignDefinition) -> dict[str, Any]:
    return {
        "org_id": definition.org_id,
        "name": definition.name,
        "description": definition.description,
        "segment_id": definition.segment_id,
        "purpose": definition.purpose.value,
        "steps": definition.steps_json(),
        "exit_on": sorted(c.value for c in definition.exit_on),
        "variants": dict(definition.variants),
        "holdout_percent": definition.holdout_percent,
        "recurring": definition.recurring,
        "starts_at": definition.starts_at,
        "ends_at": definition.ends_at,
    }


def _record(row: Any) -> CampaignRecord:
    definition = CampaignDefinition.parse(
        {
            "org_id": row.org_id,
            "name": row.name,
            "description": row.description,
            "segment_id": row.segment_id,
            "purpose": row.purpose,
            "steps": row.steps,
            "exit_on": row.exit_on,
            "variants": row.variants,
            "holdout_percent": row.holdout_percent,
            "recurring": row.recurring,
            "starts_at": row.starts_at,
            "ends_at": row.ends_at,
        }
    )
    return CampaignRecord(
        id=row.id,
        state=CampaignState(row.status),
        definition=definition,
        enrolled_through=row.enrolled_through,
        created_by=row.created_by,
        created_at=row.created_at,
    )


def condition_holds(condition: Condition) -> ColumnElement[bool]:
    """Whether ``condition`` holds for the enrolment row being filtered."""
    e = enrolments.c
    if condition is Condition.CLICKED:
        return exists(
            select(1)
            .select_from(jobs.join(status_events, status_events.c.job_id == jobs.c.id))
            .where(
                jobs.c.patient_id == e.patient_id,
                jobs.c.campaign_id == e.campaign_id,
                status_events.c.status == JobStatus.CLICKED.value,
            )
        )
    if condition in (Condition.CONFIRMED, Condition.REPLIED_STOP):
        intent = "confirm" if condition is Condition.CONFIRMED else "stop"
        return exists(
            select(1).where(
                inbound.c.patient_id == e.patient_id,
                inbound.c.intent == intent,
                inbound.c.received_at >= e.enrolled_at,
            )
        )
    if condition is Condition.BOOKED:
        # Booked (or moved) since the enrolment, and still on.
        return exists(
            select(1).where(
                appointments.c.patient_id == e.patient_id,
                appointments.c.status == AppointmentStatus.BOOKED.value,
                appointments.c.last_event_at >= e.enrolled_at,
            )
        )
    raise ValueError(f"no query for condition {condition}")


def due_conditions(
    campaign_id: int, step_index: int, enrolled_by: datetime, after_id: int
) -> list[ColumnElement[bool]]:
    """Active enrolments at ``step_index`` enrolled by ``enrolled_by``, after ``after_id``."""
    return [
        enrolments.c.campaign_id == campaign_id,
        enrolments.c.state == _ACTIVE,
        enrolments.c.next_step == step_index,
        enrolments.c.enrolled_at <= enrolled_by,
        enrolments.c.id > after_id,
    ]


class CampaignRepository:
    def __init__(self, connection: Connection) -> None:
        self.connection = connection

    # ---- campaigns ----

    def create(self, definition: CampaignDefinition, *, created_by: str, now: datetime) -> int:
        result = self.connection.execute(
            insert(campaigns).values(
                **_definition_row(definition),
                status=CampaignState.DRAFT.value,
                created_by=created_by,
                created_at=now,
            )
        )
        (campaign_id,) = result.inserted_primary_key or (None,)
        if campaign_id is None:
            raise RuntimeError("the database returned no id for the new campaign")
        return int(campaign_id)

    def get(self, campaign_id: int) -> CampaignRecord | None:
        row = self.connection.execute(
            select(campaigns).where(campaigns.c.id == campaign_id)
        ).first()
        return _record(row) if row is not None else None

    def states_of(self, campaign_ids: Iterable[int]) -> dict[int, CampaignState]:
        """The state of each campaign named (for the channel worker's check before a send)."""
        wanted = sorted(set(campaign_ids))
        if not wanted:
            return {}
        rows = self.connection.execute(
            select(campaigns.c.id, campaigns.c.status).where(campaigns.c.id.in_(wanted))
        )
        return {row.id: CampaignState(row.status) for row in rows}

    def in_states(self, states: Iterable[CampaignState]) -> list[CampaignRecord]:
        rows = self.connection.execute(
            select(campaigns)
            .where(campaigns.c.status.in_([CampaignState(s).value for s in states]))
            .order_by(campaigns.c.id)
        )
        return [_record(row) for row in rows]

    def move(
        self, campaign_id: int, from_state: CampaignState, to_state: CampaignState, now: datetime
    ) -> bool:
        """``from_state`` -> ``to_state`` if the campaign is still in ``from_state``."""
        result = self.connection.execute(
            update(campaigns)
            .where(campaigns.c.id == campaign_id, campaigns.c.status == from_state.value)
            .values(status=to_state.value)
        )
        return result.rowcount == 1

    def mark_enrolled(self, campaign_id: int, through: datetime) -> None:
        self.connection.execute(
            update(campaigns).where(campaigns.c.id == campaign_id).values(enrolled_through=through)
        )

    # ---- segments ----

    def segment_org(self, segment_id: int) -> str | None:
        """The organisation a segment belongs to (None: no such segment)."""
        return self.connection.execute(
            select(segments.c.org_id).where(segments.c.id == segment_id)
        ).scalar()

    def segment_members(
        self,
        segment_id: int,
        org_id: str,
        catalogue: Catalogue,
        limits: RuleLimits,
        now: datetime,
    ) -> Select[Any]:
        """The query of the patient ids the stored segment selects at ``now`` (its rule may
        reach the organisation's other segments through ``in_segment``)."""
        saved = {
            row.id: row.definition
            for row in self.connection.execute(
                select(segments.c.id, segments.c.definition).where(segments.c.org_id == org_id)
            )
        }
        if segment_id not in saved:
            raise LookupError(f"segment {segment_id} is not one of organisation {org_id}'s")
        return compile_segment(
            saved[segment_id], catalogue, org_id, now=now, segments=saved, limits=limits
        )

    def segment_size(
        self,
        segment_id: int,
        org_id: str,
        catalogue: Catalogue,
        limits: RuleLimits,
        now: datetime,
    ) -> int:
        """How many patients the segment selects at ``now``."""
        members = self.segment_members(segment_id, org_id, catalogue, limits, now)
        return int(self.connection.execute(count_statement(members)).scalar_one())

    # ---- enrolment ----

    def _bucket(self, salt: str, patient_id: ColumnElement[Any], buckets: int) -> Any:
        if self.connection.dialect.name == "sqlite":
            return getattr(func, ASSIGNMENT_BUCKET_FUNCTION)(salt, patient_id, buckets)
        digest = func.sha2(func.concat(salt, patient_id), 256)
        number = sql_cast(func.conv(func.left(digest, HASH_HEX_DIGITS), 16, 10), Integer)
        return func.mod(number, buckets)

    def enrol_range(
        self,
        campaign_id: int,
        org_id: str,
        members: Select[Any],
        thresholds: AssignmentThresholds,
        now: datetime,
        *,
        after: str | None,
        through: str | None,
    ) -> int:
        """Enrol the patients ``members`` selects with ids in (``after``, ``through``] (None:
        unbounded): one ``INSERT ... SELECT``; returns how many were new."""
        patient_id = patients.c.id
        variant_bucket = self._bucket(
            variant_salt(campaign_id), patient_id, thresholds.variant_buckets
        )
        variant = case(
            *[(variant_bucket < upper, literal(name)) for upper, name in thresholds.variant_bounds]
        )
        held_out = (
            self._bucket(holdout_salt(campaign_id), patient_id, thresholds.holdout_buckets)
            < thresholds.holdout_below
            if thresholds.holdout_below > 0
            else literal(False)
        )
        enrolled_at = literal(now, UtcDateTime())
        rows = members.with_only_columns(
            literal(campaign_id),
            patient_id,
            case((held_out, null()), else_=variant),
            case((held_out, literal(_HELD_OUT)), else_=literal(_ACTIVE)),
            literal(0),
            enrolled_at,
            case((held_out, enrolled_at), else_=null()),
            maintain_column_froms=True,
        ).where(patients.c.org_id == org_id)
        if after is not None:
            rows = rows.where(patient_id > after)
        if through is not None:
            rows = rows.where(patient_id <= through)
        statement = (
            insert(enrolments)
            .from_select(
                [
                    "campaign_id",
                    "patient_id",
                    "variant",
                    "state",
                    "next_step",
                    "enrolled_at",
                    "finished_at",
                ],
                rows,
            )
            .prefix_with("IGNORE", dialect="mysql")
            .prefix_with("IGNORE", dialect="mariadb")
            .prefix_with("OR IGNORE", dialect="sqlite")
        )
        return max(self.connection.execute(statement).rowcount, 0)

    def enrol_chunk_end(self, org_id: str, after: str | None, size: int) -> str | None:
        """The last patient id of the next chunk of ``size`` of the organisation's ids after
        ``after``; None when the rest fits in one chunk."""
        query = select(patients.c.id).where(patients.c.org_id == org_id)
        if after is not None:
            query = query.where(patients.c.id > after)
        return self.connection.execute(
            query.order_by(patients.c.id).offset(size - 1).limit(1)
        ).scalar()

    def exit_where(self, campaign_id: int, condition: Condition, now: datetime) -> int:
        """Active enrolments for which ``condition`` holds end ``exited`` with it as reason."""
        result = self.connection.execute(
            update(enrolments)
            .where(
                enrolments.c.campaign_id == campaign_id,
                enrolments.c.state == _ACTIVE,
                condition_holds(condition),
            )
            .values(state=EnrolmentState.EXITED.value, exit_reason=condition.value, finished_at=now)
        )
        return result.rowcount

    def exit_patient(self, campaign_id: int, patient_id: str, reason: str, now: datetime) -> bool:
        """End one patient's active enrolment (an unsubscribe from this campaign's e-mail)."""
        result = self.connection.execute(
            update(enrolments)
            .where(
                enrolments.c.campaign_id == campaign_id,
                enrolments.c.patient_id == patient_id,
                enrolments.c.state == _ACTIVE,
            )
            .values(state=EnrolmentState.EXITED.value, exit_reason=reason, finished_at=now)
        )
        return result.rowcount == 1

    def cancel_queued_of_exited(self, campaign_id: int, now: datetime) -> int:
        """Queued jobs of enrolments that ended early are cancelled."""
        exited = select(enrolments.c.patient_id).where(
            enrolments.c.campaign_id == campaign_id,
            enrolments.c.state == EnrolmentState.EXITED.value,
        )
        result = self.connection.execute(
            update(jobs)
            .where(
                jobs.c.campaign_id == campaign_id,
                jobs.c.status == JobStatus.QUEUED.value,
                jobs.c.patient_id.in_(exited),
            )
            .values(status=JobStatus.CANCELLED.value, updated_at=now)
        )
        return result.rowcount

    def cancel_queued(self, campaign_id: int, now: datetime) -> int:
        """Every queued job of the campaign is cancelled (it ended)."""
        result = self.connection.execute(
            update(jobs)
            .where(jobs.c.campaign_id == campaign_id, jobs.c.status == JobStatus.QUEUED.value)
            .values(status=JobStatus.CANCELLED.value, updated_at=now)
        )
        return result.rowcount

    # ---- steps ----

    def due_for_step(
        self,
        campaign_id: int,
        step_index: int,
        enrolled_by: datetime,
        *,
        waiting_for: Condition | None = None,
        after_id: int = 0,
        through_id: int | None = None,
        limit: int = 5_000,
    ) -> list[DueEnrolment]:
        """Active enrolments at ``step_index`` enrolled at or before ``enrolled_by`` (and for
        which ``waiting_for`` holds, if given), by enrolment id after ``after_id`` (and up to
        ``through_id``, if given)."""
        query = (
            _DUE_ROWS.select()
            .select_from(enrolments.join(patients, patients.c.id == enrolments.c.patient_id))
            .where(*due_conditions(campaign_id, step_index, enrolled_by, after_id))
            .order_by(enrolments.c.id)
            .limit(limit)
        )
        if through_id is not None:
            query = query.where(enrolments.c.id <= through_id)
        if waiting_for is not None:
            query = query.where(condition_holds(waiting_for))
        return [
            DueEnrolment(
                enrolment_id,
                Enrolment(campaign_id, patient_id, org_id, provider_id, enrolled_at, variant),
            )
            for enrolment_id, patient_id, enrolled_at, variant, org_id, provider_id in (
                _DUE_ROWS.read(self.connection, query)
            )
        ]

    def due_chunk_end(
        self,
        campaign_id: int,
        step_index: int,
        enrolled_by: datetime,
        *,
        after_id: int,
        size: int,
    ) -> int | None:
        """The id of the ``size``-th enrolment after ``after_id`` that ``due_for_step`` may
        return (a waiting step's condition aside); None when fewer are left. Ids up to it make
        one chunk of step planning."""
        return self.connection.execute(
            select(enrolments.c.id)
            .where(*due_conditions(campaign_id, step_index, enrolled_by, after_id))
            .order_by(enrolments.c.id)
            .offset(size - 1)
            .limit(1)
        ).scalar()

    def skip_timed_out(
        self,
        campaign_id: int,
        step_index: int,
        waiting_for: Condition,
        timed_out_by: datetime,
        step_count: int,
        now: datetime,
    ) -> int:
        """Enrolments that waited long enough at ``step_index`` without ``waiting_for`` skip it."""
        done = step_index + 1 >= step_count
        values: dict[str, Any] = {"next_step": step_index + 1}
        if done:
            values.update(state=EnrolmentState.COMPLETED.value, finished_at=now)
        result = self.connection.execute(
            update(enrolments)
            .where(
                enrolments.c.campaign_id == campaign_id,
                enrolments.c.state == _ACTIVE,
                enrolments.c.next_step == step_index,
                enrolments.c.enrolled_at <= timed_out_by,
                ~condition_holds(waiting_for),
            )
            .values(**values)
        )
        return result.rowcount

    def advance(
        self, enrolment_ids: Sequence[int], step_index: int, step_count: int, now: datetime
    ) -> int:
        """Enrolments whose step ``step_index`` was planned move on (completed after the last)."""
        if not enrolment_ids:
            return 0
        values: dict[str, Any] = {"next_step": step_index + 1}
        if step_index + 1 >= step_count:
            values.update(state=EnrolmentState.COMPLETED.value, finished_at=now)
        result = self.connection.execute(
            update(enrolments)
            .where(
                enrolments.c.id.in_(list(enrolment_ids)),
                enrolments.c.state == _ACTIVE,
                enrolments.c.next_step == step_index,
            )
            .values(**values)
        )
        return result.rowcount

    def unfinished(self, campaign_id: int) -> tuple[int, int]:
        """(active enrolments, queued or processing jobs) of the campaign."""
        active = self.connection.execute(
            select(func.count()).where(
                enrolments.c.campaign_id == campaign_id, enrolments.c.state == _ACTIVE
            )
        ).scalar_one()
        pending = self.connection.execute(
            select(func.count()).where(
                jobs.c.campaign_id == campaign_id,
                jobs.c.status.in_([JobStatus.QUEUED.value, JobStatus.PROCESSING.value]),
            )
        ).scalar_one()
        return int(active), int(pending)

    # ---- progress ----

    def enrolment_counts(
        self, campaign_id: int
    ) -> list[tuple[EnrolmentState, str | None, str | None, int]]:
        """(state, variant, exit reason, patients) of the campaign's enrolments."""
        rows = self.connection.execute(
            select(
                enrolments.c.state,
                enrolments.c.variant,
                enrolments.c.exit_reason,
                func.count(),
            )
            .where(enrolments.c.campaign_id == campaign_id)
            .group_by(enrolments.c.state, enrolments.c.variant, enrolments.c.exit_reason)
        )
        return [
            (EnrolmentState(state), variant, reason, int(count))
            for state, variant, reason, count in rows
        ]

    def job_counts(self, campaign_id: int) -> list[StatusCount]:
        rows = self.connection.execute(
            select(jobs.c.variant, jobs.c.status, jobs.c.suppression_reason, func.count())
            .where(jobs.c.campaign_id == campaign_id)
            .group_by(jobs.c.variant, jobs.c.status, jobs.c.suppression_reason)
        )
        return [
            StatusCount(
                variant,
                JobStatus(status),
                str(reason) if reason is not None else None,
                int(count),
            )
            for variant, status, reason, count in rows
        ]

    def clicked_counts(self, campaign_id: int) -> dict[str | None, int]:
        """Jobs with at least one click report, per variant."""
        clicked = (
            select(jobs.c.variant, jobs.c.id)
            .select_from(jobs.join(status_events, status_events.c.job_id == jobs.c.id))
            .where(
                jobs.c.campaign_id == campaign_id,
                status_events.c.status == JobStatus.CLICKED.value,
            )
            .distinct()
            .subquery()
        )
        rows = self.connection.execute(
            select(clicked.c.variant, func.count()).group_by(clicked.c.variant)
        )
        return {variant: int(count) for variant, count in rows}

    # ---- the console's list ----

    def of_org(self, org_id: str, limit: int) -> list[CampaignRecord]:
        """The organisation's campaigns, newest first, at most ``limit``."""
        rows = self.connection.execute(
            select(campaigns)
            .where(campaigns.c.org_id == org_id)
            .order_by(campaigns.c.id.desc())
            .limit(limit)
        )
        return [_record(row) for row in rows]

    def enrolment_counts_of(
        self, campaign_ids: Sequence[int]
    ) -> dict[int, list[tuple[EnrolmentState, str | None, str | None, int]]]:
        """``enrolment_counts`` of several campaigns in one query."""
        counts: dict[int, list[tuple[EnrolmentState, str | None, str | None, int]]] = {}
        if not campaign_ids:
            return counts
        rows = self.connection.execute(
            select(
                enrolments.c.campaign_id,
                enrolments.c.state,
                enrolments.c.variant,
                enrolments.c.exit_reason,
                func.count(),
            )
            .where(enrolments.c.campaign_id.in_(list(campaign_ids)))
            .group_by(
                enrolments.c.campaign_id,
                enrolments.c.state,
                enrolments.c.variant,
                enrolments.c.exit_reason,
            )
        )
        for campaign_id, state, variant, reason, count in rows:
            counts.setdefault(int(campaign_id), []).append(
                (EnrolmentState(state), variant, reason, int(count))
            )
        return counts

    def job_counts_of(self, campaign_ids: Sequence[int]) -> dict[int, list[StatusCount]]:
        """``job_counts`` of several campaigns in one query."""
        counts: dict[int, list[StatusCount]] = {}
        if not campaign_ids:
            return counts
        rows = self.connection.execute(
            select(
                jobs.c.campaign_id,
                jobs.c.variant,
                jobs.c.status,
                jobs.c.suppression_reason,
                func.count(),
            )
            .where(jobs.c.campaign_id.in_(list(campaign_ids)))
            .group_by(jobs.c.campaign_id, jobs.c.variant, jobs.c.status, jobs.c.suppression_reason)
        )
        for campaign_id, variant, status, reason, count in rows:
            counts.setdefault(int(campaign_id), []).append(
                StatusCount(
                    variant,
                    JobStatus(status),
                    str(reason) if reason is not None else None,
                    int(count),
                )
            )
        return counts
