"""What the simulator decides for each message: outcomes, reports, replies and faults."""

from __future__ import annotations

import random
from collections import Counter
from datetime import UTC, datetime, timedelta

import pytest

from outreach.sim.provider.config import AutoReply, DeliveryOutcomes, SimConfig
from outreach.sim.provider.faults import decide_fault
from outreach.sim.provider.outcomes import Engagement, choose_outcome, choose_reply, plan_message

NOW = datetime(2026, 11, 21, 12, 0, tzinfo=UTC)


def config(**outcomes: float) -> SimConfig:
    weights = {"delivered": 0, "failed": 0, "bounced": 0, "undelivered": 0, **outcomes}
    return SimConfig(outcomes=DeliveryOutcomes(**weights))


def test_outcomes_follow_their_weights_reproducibly() -> None:
    weighted = config(delivered=0.7, failed=0.1, bounced=0.1, undelivered=0.1)

    rng = random.Random(42)
    drawn = [choose_outcome(weighted, rng) for _ in range(10_000)]
    replay = random.Random(42)
    counts = Counter(drawn)

    assert 0.67 < counts["delivered"] / 10_000 < 0.73
    assert 0.08 < counts["bounced"] / 10_000 < 0.12
    assert [choose_outcome(weighted, replay) for _ in range(10_000)] == drawn


def test_no_weights_means_no_final_report() -> None:
    plan = plan_message("sms", config(), random.Random(0), opted_out=False)

    assert plan.outcome == "sent"
    assert [s.status for s in plan.steps] == ["sent"]


@pytest.mark.parametrize(
    ("channel", "outcome", "statuses", "error"),
    [
        ("sms", "delivered", ["sent", "delivered"], None),
        ("sms", "bounced", ["sent", "undelivered"], "30005"),
        ("sms", "failed", ["sent", "failed"], "30008"),
        ("email", "delivered", ["processed", "delivered"], None),
        ("email", "bounced", ["processed", "bounce"], "5.1.1"),
        ("email", "failed", ["processed", "dropped"], "Invalid"),
        ("email", "undelivered", ["processed", "deferred", "bounce"], "5.7.1"),
        ("whatsapp", "delivered", ["sent", "delivered"], None),
        ("whatsapp", "undelivered", ["sent", "failed"], "131026"),
    ],
)
def test_each_outcome_reports_like_its_provider(channel, outcome, statuses, error) -> None:
    plan = plan_message(channel, config(**{outcome: 1}), random.Random(0), opted_out=False)

    assert [s.status for s in plan.steps] == statuses
    assert plan.steps[-1].error_code == error
    assert [s.after_steps for s in plan.steps] == sorted(s.after_steps for s in plan.steps)


def test_opens_and_clicks_follow_delivery() -> None:
    engaged = SimConfig(
        outcomes=DeliveryOutcomes(
            delivered=1, failed=0, bounced=0, undelivered=0, opened=1, clicked=1
        )
    )

    email = plan_message("email", engaged, random.Random(0), opted_out=False)
    whatsapp = plan_message("whatsapp", engaged, random.Random(0), opted_out=False)

    assert [s.status for s in email.steps] == ["processed", "delivered", "open", "click"]
    assert [s.status for s in whatsapp.steps] == ["sent", "delivered", "read"]


def test_opted_out_recipients_are_dropped_or_failed() -> None:
    everyone_delivered = config(delivered=1)

    email = plan_message("email", everyone_delivered, random.Random(0), opted_out=True)
    whatsapp = plan_message("whatsapp", everyone_delivered, random.Random(0), opted_out=True)

    assert [(s.status, s.error_code) for s in email.steps] == [("dropped", "Unsubscribed Address")]
    assert whatsapp.steps[-1].error_code == "131050"


def test_replies_only_follow_delivery_and_respect_rates() -> None:
    replying = SimConfig(
        outcomes=DeliveryOutcomes(delivered=1, failed=0, bounced=0, undelivered=0),
        auto_replies=[
            AutoReply(body="C", rate=0.3),
            AutoReply(body="STOP", rate=0.1, channels=["sms"]),
        ],
    )
    rng = random.Random(3)
    sms = Counter(getattr(choose_reply(replying, "sms", rng), "body", None) for _ in range(5000))
    email = Counter(
        getattr(choose_reply(replying, "email", rng), "body", None) for _ in range(5000)
    )
    failed = plan_message(
        "sms",
        replying.model_copy(
            update={"outcomes": DeliveryOutcomes(delivered=0, failed=1, bounced=0, undelivered=0)}
        ),
        rng,
        opted_out=False,
    )

    assert 0.27 < sms["C"] / 5000 < 0.33 and 0.08 < sms["STOP"] / 5000 < 0.12
    assert email["STOP"] == 0
    assert failed.reply is None


def test_faults_in_order_outage_address_channel_random() -> None:
    rng = random.Random(0)
    base = SimConfig(forced_errors_by_channel={"sms": 30001}, error_rate=1.0)
    outage = base.model_copy(
        update={
            "outage_from": NOW - timedelta(seconds=1),
            "outage_until": NOW + timedelta(seconds=1),
        }
    )

    assert decide_fault(outage, "sms", "1555", {"1555": 21610}, NOW, rng).code == 20503
    assert decide_fault(base, "sms", "1555", {"1555": 21610}, NOW, rng).code == 21610
    assert decide_fault(base, "sms", "1666", {"1555": 21610}, NOW, rng).code == 30001
    assert decide_fault(base, "email", "a@b.c", {}, NOW, rng).code in (429, 500)
    assert decide_fault(SimConfig(), "email", "a@b.c", {}, NOW, rng) is None
    after = NOW + timedelta(seconds=2)
    assert (
        decide_fault(
            outage.model_copy(update={"error_rate": 0.0, "forced_errors_by_channel": {}}),
            "sms",
            "1",
            {},
            after,
            rng,
        )
        is None
    )


def test_a_patient_with_a_planted_truth_opens_reads_or_answers_only_when_engaged() -> None:
    replies = SimConfig(
        outcomes=DeliveryOutcomes(delivered=1, failed=0, bounced=0, undelivered=0, clicked=1.0),
        auto_replies=[AutoReply(body="YES", rate=0.1), AutoReply(body="C", rate=0.05)],
    )
    engaged, ignored = Engagement(after_minutes=42.0), Engagement(after_minutes=None)

    email = plan_message("email", replies, random.Random(1), False, engaged)
    whatsapp = plan_message("whatsapp", replies, random.Random(1), False, engaged)
    sms = plan_message("sms", replies, random.Random(1), False, engaged)

    assert [s.status for s in email.steps] == ["processed", "delivered", "open", "click"]
    assert [s.status for s in whatsapp.steps] == ["sent", "delivered", "read"]
    assert email.engaged_after_minutes == 42.0
    # On SMS the engagement is the answer, always one of the configured ones.
    assert sms.reply is not None and sms.reply.body in {"YES", "C"}
    assert [s.status for s in sms.steps] == ["sent", "delivered"]
    for channel in ("email", "whatsapp", "sms"):
        plan = plan_message(channel, replies, random.Random(1), False, ignored)
        assert plan.reply is None and plan.engaged_after_minutes is None
        assert not {s.status for s in plan.steps} & {"open", "read", "click"}
