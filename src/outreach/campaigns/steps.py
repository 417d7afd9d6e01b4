"""When a campaign step falls due for an enrolment, and the job it becomes.

A step is due once ``enrolled_at + offset`` has passed. A step that waits is sent once its
condition holds, or skipped once ``offset + wait_timeout`` has passed without it. The job is an
ordinary planned job: the orchestrator's decision (consent, marketing opt-in, caps, quiet hours)
still decides its channel and hour, within ``STEP_SEND_WINDOW`` of its due time (and never after
the campaign's end), after which it is suppressed rather than sent late.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from outreach.campaigns.definition import CampaignDefinition
from outreach.domain import Channel
from outreach.planning import PlannedJob

# How long a step's message may wait for an allowed hour (quiet hours, caps) before it is
# pointless: two days keeps a weekly sequence in order.
STEP_SEND_WINDOW = timedelta(days=2)


@dataclass(frozen=True, slots=True)
class Enrolment:
    """One patient's place in a campaign, as step planning reads it."""

    campaign_id: int
    patient_id: str
    org_id: str
    provider_id: str | None
    enrolled_at: datetime
    variant: str | None


@dataclass(frozen=True, slots=True)
class StepTiming:
    """For one step at ``now``: enrolments at or before ``due_if_enrolled_by`` have reached the
    step's offset; for a waiting step, those at or before ``timed_out_if_enrolled_by`` have
    waited long enough and skip it when the condition still does not hold."""

    due_if_enrolled_by: datetime
    timed_out_if_enrolled_by: datetime | None


def step_timing(definition: CampaignDefinition, step_index: int, now: datetime) -> StepTiming:
    step = definition.steps[step_index]
    timed_out = None
    if step.wait_until is not None:
        timed_out = now - step.offset - (step.wait_timeout or timedelta(0))
    return StepTiming(now - step.offset, timed_out)


def campaign_job_key(campaign_id: int, patient_id: str, step_index: int) -> str:
    """The job's idempotency key: one job per campaign, patient and step, however often the
    planning runs."""
    return f"campaign:{campaign_id}:{patient_id}:step-{step_index}"


def plan_step_job(
    definition: CampaignDefinition,
    step_index: int,
    enrolment: Enrolment,
    now: datetime,
    channel_choices: frozenset[Channel],
) -> PlannedJob:
    """The job for ``enrolment``'s step ``step_index``.

    ``channel_choices`` are the channels the step's template family can render; a step with a
    fixed channel narrows the decision to it, a ``best`` step to these.
    """
    step = definition.steps[step_index]
    due_at = enrolment.enrolled_at + step.offset
    deadline = max(due_at, now) + STEP_SEND_WINDOW
    if definition.ends_at is not None:
        deadline = min(deadline, definition.ends_at)
    return PlannedJob(
        idempotency_key=campaign_job_key(enrolment.campaign_id, enrolment.patient_id, step_index),
        org_id=enrolment.org_id,
        patient_id=enrolment.patient_id,
        provider_id=enrolment.provider_id,
        purpose=definition.purpose,
        requested_at=due_at,
        deadline=deadline,
        source_event_id=None,
        channel_hint=step.channel,
        channel_choices=channel_choices if step.channel is None else None,
        campaign_id=enrolment.campaign_id,
        variant=enrolment.variant,
        context={"template_family": step.template_family, "campaign_step": step_index},
    )
