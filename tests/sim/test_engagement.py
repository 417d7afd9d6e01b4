"""The planted engagement truth: patients engage promptly around their preferred hour, later
messages wait for it, and the provider simulator reports opens accordingly."""

from __future__ import annotations

import json
import random
import time
from datetime import UTC, datetime

import numpy as np

from outreach.domain import Channel
from outreach.sim.clinic import generate_clinic
from outreach.sim.clinic.engagement import (
    EARLIEST_PREFERRED_HOUR,
    LATEST_PREFERRED_HOUR,
    channel_codes,
    draw_engagement,
    plant_profile,
    prompt_probabilities,
)

from .test_callbacks import ONLY_DELIVERED, configure, send_email

DAY = datetime(2026, 6, 1, 6, tzinfo=UTC)


def test_prompt_engagement_peaks_at_the_preferred_hour_and_differs_by_channel() -> None:
    hours = np.arange(8, 21)
    curve = prompt_probabilities(
        np.full(13, 15), np.ones(13), channel_codes([Channel.EMAIL] * 13), hours, np.zeros(13)
    )
    assert hours[curve.argmax()] == 15
    assert curve[hours == 15][0] > 2.5 * curve[hours == 8][0]
    by_channel = prompt_probabilities(
        np.full(3, 15), np.ones(3), channel_codes(list(Channel)), np.full(3, 15), np.zeros(3)
    )
    whatsapp, email, sms = (
        by_channel[list(Channel).index(c)] for c in (Channel.WHATSAPP, Channel.EMAIL, Channel.SMS)
    )
    assert whatsapp > email > sms


def test_a_message_sent_far_from_the_hour_is_engaged_with_later_around_it() -> None:
    rng = np.random.default_rng(1)
    count = 20_000
    minutes = draw_engagement(
        rng, np.full(count, 19), np.ones(count), channel_codes([Channel.WHATSAPP] * count),
        np.full(count, 9.0), np.zeros(count),
    )  # fmt: skip
    later = minutes[minutes >= 60]
    engaged_at_hour = (9.0 + later / 60.0) % 24
    assert np.isnan(minutes).mean() > 0.3  # many are never read
    assert abs(np.median(engaged_at_hour) - 19.5) < 0.3  # those read later, around 19:00-20:00


def test_planted_hours_are_allowed_hours_and_follow_the_age_band() -> None:
    rng = random.Random(5)
    retirees = [plant_profile(rng, 70, "UTC").preferred_hour for _ in range(2000)]
    young = [plant_profile(rng, 25, "UTC").preferred_hour for _ in range(2000)]
    assert all(EARLIEST_PREFERRED_HOUR <= h <= LATEST_PREFERRED_HOUR for h in retirees + young)
    assert np.mean(retirees) < np.mean(young)


def test_the_clinic_plants_a_truth_per_patient_deterministically() -> None:
    one = generate_clinic(patients=300, seed=9, day_start=DAY)
    two = generate_clinic(patients=300, seed=9, day_start=DAY)
    assert [p.engagement_profile() for p in one.patients] == [
        p.engagement_profile() for p in two.patients
    ]
    assert len({p.preferred_hour for p in one.patients}) > 8
    # The planted truth is never part of what the core platform sends outreach.
    assert all("preferred_hour" not in json.dumps(p.profile()) for p in one.patients)


def test_the_simulator_reports_opens_when_the_planted_truth_says(sim_client, recorder) -> None:
    now = datetime.now(UTC)
    near, far = "near@example.org", "far@example.org"
    configure(
        sim_client,
        outcomes=ONLY_DELIVERED,
        engagement_profiles={
            near: {"timezone": "UTC", "preferred_hour": now.hour, "responsiveness": 2.0},
            far: {"timezone": "UTC", "preferred_hour": (now.hour + 12) % 24, "responsiveness": 2.0},
        },
    )
    sent_at = time.time()
    for number in range(60):
        send_email(sim_client, to=near, job_id=f"near-{number}")
        send_email(sim_client, to=far, job_id=f"far-{number}")
    recorder.wait_for(lambda w: w.path.endswith("/events"), count=1)
    time.sleep(1.5)
    events = [
        event
        for webhook in recorder.snapshot()
        if webhook.path.endswith("/events")
        for event in json.loads(webhook.body)
        if event["event"] == "open"
    ]
    # Stamped when the patient engaged: within the hour, or at their hour half a day later.
    prompt = {
        address: sum(e["email"] == address and e["timestamp"] < sent_at + 3600 for e in events)
        for address in (near, far)
    }
    later = [e for e in events if e["email"] == far and e["timestamp"] >= sent_at + 6 * 3600]
    assert prompt[near] >= 30  # about 45 expected
    assert prompt[far] <= 24  # about 14 expected
    assert prompt[near] - prompt[far] >= 10
    assert later
