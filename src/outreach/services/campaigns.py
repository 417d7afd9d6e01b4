"""Use cases of a marketer's campaign: create, activate, pause, resume, complete, archive, and
read its progress.

Activation is where the campaign is judged: its templates must pass the PHI policy (and carry an
unsubscribe link in marketing e-mail), each step must find a template, and its segment must not
be empty; otherwise it is refused with the reasons and stays a draft. Enrolment and sending are
the campaign runner's (``services/run_campaigns.py``), on the scheduler's timer. Every change of
state is audited with who made it.

``org_id`` scopes each use case to one organisation (a credential's): another organisation's
campaign is not found, exactly like a missing one. ``None`` (the operator's CLI) reaches any.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from outreach.campaigns import (
    CampaignAction,
    CampaignDefinition,
    CampaignProgress,
    CampaignState,
    holdout_warning,
    next_state,
    progress,
)
from outreach.campaigns.readiness import ReadinessProblem, readiness
from outreach.domain import Actor, Channel, PhiFreeError, Purpose
from outreach.segments import Catalogue, InvalidRule, RuleLimits, SegmentNotCompilable
from outreach.sql.campaign_repository import CampaignRecord
from outreach.sql.segment_repository import StoredSegment
from outreach.sql.store import Repositories, Store

LIST_LIMIT = 500


class CampaignNotFound(PhiFreeError):
    pass


class CampaignRefused(PhiFreeError):
    """The campaign may not do what was asked; ``code`` says why, ``problems`` where."""

    def __init__(self, code: str, message: str, problems: tuple[ReadinessProblem, ...] = ()):
        super().__init__(message)
        self.code = code
        self.problems = problems


@dataclass(frozen=True, slots=True)
class StateChange:
    campaign_id: int
    state: CampaignState
    segment_size: int | None = None
    jobs_cancelled: int = 0
    warnings: tuple[str, ...] = ()


@dataclass(frozen=True, slots=True)
class CampaignSummary:
    """A campaign of a list, with its headline figures (clicks are not counted here:
    ``campaign_status`` has the whole progress)."""

    campaign: CampaignRecord
    progress: CampaignProgress


@dataclass(frozen=True, slots=True)
class TemplateFamilyChoice:
    """A named template family a campaign step may use, and what its active templates cover."""

    name: str
    purposes: tuple[Purpose, ...]
    channels: tuple[Channel, ...]
    variants: tuple[str, ...]


@dataclass(frozen=True, slots=True)
class CampaignChoices:
    """What a new campaign of an organisation can be made of."""

    segments: tuple[StoredSegment, ...]
    families: tuple[TemplateFamilyChoice, ...]


@dataclass(frozen=True, slots=True)
class CampaignStatus:
    campaign: CampaignRecord
    progress: CampaignProgress
    warnings: tuple[str, ...] = field(default=())


def _audit(
    repos: Repositories, actor: Actor, action: str, record: CampaignRecord, now: datetime
) -> None:
    repos.audit.record(
        [
            actor.audit(
                f"campaign_{action}",
                now,
                detail={"campaign_id": record.id},
                org_id=record.definition.org_id,
            )
        ]
    )


def _load(repos: Repositories, campaign_id: int, org_id: str | None) -> CampaignRecord:
    record = repos.campaigns.get(campaign_id)
    if record is None or (org_id is not None and record.definition.org_id != org_id):
        raise CampaignNotFound(f"no campaign {campaign_id}")
    return record


def create_campaign(
    store: Store, document: Mapping[str, Any], *, actor: Actor, now: datetime
) -> CampaignRecord:
    """A new draft from its JSON definition. ``CampaignDefinitionError`` lists what is wrong;
    ``CampaignRefused`` when the segment is not one of the organisation's."""
    definition = CampaignDefinition.parse(document)
    with store.transaction() as repos:
        segment_org = repos.campaigns.segment_org(definition.segment_id)
        if segment_org != definition.org_id:
            raise CampaignRefused(
                "unknown_segment",
                f"segment {definition.segment_id} is not a segment of organisation "
                f"{definition.org_id}",
            )
        campaign_id = repos.campaigns.create(definition, created_by=actor.name, now=now)
        record = _load(repos, campaign_id, None)
        _audit(repos, actor, "created", record, now)
        return record


