"""Use cases "segments": check, save, count and preview a marketer's segment; and say which of a
few patients are in a segment now, judged in memory (event-triggered campaigns).

A rule is saved only once it validates against the catalogue and compiles to SQL: the same rule
then counts, previews and expands in the database, and judges one patient in memory, with the
same answer (tests/sql/test_segment_query.py holds the two to it).

Segments belong to one organisation: every call names the caller's, and another organisation's
segment is ``SegmentNotFound`` exactly like a missing one. Saves and previews (which show patient
ids) are audited with the actor, in the same transaction.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from outreach.domain import Actor, AuditRecord
from outreach.segments import (
    Catalogue,
    RuleLimits,
    SegmentEvaluator,
    patient_record,
    plan_segment,
    segment_references,
    validate_rule,
)
from outreach.sql.segment_query import patients_selected
from outreach.sql.segment_repository import SampledPatient, StoredSegment
from outreach.sql.store import Repositories, Store


class SegmentNotFound(LookupError):
    """No segment with that id."""


@dataclass(frozen=True, slots=True)
class SegmentDraft:
    """What a marketer writes: the rest (organisation, id, counts, dates) is the engine's."""

    name: str
    definition: Any
    description: str | None = None
    is_active: bool = True

    def __repr__(self) -> str:
        return f"SegmentDraft(name={self.name!r})"


@dataclass(frozen=True, slots=True)
class CheckedRule:
    """A rule that validated and compiled: the fields it reads and its SQL (parameters named)."""

    fields: tuple[str, ...]
    sql: str


@dataclass(frozen=True, slots=True)
class Preview:
    patient_count: int
    sample: tuple[SampledPatient, ...]
    sql: str
    evaluated_at: datetime


