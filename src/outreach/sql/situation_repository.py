"""A campaign step's due enrolments grouped by situation, and jobs planned for a whole chunk of
them in the database.

A situation is everything stored that a campaign job's decision reads about its patient,
except what is the patient's own and does not change the decision: the addresses (their check
and, for numbers, the country and area code, which the legal window goes by, instead) and the
consent dates (whether consent holds at ``now`` instead; the earliest expiry is kept, for the
service to tell whether an expiry inside the sending window matters). Patients whose decision
needs more than their situation are left out, for the patient-by-patient path: an opt-out row,
messages that frequency caps count, an address changed since its check, consent with no expiry.

Two statements per chunk then do what thousands of rows through Python did: the chunk's jobs
are inserted from their situation's decided row (``comm_jobs`` values stored exactly as the
patient-by-patient path stores them), and the enrolments that got one move on.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any, cast

from sqlalchemy import (
    Column,
    ColumnElement,
    Connection,
    FunctionElement,
    MetaData,
    String,
    Table,
    and_,
    case,
    exists,
    false,
    func,
    insert,
    literal,
    or_,
    select,
    true,
    update,
)
from sqlalchemy.ext.compiler import compiles
from sqlalchemy.schema import CreateTable
from sqlalchemy.sql.compiler import SQLCompiler

from outreach.campaigns import Condition, EnrolmentState
from outreach.domain import JobStatus, SuppressionReason
from outreach.sql.bulk import insert_ignore
from outreach.sql.campaign_repository import condition_holds, due_conditions
from outreach.sql.expressions import ExactText
from outreach.sql.job_repository import (
    PLANNED_JOB_COLUMNS,
    NewJob,
    counted_by_caps,
    job_row_values,
)
from outreach.sql.models import (
    CampaignEnrollment,
    CommJob,
    Patient,
    PatientChannelOptOut,
    PatientCommPrefs,
)
from outreach.sql.preference_rows import LAYER_COLUMNS

enrolments = cast(Table, CampaignEnrollment.__table__)
jobs = cast(Table, CommJob.__table__)
patients = cast(Table, Patient.__table__)
patient_prefs = cast(Table, PatientCommPrefs.__table__)
opt_outs = cast(Table, PatientChannelOptOut.__table__)

# Job columns that belong to the enrolment, not to the situation's decision.
_OWN_JOB_COLUMNS = ("id", "idempotency_key", "patient_id", "provider_id", "variant")
# A scratch table of the connection (a temporary table: no other connection sees it, and
# creating one commits nothing on MariaDB), created once per connection, emptied per chunk.
_scratch = MetaData()
situation_jobs = Table(
    "situation_jobs",
    _scratch,
    Column("situation_key", String(64), primary_key=True),
    *(
        Column(name, jobs.c[name].type)
        for name in PLANNED_JOB_COLUMNS
        if name not in _OWN_JOB_COLUMNS
    ),
    prefixes=["TEMPORARY"],
)


class situation_key(FunctionElement[str]):  # noqa: N801 - named as SQL functions are
    """One value per situation: the JSON array of its parts (on MariaDB its SHA-256, so that
    it can be a key)."""

    type = String()
    inherit_cache = True


@compiles(situation_key)
def _situation_key(element: situation_key, compiler: SQLCompiler, **kw: Any) -> str:
    return compiler.process(func.json_array(*element.clauses), **kw)


@compiles(situation_key, "mysql")
@compiles(situation_key, "mariadb")
def _situation_key_mysql(element: situation_key, compiler: SQLCompiler, **kw: Any) -> str:
    return f"SHA2({compiler.process(func.json_array(*element.clauses), **kw)}, 256)"


@dataclass(frozen=True, slots=True)
class Situation:
    """Due enrolments whose decisions read the same stored values.

    ``row`` holds them as one patient's decision row would (``patient_repository``): one
    member's row stands for all (its addresses have the same checks, its number the same area
    code), with ``consent_expires_at`` the earliest expiry among them.
    """

    key: str
    patients: int
    org_id: str
    provider_id: str | None
    enrolled_at: datetime
    row: Mapping[str, Any]

    def __repr__(self) -> str:  # the row holds an address
        return f"Situation(key={self.key[:12]!r}, patients={self.patients})"


def _granted() -> ColumnElement[bool]:
    c = patient_prefs.c
    return and_(
        func.coalesce(c.contact_consent, false()) == true(), c.consent_granted_at.is_not(None)
    )


def _number_class(number: Column[Any], e164: Column[Any]) -> ColumnElement[Any]:
    """NULL without a number, '' when it is not valid, else its first five characters ('+1' and
    the area code: the legal window's rule reads no more of it)."""
    return case((number.is_(None), None), else_=func.substr(e164, 1, 5))


def _key_parts(now: datetime) -> list[ColumnElement[Any]]:
    c = patient_prefs.c
    consent = case(
        (_granted(), case((c.consent_expires_at <= now, "lapsed"), else_="valid")),
        else_="none",
    )
    email = case((c.email.is_(None), "none"), (c.email_valid == true(), "valid"), else_="invalid")
    return [
        enrolments.c.enrolled_at,
        patients.c.org_id,
        patients.c.provider_id,
        *(c[name] for name in LAYER_COLUMNS),
        consent,
        c.whatsapp_opt_in,
        c.marketing_opt_in_email,
        c.marketing_opt_in_sms,
        c.marketing_opt_in_whatsapp,
        c.failed_channels,
        email,
        _number_class(c.phone, c.phone_e164),
        _number_class(c.whatsapp, c.whatsapp_e164),
    ]


def _checked(address: Column[Any], checked: Column[Any]) -> ColumnElement[bool]:
    """The address is the one its check was made for (to the code point: MariaDB's collation
    would take "josé" for "jose")."""
    return ExactText(checked) == ExactText(address)


def _decided_by_situation(cap_history_since: datetime) -> list[ColumnElement[bool]]:
    """Patients whose decision depends on nothing but their situation."""
    c = patient_prefs.c
    e = enrolments.c
    return [
        or_(c.email.is_(None), _checked(c.email, c.email_checked)),
        or_(
            c.phone.is_(None),
            and_(_checked(c.phone, c.phone_checked), c.phone_e164.is_not(None)),
        ),
        or_(
            c.whatsapp.is_(None),
            and_(_checked(c.whatsapp, c.whatsapp_checked), c.whatsapp_e164.is_not(None)),
        ),
        # Granted consent without an expiry lapses two years after it was granted: a date of
        # its own, which the key does not hold.
        or_(~_granted(), c.consent_expires_at.is_not(None)),
        ~exists(select(literal(1)).where(opt_outs.c.patient_id == e.patient_id)),
        ~exists(
            select(literal(1)).where(
                jobs.c.patient_id == e.patient_id, *counted_by_caps(cap_history_since)
            )
        ),
    ]


def _due_with_prefs() -> Any:
    return enrolments.join(patients, patients.c.id == enrolments.c.patient_id).join(
        patient_prefs, patient_prefs.c.patient_id == enrolments.c.patient_id
    )


@dataclass(frozen=True, slots=True)
class StepScope:
    """The enrolments a step plans now, and the moments their decisions read."""

    campaign_id: int
    step_index: int
    step_count: int
    due_by: datetime  # enrolled at or before
    waiting_for: Condition | None
    now: datetime
    cap_history_since: datetime

    def conditions(self, after_id: int = 0, through_id: int | None = None) -> list[Any]:
        found = [
            *due_conditions(self.campaign_id, self.step_index, self.due_by, after_id),
            *_decided_by_situation(self.cap_history_since),
        ]
        if through_id is not None:
            found.append(enrolments.c.id <= through_id)
        if self.waiting_for is not None:
            found.append(condition_holds(self.waiting_for))
        return found


class SituationRepository:
    def __init__(self, connection: Connection) -> None:
        self.connection = connection

    def situations(self, scope: StepScope) -> list[Situation]:
        """The situations of the step's due enrolments, with how many patients each holds."""
        key = situation_key(*_key_parts(scope.now)).label("situation_key")
        grouped = (
            select(
                key,
                func.count().label("patients"),
                func.min(enrolments.c.id).label("member"),  # the representative
                func.min(patient_prefs.c.consent_expires_at).label("earliest_expiry"),
            )
            .select_from(_due_with_prefs())
            .where(*scope.conditions())
            .group_by(key)
        )
        counted = {
            member: (situation, int(count), earliest)
            for situation, count, member, earliest in self.connection.execute(grouped)
        }
        if not counted:
            return []
        c = patient_prefs.c
        read = [c[name] for name in LAYER_COLUMNS] + [
            c.contact_consent,
            c.consent_granted_at,
            c.whatsapp_opt_in,
            c.marketing_opt_in_email,
            c.marketing_opt_in_sms,
            c.marketing_opt_in_whatsapp,
            c.failed_channels,
            c.email,
            c.email_valid,
            c.phone,
            c.phone_e164,
            c.whatsapp,
            c.whatsapp_e164,
        ]
        members = self.connection.execute(
            select(
                enrolments.c.id,
                patients.c.org_id,
                patients.c.provider_id,
                enrolments.c.enrolled_at,
                *read,
            )
            .select_from(_due_with_prefs())
            .where(enrolments.c.id.in_(list(counted)))
        ).mappings()
        found = []
        for member in members:
            situation, count, earliest = counted[member["id"]]
            values = {column.name: member[column.name] for column in read}
            values["consent_expires_at"] = earliest
            found.append(
                Situation(
                    key=situation,
                    patients=count,
                    org_id=member["org_id"],
                    provider_id=member["provider_id"],
                    enrolled_at=member["enrolled_at"],
                    row=_decision_row(values),
                )
            )
        return found

    def plan_chunk(
        self,
        scope: StepScope,
        decided: Mapping[str, NewJob],
        after_id: int,
        through_id: int | None,
    ) -> int:
        """Jobs for the due enrolments with ids in (``after_id``, ``through_id``] whose
        situation is in ``decided`` (the job its representative got), and those enrolments
        moved on; how many jobs. Other enrolments are left as they are."""
        connection = self.connection
        connection.execute(CreateTable(situation_jobs, if_not_exists=True))
        connection.execute(situation_jobs.delete())
        insert_ignore(
            connection,
            situation_jobs,
            [
                {"situation_key": key, **_situation_values(job, scope.now)}
                for key, job in decided.items()
            ],
        )
        decided_columns = [c for c in situation_jobs.columns if c.name != "situation_key"]
        planned = connection.execute(
            insert(jobs)
            .prefix_with("IGNORE", dialect="mysql")
            .prefix_with("IGNORE", dialect="mariadb")
            .prefix_with("OR IGNORE", dialect="sqlite")
            .from_select(
                ["idempotency_key", "patient_id", "provider_id", "variant"]
                + [c.name for c in decided_columns],
                select(
                    _job_key(scope),
                    enrolments.c.patient_id,
                    patients.c.provider_id,
                    enrolments.c.variant,
                    *decided_columns,
                )
                .select_from(
                    _due_with_prefs().join(
                        situation_jobs,
                        situation_jobs.c.situation_key == situation_key(*_key_parts(scope.now)),
                    )
                )
                .where(*scope.conditions(after_id, through_id)),
            )
        ).rowcount
        moved: dict[str, Any] = {"next_step": scope.step_index + 1}
        if scope.step_index + 1 >= scope.step_count:
            moved.update(state=EnrolmentState.COMPLETED.value, finished_at=scope.now)
        chunk = [enrolments.c.id > after_id]
        if through_id is not None:
            chunk.append(enrolments.c.id <= through_id)
        advanced = connection.execute(
            update(enrolments)
            .where(
                *chunk,
                enrolments.c.campaign_id == scope.campaign_id,
                enrolments.c.state == EnrolmentState.ACTIVE.value,
                enrolments.c.next_step == scope.step_index,
                # By the unique key alone: a job there before (a rerun) moves its enrolment on
                # as the patient-by-patient path does, and the lookup stays one index probe.
                exists(select(literal(1)).where(jobs.c.idempotency_key == _job_key(scope))),
            )
            .values(**moved)
        ).rowcount
        if advanced < planned:
            # A job without its enrolment moved on: nothing here allows it.
            raise RuntimeError(
                f"campaign {scope.campaign_id} step {scope.step_index}: {planned} jobs, "
                f"{advanced} enrolments moved on"
            )
        return int(planned)

    def last_job_id(self) -> int:
        """The highest job id so far (0: none): jobs created afterwards have higher ones."""
        return int(
            self.connection.execute(select(func.coalesce(func.max(jobs.c.id), 0))).scalar_one()
        )

    def step_outcomes(
        self, scope: StepScope, after_job_id: int
    ) -> Counter[tuple[JobStatus, SuppressionReason | None]]:
        """The step's jobs created after job ``after_job_id``, by (status, suppression reason)."""
        outcomes: Counter[tuple[JobStatus, SuppressionReason | None]] = Counter()
        step_key = f"campaign:{scope.campaign_id}:%:step-{scope.step_index}"
        # Only the id range narrows the read: the one index that finds just the new rows,
        # whatever the statistics say; the campaign is picked out here.
        for campaign_id, status, reason, count in self.connection.execute(
            select(jobs.c.campaign_id, jobs.c.status, jobs.c.suppression_reason, func.count())
            .where(jobs.c.id > after_job_id, jobs.c.idempotency_key.like(step_key))
            .group_by(jobs.c.campaign_id, jobs.c.status, jobs.c.suppression_reason)
        ):
            if campaign_id == scope.campaign_id:
                reason = SuppressionReason(reason) if reason else None
                outcomes[(JobStatus(status), reason)] += int(count)
        return outcomes


def _job_key(scope: StepScope) -> ColumnElement[str]:
    """``campaign_job_key`` of the enrolment row's patient."""
    return (
        literal(f"campaign:{scope.campaign_id}:")
        + enrolments.c.patient_id
        + literal(f":step-{scope.step_index}")
    )


def _situation_values(job: NewJob, now: datetime) -> dict[str, Any]:
    values = job_row_values(job, now)
    for name in _OWN_JOB_COLUMNS:
        values.pop(name, None)
    return values


def _decision_row(values: dict[str, Any]) -> dict[str, Any]:
    """The member's preference row as ``patient_repository`` reads it (its addresses are those
    it was checked with: only such patients have a situation)."""
    row = dict(values)
    for number in ("phone", "whatsapp"):
        row[f"{number}_checked"] = row[number]
    row["email_checked"] = row["email"]
    row["fatigue_score"] = None  # campaign decisions apply no fatigue policy
    return row
