"""A campaign's progress as a marketer reads it, from counts the database gives.

Counts are of jobs (messages), per variant: ``sent`` is every job a provider accepted, whatever
happened next; ``delivered`` those the provider reported delivered or anything later on the
forward path (opened, clicked, replied); ``clicked`` those with a click report; ``replied`` those
the patient answered. Suppressed jobs count by reason. Hold-out patients are enrolled but have no
jobs: their number is the baseline the variants are compared with.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable, Mapping
from dataclasses import asdict, dataclass, field
from typing import Any

from outreach.campaigns.states import EnrolmentState
from outreach.domain import JobStatus

_SENT = frozenset(
    {
        JobStatus.SENT,
        JobStatus.DELIVERED,
        JobStatus.OPENED,
        JobStatus.CLICKED,
        JobStatus.REPLIED,
        JobStatus.BOUNCED,
    }
)
_DELIVERED = frozenset(
    {JobStatus.DELIVERED, JobStatus.OPENED, JobStatus.CLICKED, JobStatus.REPLIED}
)


@dataclass(frozen=True, slots=True)
class StatusCount:
    """Jobs of one variant in one status (and suppression reason)."""

    variant: str | None
    status: JobStatus
    suppression_reason: str | None
    jobs: int


@dataclass
class VariantProgress:
    enrolled: int = 0
    queued: int = 0
    sent: int = 0
    delivered: int = 0
    clicked: int = 0
    replied: int = 0
    failed: int = 0
    suppressed: int = 0
    cancelled: int = 0

    @property
    def jobs(self) -> int:
        """Every job the campaign created for the variant, whatever became of it."""
        return self.queued + self.sent + self.failed + self.suppressed + self.cancelled


@dataclass
class CampaignProgress:
    enrolled: int = 0
    held_out: int = 0
    exited: Counter[str] = field(default_factory=Counter)
    completed: int = 0
    variants: dict[str, VariantProgress] = field(default_factory=dict)
    suppressed: Counter[str] = field(default_factory=Counter)

    @property
    def jobs(self) -> int:
        return sum(v.jobs for v in self.variants.values())

    @property
    def sent(self) -> int:
        return sum(v.sent for v in self.variants.values())

    @property
    def queued(self) -> int:
        return sum(v.queued for v in self.variants.values())

    def as_json(self) -> dict[str, Any]:
        """The figures as the API and the CLI show them."""
        return {
            "enrolled": self.enrolled,
            "held_out": self.held_out,
            "completed": self.completed,
            "exited": dict(sorted(self.exited.items())),
            "variants": {name: asdict(v) for name, v in sorted(self.variants.items())},
            "suppressed": dict(sorted(self.suppressed.items())),
        }


def progress(
    enrolments: Iterable[tuple[EnrolmentState, str | None, str | None, int]],
    jobs: Iterable[StatusCount],
    clicked: Mapping[str | None, int],
) -> CampaignProgress:
    """``enrolments``: (state, variant, exit reason, patients); ``jobs``: job counts;
    ``clicked``: jobs with a click report, per variant."""
    result = CampaignProgress()

    def variant(name: str | None) -> VariantProgress:
        return result.variants.setdefault(name or "-", VariantProgress())

    for state, name, exit_reason, patients in enrolments:
        result.enrolled += patients
        if state is EnrolmentState.HELD_OUT:
            result.held_out += patients
            continue
        variant(name).enrolled += patients
        if state is EnrolmentState.EXITED:
            result.exited[exit_reason or "-"] += patients
        elif state is EnrolmentState.COMPLETED:
            result.completed += patients
    for count in jobs:
        counts = variant(count.variant)
        if count.status in _SENT:
            counts.sent += count.jobs
        if count.status in _DELIVERED:
            counts.delivered += count.jobs
        if count.status is JobStatus.REPLIED:
            counts.replied += count.jobs
        if count.status in (JobStatus.QUEUED, JobStatus.PROCESSING):
            counts.queued += count.jobs
        elif count.status is JobStatus.FAILED:
            counts.failed += count.jobs
        elif count.status is JobStatus.CANCELLED:
            counts.cancelled += count.jobs
        elif count.status is JobStatus.SUPPRESSED:
            counts.suppressed += count.jobs
            result.suppressed[count.suppression_reason or "-"] += count.jobs
    for name, jobs in clicked.items():
        variant(name).clicked += jobs
    return result
