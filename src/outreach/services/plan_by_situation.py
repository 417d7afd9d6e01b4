"""Campaign steps decided once per situation: the due patients whose decisions read the same
stored values share one decision, taken by the same rules as any patient's, and their jobs are
written by the database chunk by chunk.

A campaign over a million patients holds a few thousand situations (time zone, language,
channels and opt-ins, consent, which addresses are valid...): deciding each once and inserting
in bulk is what makes expanding it take a minute, not several. Whatever a situation cannot
settle is left to the patient-by-patient path that follows (``run_campaigns``): patients with
an opt-out row or recent messages (frequency caps), with addresses not checked when stored, and
situations whose consent expiry inside the sending window changes some members' decision.
"""

from __future__ import annotations

import logging
from collections import Counter
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from datetime import UTC, datetime

from outreach.campaigns import CampaignDefinition, Enrolment, plan_step_job
from outreach.domain import Channel, JobStatus, SuppressionReason
from outreach.preferences import PreferenceLayer, resolve_patient
from outreach.retrying import retry_transient
from outreach.services.plan_events import CAP_HISTORY_WINDOW, decide_job
from outreach.sql.job_repository import JobDecision, NewJob
from outreach.sql.patient_repository import patient_layers
from outreach.sql.situation_repository import Situation, StepScope
from outreach.sql.store import Store

# Stands for "never" when testing whether a situation's earliest consent expiry decides
# anything: no send time reaches it.
_NEVER = datetime(9999, 1, 1, tzinfo=UTC)
# A situation's representative is no patient: its planned job never reaches a table.
_REPRESENTATIVE = "(situation)"
# Tries of a chunk's transaction in all, when it meets a transient error (a deadlock).
CHUNK_ATTEMPTS = 3

logger = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True)
class SituationPlanning:
    """What planning a step by situation did: the jobs it created, the step's new jobs by
    (status, suppression reason), and how many situations were left to the patient-by-patient
    path."""

    created: int
    outcomes: Counter[tuple[JobStatus, SuppressionReason | None]]
    situations: int
    left_to_patients: int


def plan_step_by_situation(
    store: Store,
    definition: CampaignDefinition,
    campaign_id: int,
    step_index: int,
    channel_choices: frozenset[Channel],
    now: datetime,
    due_by: datetime,
    chunk_size: int,
    threads: int = 1,
    is_transient: Callable[[BaseException], bool] = lambda _error: False,
) -> SituationPlanning:
    """Jobs for the step's due enrolments that a situation settles, ``chunk_size`` enrolment
    ids a transaction (jobs and the enrolments moved on together: a crash leaves nothing half
    done, and a rerun finds only what is left).

    With ``threads`` > 1, that many chunks are written at once, each on its own connection:
    the work is the database's, which may have cores to spare. A chunk that meets a transient
    error (a deadlock with another) is tried again, three times in all.
    """
    step = definition.steps[step_index]
    scope = StepScope(
        campaign_id=campaign_id,
        step_index=step_index,
        step_count=len(definition.steps),
        due_by=due_by,
        waiting_for=step.wait_until,
        now=now,
        cap_history_since=now - CAP_HISTORY_WINDOW,
    )
    with store.reading() as repos:
        situations = repos.situations.situations(scope)
        orgs = repos.patients.org_layers({s.org_id for s in situations})
        providers = repos.patients.provider_layers(
            {s.provider_id for s in situations if s.provider_id}
        )
    decided: dict[str, NewJob] = {}
    for situation in situations:
        org = orgs.get(situation.org_id)
        provider = providers.get(situation.provider_id) if situation.provider_id else None
        new_job = _decide(
            situation, definition, campaign_id, step_index, channel_choices, now, org, provider
        )
        if new_job is not None:
            decided[situation.key] = new_job

    def plan(bounds: tuple[int, int | None]) -> int:
        def write() -> int:
            with store.transaction() as repos:
                return repos.situations.plan_chunk(scope, decided, *bounds)

        return retry_transient(
            write,
            is_transient,
            attempts=CHUNK_ATTEMPTS,
            what=f"campaign {campaign_id} step {step_index} chunk after enrolment {bounds[0]}",
        )

    created = 0
    outcomes: Counter[tuple[JobStatus, SuppressionReason | None]] = Counter()
    if decided:
        with store.reading() as repos:
            last_job_before = repos.situations.last_job_id()
        # Every chunk's bounds first: planning a chunk moves its enrolments out of the due ones.
        chunks = list(_chunks(store, scope, chunk_size))
        if threads > 1 and len(chunks) > 1:
            with ThreadPoolExecutor(threads) as pool:
                created = sum(pool.map(plan, chunks))
        else:
            created = sum(map(plan, chunks))
        with store.reading() as repos:
            outcomes = repos.situations.step_outcomes(scope, last_job_before)
        if sum(outcomes.values()) != created:
            # Another scheduler planned the same step meanwhile: the counts hold its jobs too.
            logger.warning(
                "campaign %d step %d: %d jobs created here, %d by all planners",
                campaign_id,
                step_index,
                created,
                sum(outcomes.values()),
            )
    return SituationPlanning(
        created=created,
        outcomes=outcomes,
        situations=len(situations),
        left_to_patients=len(situations) - len(decided),
    )


def _decide(
    situation: Situation,
    definition: CampaignDefinition,
    campaign_id: int,
    step_index: int,
    channel_choices: frozenset[Channel],
    now: datetime,
    org: PreferenceLayer | None,
    provider: PreferenceLayer | None,
) -> NewJob | None:
    """The job the situation's representative gets, or None when its members' decisions may
    differ.

    Members differ only in their consent expiry (all after ``now``; the row holds the
    earliest). An expiry matters only if a channel's send time reaches it, and a later expiry
    refuses fewer channels: so when the earliest expiry decides as "never" would, every
    member's expiry does.
    """
    enrolment = Enrolment(
        campaign_id,
        _REPRESENTATIVE,
        situation.org_id,
        situation.provider_id,
        situation.enrolled_at,
        None,
    )
    job = plan_step_job(definition, step_index, enrolment, now, channel_choices)

    def decision_with(row: dict[str, object]) -> JobDecision:
        layers = patient_layers(
            _REPRESENTATIVE,
            situation.org_id,
            situation.provider_id,
            row,
            org=org,
            provider=provider,
            opted_out=frozenset(),
        )
        return decide_job(job, resolve_patient(layers), (), now)

    row = dict(situation.row)
    decision = decision_with(row)
    expires_at = row["consent_expires_at"]
    # A lapsed consent refuses every channel at ``now``, whatever its date.
    lapses_later = expires_at is not None and expires_at > now
    if lapses_later and decision_with({**row, "consent_expires_at": _NEVER}) != decision:
        return None
    return NewJob(job, decision)


def _chunks(store: Store, scope: StepScope, size: int) -> Iterator[tuple[int, int | None]]:
    """(after, through] enrolment ids of the step's chunks, the last one open."""
    after = 0
    while True:
        with store.reading() as repos:
            through = repos.campaigns.due_chunk_end(
                scope.campaign_id, scope.step_index, scope.due_by, after_id=after, size=size
            )
        yield after, through
        if through is None:
            return
        after = through