def activate_campaign(
    store: Store,
    campaign_id: int,
    catalogue: Catalogue,
    limits: RuleLimits,
    *,
    actor: Actor,
    now: datetime,
    org_id: str | None = None,
) -> StateChange:
    """draft -> active, once its templates and segment pass; the runner enrols on its next round.

    ``CampaignRefused`` (``phi_policy_violation``, ``template_policy``, ``empty_segment``,
    ``invalid_segment``) leaves it a draft.
    """
    with store.transaction() as repos:
        record = _load(repos, campaign_id, org_id)
        target = next_state(record.state, CampaignAction.ACTIVATE)
        definition = record.definition
        templates = repos.templates.active_in_families(
            definition.org_id, definition.purpose, definition.template_families
        )
        contact = repos.orgs.clinic_contacts([definition.org_id]).get(definition.org_id)
        verdict = readiness(definition, templates, contact.language if contact else None)
        if verdict.problems:
            code = "phi_policy_violation" if verdict.phi else "template_policy"
            raise CampaignRefused(
                code,
                "the campaign's templates do not allow it to run: "
                + "; ".join(p.message for p in verdict.problems),
                verdict.problems,
            )
        try:
            size = repos.campaigns.segment_size(
                definition.segment_id, definition.org_id, catalogue, limits, now
            )
        except (InvalidRule, SegmentNotCompilable) as error:
            # Saved when it was valid; the deployment's catalogue may have changed since.
            raise CampaignRefused(
                "invalid_segment", f"segment {definition.segment_id} cannot be evaluated: {error}"
            ) from None
        if size == 0:
            raise CampaignRefused(
                "empty_segment", f"segment {definition.segment_id} matches no patient today"
            )
        if not repos.campaigns.move(campaign_id, record.state, target, now):
            raise CampaignRefused("conflict", "the campaign changed meanwhile; try again")
        _audit(repos, actor, "activated", record, now)
    warning = holdout_warning(size, definition.holdout_percent)
    return StateChange(
        campaign_id,
        target,
        segment_size=size,
        warnings=((warning,) if warning else ()) + verdict.warnings,
    )


def change_campaign_state(
    store: Store,
    campaign_id: int,
    action: CampaignAction,
    *,
    actor: Actor,
    now: datetime,
    org_id: str | None = None,
) -> StateChange:
    """Pause, resume, complete or archive (``activate_campaign`` activates).

    Pausing stops dispatch at once: the scheduler skips the queued jobs of a paused campaign,
    which stay queued and go when it resumes. Completing cancels the queued ones.
    ``InvalidTransition`` when the action does not apply to the campaign's state.
    """
    if action is CampaignAction.ACTIVATE:
        raise ValueError("activation goes through activate_campaign")
    with store.transaction() as repos:
        record = _load(repos, campaign_id, org_id)
        target = next_state(record.state, action)
        if not repos.campaigns.move(campaign_id, record.state, target, now):
            raise CampaignRefused("conflict", "the campaign changed meanwhile; try again")
        cancelled = 0
        if target is CampaignState.COMPLETED:
            cancelled = repos.campaigns.cancel_queued(campaign_id, now)
        _audit(repos, actor, target.value, record, now)
    return StateChange(campaign_id, target, jobs_cancelled=cancelled)


def campaign_status(store: Store, campaign_id: int, *, org_id: str | None = None) -> CampaignStatus:
    """The campaign and its progress: enrolled, hold-out, exits, per variant funnel,
    suppressions by reason."""
    with store.reading() as repos:
        record = _load(repos, campaign_id, org_id)
        counts = progress(
            repos.campaigns.enrolment_counts(campaign_id),
            repos.campaigns.job_counts(campaign_id),
            repos.campaigns.clicked_counts(campaign_id),
        )
    warning = (
        holdout_warning(counts.enrolled, record.definition.holdout_percent)
        if counts.enrolled
        else None
    )
    return CampaignStatus(record, counts, (warning,) if warning else ())


def list_campaigns(store: Store, org_id: str, *, limit: int = LIST_LIMIT) -> list[CampaignSummary]:
    """The organisation's campaigns, newest first, each with its headline figures (three
    queries, whatever the number of campaigns)."""
    with store.reading() as repos:
        records = repos.campaigns.of_org(org_id, limit)
        ids = [record.id for record in records]
        enrolled = repos.campaigns.enrolment_counts_of(ids)
        jobs = repos.campaigns.job_counts_of(ids)
    return [
        CampaignSummary(record, progress(enrolled.get(record.id, ()), jobs.get(record.id, ()), {}))
        for record in records
    ]


def campaign_choices(store: Store, org_id: str) -> CampaignChoices:
    """The organisation's segments and the named template families (its own and the global
    ones, with an active version) a new campaign may use."""
    with store.reading() as repos:
        segments = repos.segments.of_org(org_id)
        rows = repos.templates.named_families(org_id)
    covered: dict[str, tuple[set[Purpose], set[Channel], set[str]]] = {}
    for family, purpose, channel, variant in rows:
        purposes, channels, variants = covered.setdefault(family, (set(), set(), set()))
        purposes.add(purpose)
        channels.add(channel)
        variants.add(variant)
    return CampaignChoices(
        segments=tuple(segments),
        families=tuple(
            TemplateFamilyChoice(
                name,
                tuple(sorted(purposes)),
                tuple(sorted(channels)),
                tuple(sorted(variants)),
            )
            for name, (purposes, channels, variants) in sorted(covered.items())
        ),
    )
