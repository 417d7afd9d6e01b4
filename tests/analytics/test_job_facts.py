"""A job's funnel facts depend on the set of its reports and replies, never on their order or
repetition; a later step implies the earlier ones it cannot happen without."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta

from hypothesis import given
from hypothesis import strategies as st

from outreach.analytics.job_facts import (
    FunnelState,
    JobSnapshot,
    JobSources,
    ProviderReport,
    ReplyFact,
    VisitOutcome,
    job_facts,
    stat_counts,
)
from outreach.analytics.rollup import rollup_change, rollup_of
from outreach.domain import JobStatus

T0 = datetime(2026, 3, 2, 3, 30, tzinfo=UTC)


def job(status: JobStatus = JobStatus.SENT, **fields: object) -> JobSnapshot:
    values: dict = {
        "job_id": 1,
        "org_id": "org",
        "purpose": "appt_confirm",
        "channel": "sms",
        "campaign_id": None,
        "variant": None,
        "status": status,
        "suppression_reason": None,
        "requested_at": T0,
        "created_at": T0,
        "sent_at": T0 + timedelta(minutes=1) if status is JobStatus.SENT else None,
        "appointment_id": None,
    }
    values.update(fields)
    return JobSnapshot(**values)


def report(status: str, minutes: float, price: int | None = None) -> ProviderReport:
    return ProviderReport(status, T0 + timedelta(minutes=minutes), "twilio", price, "USD")


def test_the_day_is_the_organisations() -> None:
    # 03:30 UTC on 2 March is still 1 March in New York.
    facts = job_facts(JobSources(job()), "America/New_York")
    assert facts.group.day == date(2026, 3, 1)
    assert job_facts(JobSources(job()), None).group.day == date(2026, 3, 2)


def test_a_reply_means_delivered_and_a_click_means_opened() -> None:
    facts = job_facts(
        JobSources(
            job(channel="email"),
            reports=[report("clicked", 30)],
            replies=[ReplyFact(T0 + timedelta(minutes=40), "confirm")],
        ),
        None,
    )
    assert facts.opened_at == facts.clicked_at == T0 + timedelta(minutes=30)
    assert facts.delivered_at == T0 + timedelta(minutes=30)
    assert facts.state is FunnelState.DELIVERED
    assert facts.confirmed_at == T0 + timedelta(minutes=40)


def test_a_delivery_outranks_a_contradicting_failure() -> None:
    both = [report("failed", 2), report("delivered", 3)]
    assert job_facts(JobSources(job(), reports=both), None).state is FunnelState.DELIVERED
    assert job_facts(JobSources(job(), reports=both[:1]), None).state is FunnelState.FAILED


def test_where_a_job_that_never_went_stands() -> None:
    cases = {
        JobStatus.QUEUED: FunnelState.QUEUED,
        JobStatus.PROCESSING: FunnelState.QUEUED,
        JobStatus.SUPPRESSED: FunnelState.SUPPRESSED,
        JobStatus.CANCELLED: FunnelState.CANCELLED,
        JobStatus.FAILED: FunnelState.FAILED,
    }
    for status, state in cases.items():
        facts = job_facts(JobSources(job(status, sent_at=None)), None)
        assert facts.state is state
        assert stat_counts(facts)["sent"] == 0


def test_attended_and_no_show_count_only_after_a_confirmation() -> None:
    visit = VisitOutcome("attended", T0 + timedelta(days=1))
    unconfirmed = job_facts(JobSources(job(), visit=visit), None)
    confirmed = job_facts(
        JobSources(job(), replies=[ReplyFact(T0 + timedelta(minutes=5), "confirm")], visit=visit),
        None,
    )
    assert stat_counts(unconfirmed)["attended"] == 0
    assert stat_counts(confirmed)["attended"] == 1


_REPORTS = st.lists(
    st.tuples(
        st.sampled_from(["sent", "delivered", "opened", "clicked", "failed", "bounced"]),
        st.integers(0, 600),
        st.sampled_from([None, 7900]),
    ),
    max_size=8,
)
_REPLIES = st.lists(
    st.tuples(st.integers(0, 600), st.sampled_from(["confirm", "stop", "other"])), max_size=3
)


@given(_REPORTS, _REPLIES, st.randoms(use_true_random=False), st.integers(1, 3))
def test_facts_ignore_order_and_repetition(reports, replies, rng, copies) -> None:
    provider_reports = [report(s, m, p) for s, m, p in reports]
    reply_facts = [ReplyFact(T0 + timedelta(minutes=m), i) for m, i in replies]
    once = job_facts(JobSources(job(), provider_reports, reply_facts), "Europe/Paris")
    shuffled = provider_reports * copies
    rng.shuffle(shuffled)
    replayed = reply_facts * copies
    rng.shuffle(replayed)
    assert job_facts(JobSources(job(), shuffled, replayed), "Europe/Paris") == once


@given(_REPORTS, _REPORTS)
def test_a_change_of_facts_moves_the_rollups_to_those_of_the_new_facts(before, after) -> None:
    old = job_facts(JobSources(job(), [report(s, m, p) for s, m, p in before]), None)
    new = job_facts(JobSources(job(channel="email"), [report(s, m, p) for s, m, p in after]), None)
    change = rollup_change({1: old}, {1: new})
    expected = rollup_of([new])
    # old + change == new, row by row
    start = rollup_of([old])
    for group, counts in change.counts.items():
        start.counts.setdefault(group, type(counts)()).update(counts)
    merged = {g: {k: v for k, v in c.items() if v} for g, c in start.counts.items()}
    assert {g: c for g, c in merged.items() if c} == {
        g: dict(c) for g, c in expected.counts.items()
    }
