"""When a step falls due, and the job it becomes."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from outreach.campaigns import (
    STEP_SEND_WINDOW,
    CampaignDefinition,
    Enrolment,
    plan_step_job,
    step_timing,
)
from outreach.domain import Channel

NOW = datetime(2027, 1, 10, 12, 0, tzinfo=UTC)
ENROLLED = NOW - timedelta(days=8)
DEFINITION = CampaignDefinition.parse(
    {
        "org_id": "org",
        "name": "Recall",
        "segment_id": 1,
        "exit_on": ["booked"],
        "ends_at": (NOW + timedelta(days=1)).isoformat(),
        "steps": [
            {"template_family": "recall"},
            {"offset_hours": 168, "template_family": "reminder", "channel": "sms"},
            {
                "offset_hours": 240,
                "template_family": "last",
                "wait_until": "clicked",
                "wait_timeout_hours": 48,
            },
        ],
    }
)
ENROLMENT = Enrolment(4, "pat-1", "org", "prov-1", ENROLLED, "B")


def test_a_step_is_due_once_its_offset_after_enrolment_passed() -> None:
    timing = step_timing(DEFINITION, 1, NOW)
    assert timing.due_if_enrolled_by == NOW - timedelta(days=7)
    assert timing.due_if_enrolled_by >= ENROLLED
    assert timing.timed_out_if_enrolled_by is None


def test_a_waiting_step_times_out_after_its_offset_and_timeout() -> None:
    timing = step_timing(DEFINITION, 2, NOW)
    assert timing.timed_out_if_enrolled_by == NOW - timedelta(days=10, hours=48)


def test_the_job_of_a_best_channel_step() -> None:
    choices = frozenset({Channel.EMAIL, Channel.SMS})
    job = plan_step_job(DEFINITION, 0, ENROLMENT, NOW, choices)
    assert job.idempotency_key == "campaign:4:pat-1:step-0"
    assert (job.campaign_id, job.variant, job.patient_id) == (4, "B", "pat-1")
    assert job.channel_hint is None and job.channel_choices == choices
    assert job.requested_at == ENROLLED
    assert job.context == {"template_family": "recall", "campaign_step": 0}
    assert job.source_event_id is None


def test_a_fixed_channel_step_narrows_the_decision_to_it() -> None:
    job = plan_step_job(DEFINITION, 1, ENROLMENT, NOW, frozenset({Channel.SMS}))
    assert job.channel_hint is Channel.SMS and job.channel_choices is None
    assert job.requested_at == ENROLLED + timedelta(days=7)


def test_a_step_may_wait_for_an_hour_within_its_window_but_never_past_the_end_date() -> None:
    endless = CampaignDefinition.parse(
        {"org_id": "o", "name": "n", "segment_id": 1, "steps": [{"template_family": "f"}]}
    )
    job = plan_step_job(endless, 0, ENROLMENT, NOW, frozenset(Channel))
    assert job.deadline == NOW + STEP_SEND_WINDOW
    capped = plan_step_job(DEFINITION, 0, ENROLMENT, NOW, frozenset(Channel))
    assert capped.deadline == DEFINITION.ends_at