class SegmentService:
    """Segments of every organisation, over one store, with the deployment's catalogue."""

    def __init__(
        self,
        store: Store,
        catalogue: Catalogue,
        limits: RuleLimits,
        *,
        sample_size: int = 10,
        clock: Callable[[], datetime] = lambda: datetime.now(UTC),
    ) -> None:
        self.store = store
        self.catalogue = catalogue
        self.limits = limits
        self.sample_size = sample_size
        self.clock = clock

    def check(self, org_id: str, definition: Any, segment_id: int | None = None) -> CheckedRule:
        """Validate and compile; raises ``InvalidRule`` or ``SegmentNotCompilable``."""
        with self.store.reading() as repos:
            return self._check(repos, org_id, definition, segment_id, self.clock())

    def create(self, org_id: str, draft: SegmentDraft, actor: Actor) -> StoredSegment:
        """Save a new segment of ``org_id`` (nothing is saved when the rule is refused); raises
        ``InvalidRule``, ``SegmentNotCompilable`` or ``SegmentNameTaken``."""
        now = self.clock()
        with self.store.transaction() as repos:
            self._check(repos, org_id, draft.definition, None, now)
            segment_id = repos.segments.insert(
                org_id=org_id,
                name=draft.name,
                description=draft.description,
                definition=draft.definition,
                created_by=actor.name,
                is_active=draft.is_active,
                now=now,
            )
            repos.audit.record(
                [actor.audit("segment_created", now, detail={"segment_id": segment_id})]
            )
            return self._saved(repos, segment_id, org_id)

    def update(
        self, segment_id: int, org_id: str, draft: SegmentDraft, actor: Actor
    ) -> StoredSegment:
        """Replace a segment's name, description, rule and activity."""
        now = self.clock()
        with self.store.transaction() as repos:
            self._saved(repos, segment_id, org_id)
            self._check(repos, org_id, draft.definition, segment_id, now)
            repos.segments.update(
                segment_id,
                org_id,
                name=draft.name,
                description=draft.description,
                definition=draft.definition,
                is_active=draft.is_active,
                now=now,
            )
            repos.audit.record(
                [actor.audit("segment_updated", now, detail={"segment_id": segment_id})]
            )
            return self._saved(repos, segment_id, org_id)

    def get(self, segment_id: int, org_id: str) -> StoredSegment:
        with self.store.reading() as repos:
            return self._saved(repos, segment_id, org_id)

    def of_org(self, org_id: str) -> list[StoredSegment]:
        with self.store.reading() as repos:
            return repos.segments.of_org(org_id)

    def preview_rule(
        self, org_id: str, definition: Any, actor: Actor, sample_size: int | None = None
    ) -> Preview:
        """Count, masked sample and SQL of an unsaved rule."""
        with self.store.transaction() as repos:
            preview = self._preview(repos, org_id, definition, None, sample_size)
            repos.audit.record([_previewed(actor, preview, None)])
            return preview

    def count_rule(self, org_id: str, definition: Any) -> int:
        with self.store.reading() as repos:
            return self._preview(repos, org_id, definition, None, 0).patient_count

    def preview_segment(
        self, segment_id: int, org_id: str, actor: Actor, sample_size: int | None = None
    ) -> Preview:
        """Count, masked sample and SQL of a saved segment; the count is kept on it."""
        with self.store.transaction() as repos:
            segment = self._saved(repos, segment_id, org_id)
            preview = self._preview(
                repos, segment.org_id, segment.definition, segment_id, sample_size
            )
            repos.segments.record_count(segment_id, preview.patient_count, preview.evaluated_at)
            repos.audit.record([_previewed(actor, preview, segment_id)])
            return preview

    def members(self, segment_id: int, org_id: str, patient_ids: Iterable[str]) -> set[str]:
        """Which of ``patient_ids`` are in the segment now (in memory)."""
        with self.store.reading() as repos:
            segment = self._saved(repos, segment_id, org_id)
            return segment_members(repos, segment, patient_ids, self.catalogue, self.clock())

    def _saved(self, repos: Repositories, segment_id: int, org_id: str) -> StoredSegment:
        segment = repos.segments.get(segment_id)
        if segment is None or segment.org_id != org_id:
            raise SegmentNotFound(segment_id)
        return segment

    def _check(
        self,
        repos: Repositories,
        org_id: str,
        definition: Any,
        segment_id: int | None,
        now: datetime,
    ) -> CheckedRule:
        saved = _reachable_definitions(repos, org_id, definition)
        validate_rule(
            definition, self.catalogue, self.limits, segments=saved, segment_id=segment_id
        )
        plan = plan_segment(definition, self.catalogue, now=now, segments=saved)
        sql = repos.segments.sql_of(patients_selected(plan, org_id))
        return CheckedRule(tuple(sorted(plan.fields)), sql)

    def _preview(
        self,
        repos: Repositories,
        org_id: str,
        definition: Any,
        segment_id: int | None,
        sample_size: int | None,
    ) -> Preview:
        now = self.clock()
        saved = _reachable_definitions(repos, org_id, definition)
        validate_rule(
            definition, self.catalogue, self.limits, segments=saved, segment_id=segment_id
        )
        selected = patients_selected(
            plan_segment(definition, self.catalogue, now=now, segments=saved), org_id
        )
        size = self.sample_size if sample_size is None else sample_size
        return Preview(
            patient_count=repos.segments.count(selected),
            sample=tuple(repos.segments.sample(selected, size)),
            sql=repos.segments.sql_of(selected),
            evaluated_at=now,
        )


def segment_members(
    repos: Repositories,
    segment: StoredSegment,
    patient_ids: Iterable[str],
    catalogue: Catalogue,
    now: datetime,
) -> set[str]:
    """Which of ``patient_ids`` (of the segment's organisation) are in ``segment`` at ``now``,
    judged in memory from their stored rows: for the patients a batch of ``patient.upserted``
    (or appointment events) just changed, in the transaction that changed them."""
    saved = _reachable_definitions(repos, segment.org_id, segment.definition)
    evaluator = SegmentEvaluator(segment.definition, now=now, segments=saved)
    return {
        facts.patient_id
        for facts in repos.segments.patient_facts(segment.org_id, patient_ids)
        if evaluator.matches(patient_record(facts, catalogue, now))
    }


def _previewed(actor: Actor, preview: Preview, segment_id: int | None) -> AuditRecord:
    """The audit entry of a preview: it showed patient ids (masked otherwise)."""
    return actor.audit(
        "segment_previewed",
        preview.evaluated_at,
        detail={
            "segment_id": segment_id,
            "patient_count": preview.patient_count,
            "sample_size": len(preview.sample),
        },
    )


def _reachable_definitions(repos: Repositories, org_id: str, definition: Any) -> Mapping[int, Any]:
    """The organisation's saved definitions when the rule names any (``in_segment``)."""
    return repos.segments.definitions(org_id) if segment_references(definition) else {}
