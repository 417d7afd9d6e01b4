"""Campaigns: a marketer's message sequence to a segment. Pure rules, no I/O.

- ``states``: draft -> active <-> paused -> completed -> archived, and what each action may do.
- ``definition``: steps (offset, channel or the patient's best allowed, template family,
  wait-until), exit conditions, A/B weights, hold-out, dates; validated with the path of each
  problem.
- ``assignment``: the variant and hold-out of a patient, from a hash of the campaign and the
  patient (stable across runs and processes), and the thresholds the database applies in bulk.
- ``steps``: when a step falls due and the job it becomes.
- ``progress``: status counts -> what a marketer reads (enrolled, hold-out, per variant funnel).
"""

from outreach.campaigns.assignment import (
    HOLDOUT_WARNING_BELOW,
    MAX_HOLDOUT_PERCENT,
    MIN_HOLDOUT_PERCENT,
    AssignmentThresholds,
    assignment_bucket,
    assignment_thresholds,
    holdout_salt,
    holdout_warning,
    is_held_out,
    variant_for,
    variant_salt,
)
from outreach.campaigns.conditions import EXIT_PRECEDENCE, Condition
from outreach.campaigns.definition import (
    BEST_CHANNEL,
    CampaignDefinition,
    CampaignDefinitionError,
    CampaignStep,
    DefinitionProblem,
)
from outreach.campaigns.progress import CampaignProgress, StatusCount, VariantProgress, progress
from outreach.campaigns.states import (
    CampaignAction,
    CampaignState,
    EnrolmentState,
    InvalidTransition,
    allowed_actions,
    next_state,
)
from outreach.campaigns.steps import (
    STEP_SEND_WINDOW,
    Enrolment,
    StepTiming,
    campaign_job_key,
    plan_step_job,
    step_timing,
)

__all__ = [
    "BEST_CHANNEL",
    "EXIT_PRECEDENCE",
    "HOLDOUT_WARNING_BELOW",
    "MAX_HOLDOUT_PERCENT",
    "MIN_HOLDOUT_PERCENT",
    "STEP_SEND_WINDOW",
    "AssignmentThresholds",
    "CampaignAction",
    "CampaignDefinition",
    "CampaignDefinitionError",
    "CampaignProgress",
    "CampaignState",
    "CampaignStep",
    "Condition",
    "DefinitionProblem",
    "Enrolment",
    "EnrolmentState",
    "InvalidTransition",
    "StatusCount",
    "StepTiming",
    "VariantProgress",
    "allowed_actions",
    "assignment_bucket",
    "assignment_thresholds",
    "campaign_job_key",
    "holdout_salt",
    "holdout_warning",
    "is_held_out",
    "next_state",
    "plan_step_job",
    "progress",
    "step_timing",
    "variant_for",
    "variant_salt",
]
