from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from hypothesis import given
from hypothesis import strategies as st

from outreach.domain import BUILTIN_CHANNELS, Channel, Purpose
from outreach.replies import OutstandingRequest, match_reply_to_job
from outreach.replies.matching import normalise_address

NOW = datetime(2026, 11, 21, 12, 0, tzinfo=UTC)
WINDOW = timedelta(hours=48)
PHONE = "+15551230001"


def request(
    job_id: str,
    hours_ago: float,
    *,
    channel: Channel = Channel.SMS,
    address: str = PHONE,
    appointment_id: str | None = "appt-1",
) -> OutstandingRequest:
    return OutstandingRequest(
        job_id=job_id,
        patient_id="pat-1",
        appointment_id=appointment_id,
        channel=channel,
        address=address,
        sent_at=NOW - timedelta(hours=hours_ago),
        purpose=Purpose.APPT_REMINDER,
    )


def test_latest_request_within_the_window_wins() -> None:
    candidates = [request("old", 30), request("new", 2), request("older", 47)]
    assert match_reply_to_job(candidates, Channel.SMS, PHONE, NOW, WINDOW).job_id == "new"


def test_requests_outside_the_window_or_after_the_reply_do_not_match() -> None:
    candidates = [request("stale", 49), request("future", -1)]
    assert match_reply_to_job(candidates, Channel.SMS, PHONE, NOW, WINDOW) is None


def test_window_edges_are_inclusive() -> None:
    assert match_reply_to_job([request("edge", 48)], Channel.SMS, PHONE, NOW, WINDOW) is not None
    assert match_reply_to_job([request("now", 0)], Channel.SMS, PHONE, NOW, WINDOW) is not None


def test_other_channels_and_addresses_do_not_match() -> None:
    candidates = [
        request("wa", 1, channel=Channel.WHATSAPP),
        request("someone-else", 1, address="+15559990000"),
    ]
    assert match_reply_to_job(candidates, Channel.SMS, PHONE, NOW, WINDOW) is None
    wa = match_reply_to_job(candidates, Channel.WHATSAPP, "whatsapp:+1 555-123-0001", NOW, WINDOW)
    assert wa is not None and wa.job_id == "wa"


def test_addresses_are_compared_in_a_normal_form() -> None:
    assert normalise_address(Channel.SMS, "+1 (555) 123-0001") == PHONE
    assert normalise_address(Channel.WHATSAPP, "whatsapp:+15551230001") == PHONE
    assert normalise_address(Channel.SMS, "0015551230001") == PHONE
    assert normalise_address(Channel.EMAIL, "Ana <Ana@Example.ORG>") == "ana@example.org"
    candidates = [request("mail", 3, channel=Channel.EMAIL, address="ana@example.org")]
    found = match_reply_to_job(candidates, Channel.EMAIL, "ANA@example.org ", NOW, WINDOW)
    assert found is not None


def test_ties_are_broken_the_same_way_whatever_the_order() -> None:
    a, b = request("job-a", 5), request("job-b", 5)
    assert match_reply_to_job([a, b], Channel.SMS, PHONE, NOW, WINDOW).job_id == "job-b"
    assert match_reply_to_job([b, a], Channel.SMS, PHONE, NOW, WINDOW).job_id == "job-b"


def test_naive_datetimes_are_refused() -> None:
    with pytest.raises(ValueError, match="timezone-aware"):
        match_reply_to_job([request("x", 1)], Channel.SMS, PHONE, NOW.replace(tzinfo=None), WINDOW)


def test_address_is_kept_out_of_repr() -> None:
    assert PHONE not in repr(request("x", 1))


@given(
    ages=st.lists(st.floats(min_value=-10, max_value=100), max_size=8),
    channels=st.lists(st.sampled_from(list(BUILTIN_CHANNELS)), min_size=8, max_size=8),
    window_hours=st.floats(min_value=0, max_value=72),
)
def test_match_is_the_latest_eligible_request(
    ages: list[float], channels: list[Channel], window_hours: float
) -> None:
    candidates = [request(f"job-{i}", age, channel=channels[i]) for i, age in enumerate(ages)]
    window = timedelta(hours=window_hours)
    found = match_reply_to_job(candidates, Channel.SMS, PHONE, NOW, window)
    eligible = [
        c for c in candidates if c.channel is Channel.SMS and NOW - window <= c.sent_at <= NOW
    ]
    if not eligible:
        assert found is None
    else:
        assert found is not None
        assert found.sent_at == max(c.sent_at for c in eligible)
