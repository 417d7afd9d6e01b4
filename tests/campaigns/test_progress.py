"""Status counts -> the funnel a marketer reads."""

from __future__ import annotations

from outreach.campaigns import EnrolmentState, StatusCount, progress
from outreach.domain import JobStatus

E = EnrolmentState


def test_the_funnel_counts_each_job_at_every_stage_it_passed() -> None:
    result = progress(
        [
            (E.ACTIVE, "A", None, 40),
            (E.COMPLETED, "A", None, 50),
            (E.EXITED, "B", "booked", 7),
            (E.ACTIVE, "B", None, 90),
            (E.HELD_OUT, None, None, 10),
        ],
        [
            StatusCount("A", JobStatus.SENT, None, 10),
            StatusCount("A", JobStatus.DELIVERED, None, 20),
            StatusCount("A", JobStatus.OPENED, None, 5),
            StatusCount("A", JobStatus.REPLIED, None, 2),
            StatusCount("A", JobStatus.BOUNCED, None, 1),
            StatusCount("A", JobStatus.QUEUED, None, 3),
            StatusCount("B", JobStatus.SUPPRESSED, "no_marketing_opt_in", 30),
            StatusCount("B", JobStatus.SUPPRESSED, "frequency_cap", 4),
            StatusCount("B", JobStatus.CANCELLED, None, 6),
        ],
        {"A": 3},
    )
    assert (result.enrolled, result.held_out, result.completed) == (197, 10, 50)
    assert result.exited == {"booked": 7}
    a = result.variants["A"]
    assert (a.enrolled, a.sent, a.delivered, a.clicked, a.replied, a.queued) == (
        90,
        38,
        27,
        3,
        2,
        3,
    )
    b = result.variants["B"]
    assert (b.enrolled, b.sent, b.suppressed, b.cancelled) == (97, 0, 34, 6)
    assert result.suppressed == {"no_marketing_opt_in": 30, "frequency_cap": 4}
    assert "-" not in result.variants  # hold-out patients are in no variant
    assert result.as_json()["variants"]["A"]["delivered"] == 27


def test_every_job_counts_once_in_the_jobs_created_whatever_its_status() -> None:
    result = progress(
        [],
        [StatusCount("A", status, None, 2) for status in JobStatus]
        + [StatusCount("B", JobStatus.SUPPRESSED, "quiet_hours_deadline", 5)],
        {"A": 1},  # a click is a later stage of a job already counted, not another job
    )
    assert result.variants["A"].jobs == 2 * len(JobStatus)
    assert (result.jobs, result.queued) == (2 * len(JobStatus) + 5, 4)  # queued + processing
    assert result.sent == 2 * 6  # sent, delivered, opened, clicked, replied, bounced
    assert "jobs" not in result.as_json()["variants"]["A"]  # the API's answer is unchanged
