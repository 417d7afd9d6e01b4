"""Segment rules as SQL: the ids of the patients of one organisation a rule selects.

The public API, used by segments and campaigns::

    compile_segment(rule, catalogue, org_id, *, now, segments=None, limits=RuleLimits())
        -> Select          # SELECT patients.id FROM patients ... WHERE patients.org_id = :org ...
    count_statement(select) -> Select   # one row: how many patients it selects
    sql_text(select, dialect) -> str    # the statement as the database receives it (bind
                                        # parameters named, never their values)

``compile_segment`` validates the rule (``InvalidRule``), lowers it with
``outreach.segments.sql_compiler`` (``SegmentNotCompilable`` when SQL could not reproduce the
in-memory answer exactly) and renders the plan here as SQLAlchemy Core over ``patients``, the
patient's own ``patient_comm_prefs`` row (joined only when a preference field is read) and
correlated subqueries over ``appointments`` (index ``ix_appointments_patient_status_starts``).
Every constant is a bind parameter. ``now`` is bound too, so the count, the preview and the
in-memory evaluation at the same ``now`` agree patient for patient.

The same statement runs on MariaDB and SQLite; the few differences are rendered per dialect:
texts compare by code point (``COLLATE utf8mb4_nopad_bin`` on MariaDB, whose default
collations ignore case and trailing spaces) and attributes are read from JSON with a check of
their JSON type (a value of another type reads as null).
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime
from typing import Any

from sqlalchemy import (
    Boolean,
    Column,
    ColumnElement,
    Date,
    Float,
    Select,
    String,
    and_,
    case,
    exists,
    false,
    func,
    literal,
    not_,
    null,
    or_,
    select,
    true,
    type_coerce,
)
from sqlalchemy.engine import Dialect
from sqlalchemy.ext.compiler import compiles
from sqlalchemy.sql.compiler import SQLCompiler
from sqlalchemy.types import TypeEngine

from outreach.domain import AppointmentStatus
from outreach.segments.catalogue import Catalogue, CatalogueField, FieldSource, FieldType
from outreach.segments.records import OPT_OUT_FIELDS
from outreach.segments.sql_compiler import (
    All,
    Always,
    AnyOf,
    BornOnOrBefore,
    Compare,
    Comparison,
    Condition,
    Contains,
    EventCount,
    FieldValue,
    InList,
    InstantAtLeast,
    InstantAtMost,
    IsNonEmpty,
    IsNull,
    IsTrue,
    Measure,
    Not,
    SegmentPlan,
    plan_segment,
)
from outreach.segments.validation import RuleLimits, validate_rule
from outreach.sql.expressions import ExactText
from outreach.sql.models import Appointment, Patient, PatientChannelOptOut, PatientCommPrefs

patients = Patient.__table__
prefs = PatientCommPrefs.__table__
opt_outs = PatientChannelOptOut.__table__
appointments = Appointment.__table__


def compile_segment(
    rule: Any,
    catalogue: Catalogue,
    org_id: str,
    *,
    now: datetime,
    segments: Mapping[int, Any] | None = None,
    limits: RuleLimits = RuleLimits(),  # noqa: B008 - frozen, shared safely
) -> Select[Any]:
    """The ids of ``org_id``'s patients that ``rule`` selects at ``now``.

    ``segments``: the definitions ``in_segment`` may reach (the organisation's saved segments).
    Raises ``InvalidRule`` or ``SegmentNotCompilable``, each with the pointer of the node.
    """
    validate_rule(rule, catalogue, limits, segments=segments)
    plan = plan_segment(rule, catalogue, now=now, segments=segments)
    return patients_selected(plan, org_id)


def patients_selected(plan: SegmentPlan, org_id: str) -> Select[Any]:
    """``SELECT patients.id`` of ``org_id`` meeting the plan's condition."""
    reads_preferences = any(
        field_name in plan.fields for field_name in (*_PREFERENCE_COLUMNS, *OPT_OUT_FIELDS)
    )
    source = (
        patients.outerjoin(prefs, prefs.c.patient_id == patients.c.id)
        if reads_preferences
        else patients
    )
    condition = _Translator(plan.now).condition(plan.condition)
    return select(patients.c.id).select_from(source).where(patients.c.org_id == org_id, condition)


def count_statement(selected: Select[Any]) -> Select[Any]:
    """How many patients ``selected`` selects."""
    return select(func.count()).select_from(selected.subquery())


def sql_text(statement: Select[Any], dialect: Dialect) -> str:
    """The statement as ``dialect`` receives it, bind parameters by name (values left out)."""
    return str(statement.compile(dialect=dialect))


# ---- dialect-specific pieces ----


class _IndexableOnMySQL(ColumnElement[bool]):
    """A test implied by the exact one beside it, written only where it helps an index: on
    MariaDB (its column collations ignore case); elsewhere it is just true."""

    inherit_cache = True
    type = Boolean()
    _is_implicitly_boolean = True  # a condition already: no "= 1" added in WHERE

    def __init__(self, implied: ColumnElement[bool]) -> None:
        self.implied = implied


@compiles(_IndexableOnMySQL)
def _indexable_elsewhere(element: _IndexableOnMySQL, compiler: SQLCompiler, **kw: Any) -> str:
    return "1 = 1"


@compiles(_IndexableOnMySQL, "mysql")
@compiles(_IndexableOnMySQL, "mariadb")
def _indexable_mysql(element: _IndexableOnMySQL, compiler: SQLCompiler, **kw: Any) -> str:
    return compiler.process(element.implied, **kw)


def measure_is_column(expression: ColumnElement[Any]) -> bool:
    """A plain column of ``patients`` or ``patient_comm_prefs`` (which an index may cover)."""
    return isinstance(expression, Column) and expression.table in (patients, prefs)


class _AttributeValue(ColumnElement[Any]):
    """``patients.attributes[key]`` when its JSON type is the declared one, else NULL."""

    inherit_cache = True

    def __init__(self, key: str, declared: FieldType) -> None:
        self.path = literal(f"$.{key}", String())  # a bind parameter like any constant
        self.declared = declared
        self.type: TypeEngine[Any] = {
            FieldType.STRING: String(),
            FieldType.NUMBER: Float(),
            FieldType.BOOLEAN: Boolean(),
        }[declared]


@compiles(_AttributeValue)
def _attribute_sqlite(element: _AttributeValue, compiler: SQLCompiler, **kw: Any) -> str:
    column = compiler.process(patients.c.attributes, **kw)
    path = compiler.process(element.path, **kw)
    kind = f"json_type({column}, {path})"
    value = f"json_extract({column}, {path})"
    if element.declared is FieldType.STRING:
        return f"(CASE WHEN {kind} = 'text' THEN {value} END)"
    if element.declared is FieldType.NUMBER:
        return f"(CASE WHEN {kind} IN ('integer', 'real') THEN {value} END)"
    return f"(CASE {kind} WHEN 'true' THEN 1 WHEN 'false' THEN 0 END)"


@compiles(_AttributeValue, "mysql")
@compiles(_AttributeValue, "mariadb")
def _attribute_mysql(element: _AttributeValue, compiler: SQLCompiler, **kw: Any) -> str:
    column = compiler.process(patients.c.attributes, **kw)
    path = compiler.process(element.path, **kw)
    kind = f"JSON_TYPE(JSON_EXTRACT({column}, {path}))"
    value = f"JSON_VALUE({column}, {path})"
    if element.declared is FieldType.STRING:
        return f"(CASE WHEN {kind} = 'STRING' THEN {value} END)"
    if element.declared is FieldType.NUMBER:
        return f"(CASE WHEN {kind} IN ('INTEGER', 'DOUBLE') THEN CAST({value} AS DOUBLE) END)"
    return f"(CASE WHEN {kind} = 'BOOLEAN' THEN {value} IN ('1', 'true') END)"


# ---- the catalogue's fields as SQL ----

_PATIENT_COLUMNS = {
    "sex": patients.c.sex,
    "region": patients.c.region,
    "provider_id": patients.c.provider_id,
}
_PREFERENCE_COLUMNS = {
    name: prefs.c[name]
    for name in (
        "language",
        "timezone",
        "preferred_channel",
        "contact_consent",
        "marketing_opt_in_email",
        "marketing_opt_in_sms",
        "marketing_opt_in_whatsapp",
    )
}
_POSTAL_PREFIX_LENGTH = 3


def _opted_out(channel: str) -> ColumnElement[Any]:
    """``opted_out_<channel>``: an opt-out row of the channel (true), else the patient's
    preference row (false) or null without one, as ``records.OPT_OUT_FIELDS`` reads it."""
    row = exists().where(opt_outs.c.patient_id == patients.c.id, opt_outs.c.channel == channel)
    return type_coerce(
        case((row, true()), (prefs.c.patient_id.is_not(None), false()), else_=null()),
        Boolean,
    )


def _of_patient(status: AppointmentStatus) -> ColumnElement[bool]:
    return and_(appointments.c.patient_id == patients.c.id, appointments.c.status == status.value)


class _Translator:
    def __init__(self, now: datetime) -> None:
        self.now = now

    def value(self, measure: Measure) -> ColumnElement[Any]:
        if isinstance(measure, EventCount):
            return (
                select(func.count())
                .where(
                    _of_patient(AppointmentStatus(measure.status)),
                    appointments.c.starts_at >= measure.since,
                    appointments.c.starts_at <= measure.until,
                )
                .scalar_subquery()
            )
        return self.field(measure.field)

    def field(self, catalogue_field: CatalogueField) -> ColumnElement[Any]:
        name = catalogue_field.name
        if catalogue_field.source is FieldSource.ATTRIBUTE:
            key = catalogue_field.attribute_key
            assert key is not None
            return _AttributeValue(key, catalogue_field.type)
        if name in _PATIENT_COLUMNS:
            return _PATIENT_COLUMNS[name]
        if name in _PREFERENCE_COLUMNS:
            return _PREFERENCE_COLUMNS[name]
        if name in OPT_OUT_FIELDS:
            return _opted_out(OPT_OUT_FIELDS[name])
        if name == "postal_prefix":
            return func.substr(patients.c.postal_code, 1, _POSTAL_PREFIX_LENGTH)
        if name == "age":
            return patients.c.date_of_birth  # age is read through date thresholds
        if name == "last_attended_at":
            return (
                select(func.max(appointments.c.starts_at))
                .where(_of_patient(AppointmentStatus.ATTENDED))
                .scalar_subquery()
            )
        if name == "next_appointment_at":
            return (
                select(func.min(appointments.c.starts_at))
                .where(_of_patient(AppointmentStatus.BOOKED), appointments.c.starts_at > self.now)
                .scalar_subquery()
            )
        if name == "no_show_count":
            return (
                select(func.count()).where(_of_patient(AppointmentStatus.NO_SHOW)).scalar_subquery()
            )
        raise KeyError(f"no SQL for the catalogue field {name!r}")

    def text(self, measure: Measure) -> ColumnElement[Any]:
        return ExactText(self.value(measure))

    def condition(self, condition: Condition, positive: bool = True) -> ColumnElement[bool]:
        """``condition`` as SQL. ``positive``: no NOT encloses it, so a NULL there counts as
        false (as WHERE takes it), which lets a presence test go when the rest needs the field
        anyway (the plan's conditions are two-valued; this only drops redundant tests)."""
        if isinstance(condition, Always):
            return true() if condition.value else false()
        if isinstance(condition, Not):
            return not_(self.condition(condition.condition, positive=False))
        if isinstance(condition, All):
            members = _without_redundant_presence(condition.conditions) if positive else None
            # Cheapest first: MariaDB tests the conditions in the order written.
            ordered = sorted(members or condition.conditions, key=_cost)
            return and_(*(self.condition(c, positive) for c in ordered))
        if isinstance(condition, AnyOf):
            ordered = sorted(condition.conditions, key=_cost)
            return or_(*(self.condition(c, positive) for c in ordered))
        if isinstance(condition, IsNull):
            if condition.field.always_present:
                return false()
            return self.field(condition.field).is_(None)
        if isinstance(condition, IsTrue):
            if condition.field.name == "has_future_appointment":
                return exists().where(
                    _of_patient(AppointmentStatus.BOOKED), appointments.c.starts_at > self.now
                )
            return self.field(condition.field) == true()
        if isinstance(condition, IsNonEmpty):
            return func.length(self.field(condition.field)) > 0
        if isinstance(condition, Compare):
            return self._compare(condition)
        if isinstance(condition, InList):
            if isinstance(condition.constants[0], str):
                return self._text_in(condition.measure, condition.constants)
            return self.value(condition.measure).in_(condition.constants)
        if isinstance(condition, Contains):
            return func.instr(self.text(FieldValue(condition.field)), condition.text) > 0
        if isinstance(condition, InstantAtMost):
            return self.field(condition.field) <= condition.instant
        if isinstance(condition, InstantAtLeast):
            return self.field(condition.field) >= condition.instant
        if isinstance(condition, BornOnOrBefore):
            return patients.c.date_of_birth <= literal(condition.day, Date())
        raise TypeError(f"no SQL for {type(condition).__name__}")

    def _text_in(self, measure: Measure, constants: tuple[Any, ...]) -> ColumnElement[bool]:
        exact = self.text(measure).in_(constants)
        value = self.value(measure)
        if measure_is_column(value):
            # The column's own collation is coarser (case, trailing spaces) but can use an
            # index; the exact test then keeps only what JSON Logic would.
            # Bound as plain text: an enum column's own type would refuse values outside it.
            superset = type_coerce(value, String()).in_(constants)
            return and_(_IndexableOnMySQL(superset), exact)
        return exact

    def _compare(self, condition: Compare) -> ColumnElement[bool]:
        constant = condition.constant
        if condition.comparison is Comparison.EQ and isinstance(constant, str):
            return self._text_in(condition.measure, (constant,))
        left = (
            self.text(condition.measure)
            if isinstance(constant, str)
            else self.value(condition.measure)
        )
        comparison = condition.comparison
        if comparison is Comparison.LT:
            return left < constant
        if comparison is Comparison.LE:
            return left <= constant
        if comparison is Comparison.GT:
            return left > constant
        if comparison is Comparison.GE:
            return left >= constant
        if comparison is Comparison.EQ:
            return left == constant
        return left != constant


def _reads_only(condition: Condition) -> str | None:
    """The one field ``condition`` reads, when it is NULL or false wherever that field is NULL
    (a comparison of it, and NOT/AND/OR of such), else None."""
    if isinstance(condition, Compare | InList):
        measure = condition.measure
        return measure.field.name if isinstance(measure, FieldValue) else None
    if isinstance(condition, Contains | InstantAtMost | InstantAtLeast | IsNonEmpty):
        return condition.field.name
    if isinstance(condition, IsTrue):
        return None if condition.field.always_present else condition.field.name
    if isinstance(condition, BornOnOrBefore):
        return "age"
    if isinstance(condition, Not):
        return _reads_only(condition.condition)
    if isinstance(condition, All | AnyOf):
        fields = {_reads_only(c) for c in condition.conditions}
        return fields.pop() if len(fields) == 1 else None
    return None


def _without_redundant_presence(members: tuple[Condition, ...]) -> list[Condition]:
    """``members`` of an AND less each "field is present" test that another member already
    makes (by being NULL or false when the field is NULL)."""
    needing = {_reads_only(m) for m in members if not _is_presence(m)}
    return [m for m in members if not (_is_presence(m) and _presence_of(m) in needing)]


def _is_presence(condition: Condition) -> bool:
    return isinstance(condition, Not) and isinstance(condition.condition, IsNull)


def _presence_of(condition: Condition) -> str:
    assert isinstance(condition, Not) and isinstance(condition.condition, IsNull)
    return condition.condition.field.name


# How dear a field is to read per patient: its row, the joined preference row, JSON, a subquery.
_SOURCE_COST = {
    FieldSource.PATIENT: 1,
    FieldSource.PREFERENCES: 2,
    FieldSource.ATTRIBUTE: 4,
    FieldSource.APPOINTMENTS: 16,
}


def _cost(condition: Condition) -> int:
    """A rough cost of testing ``condition`` for one patient, to test cheap conditions first."""
    if isinstance(condition, Always):
        return 0
    if isinstance(condition, Not):
        return _cost(condition.condition)
    if isinstance(condition, All | AnyOf):
        return sum(_cost(c) for c in condition.conditions)
    if isinstance(condition, BornOnOrBefore):
        return _SOURCE_COST[FieldSource.PATIENT]
    if isinstance(condition, Compare | InList):
        measure = condition.measure
        if isinstance(measure, EventCount):
            return _SOURCE_COST[FieldSource.APPOINTMENTS]
        return _SOURCE_COST[measure.field.source]
    return _SOURCE_COST[condition.field.source]
