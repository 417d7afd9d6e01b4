"""Marketers' segments: JSON Logic rules over a declared catalogue of patient fields. Pure.

- ``segment_catalogue`` lists the fields a rule may read (``catalogue``);
- ``validate_rule`` checks a rule before it is saved, with a JSON Pointer per problem
  (``validation``);
- ``SegmentEvaluator`` answers a rule for patient records in memory with datalogic-py, the
  domain operators added (``evaluation``, ``domain_operators``, ``records``);
- ``plan_segment`` lowers a rule to conditions SQL answers identically, or refuses it with
  ``SegmentNotCompilable`` (``sql_compiler``); ``outreach.sql.segment_query.compile_segment``
  renders that plan as SQLAlchemy Core;
- ``run_conformance`` runs the JSON Logic community suites (``conformance``).

The language, the catalogue and the limits are described in docs/segments.md.
"""

from outreach.segments.catalogue import (
    ATTRIBUTE_PREFIX,
    ATTRIBUTE_TYPES,
    BUILT_IN_FIELDS,
    AttributeDeclarationError,
    Catalogue,
    CatalogueField,
    FieldSource,
    FieldType,
    segment_catalogue,
)
from outreach.segments.conformance import (
    ConformanceReport,
    load_suites,
    run_conformance,
)
from outreach.segments.domain_operators import bind_domain_operators
from outreach.segments.evaluation import SegmentEvaluator, evaluate, is_truthy
from outreach.segments.records import (
    AppointmentSummary,
    PatientFacts,
    patient_record,
)
from outreach.segments.sql_compiler import (
    SegmentNotCompilable,
    SegmentPlan,
    plan_segment,
)
from outreach.segments.validation import (
    InvalidRule,
    RuleError,
    RuleErrorCode,
    RuleLimits,
    ValidatedRule,
    segment_references,
    validate_rule,
)

__all__ = [
    "ATTRIBUTE_PREFIX",
    "ATTRIBUTE_TYPES",
    "BUILT_IN_FIELDS",
    "AppointmentSummary",
    "AttributeDeclarationError",
    "Catalogue",
    "CatalogueField",
    "ConformanceReport",
    "FieldSource",
    "FieldType",
    "InvalidRule",
    "PatientFacts",
    "RuleError",
    "RuleErrorCode",
    "RuleLimits",
    "SegmentEvaluator",
    "SegmentNotCompilable",
    "SegmentPlan",
    "ValidatedRule",
    "bind_domain_operators",
    "evaluate",
    "is_truthy",
    "load_suites",
    "patient_record",
    "plan_segment",
    "run_conformance",
    "segment_catalogue",
    "segment_references",
    "validate_rule",
]
