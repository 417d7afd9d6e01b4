"""Workers that consume the same topics share a consumer group, and only those."""

from __future__ import annotations

from outreach.orchestrator.worker_app import ALL_ROLES, consumer_group_id


def test_groups_follow_the_roles_and_the_chosen_channels() -> None:
    assert consumer_group_id("outreach", ALL_ROLES) == "outreach"
    assert consumer_group_id("outreach", ["status", "channels"]) == "outreach.channels+status"
    assert consumer_group_id("outreach", ["channels"], ["sms"]) == "outreach.channels@sms"
    assert consumer_group_id("outreach", ["channels"], ["sms", "email"]) == (
        consumer_group_id("outreach", ["channels"], ["email", "sms"])
    )
    # Without the channels role the channel choice changes nothing.
    assert consumer_group_id("outreach", ["status"], ["sms"]) == "outreach.status"
    assert len({consumer_group_id("o", ["channels"], c) for c in (["sms"], ["email"], None)}) == 3
