"""Signed one-click unsubscribe links: what they say comes back, nothing else opens one."""

from __future__ import annotations

import pytest

from outreach.domain import Channel
from outreach.templating import (
    InvalidUnsubscribeToken,
    UnsubscribeClaim,
    make_portal_token,
    make_unsubscribe_link,
    make_unsubscribe_token,
    verify_unsubscribe_token,
)

SECRET = "link-secret"
CLAIM = UnsubscribeClaim("pat-ä1", Channel.EMAIL, 12, 3456)


def test_a_token_gives_back_its_claim() -> None:
    assert verify_unsubscribe_token(make_unsubscribe_token(SECRET, CLAIM), SECRET) == CLAIM
    bare = UnsubscribeClaim("p", Channel.EMAIL)
    assert verify_unsubscribe_token(make_unsubscribe_token(SECRET, bare), SECRET) == bare


def test_the_link_is_the_api_route() -> None:
    link = make_unsubscribe_link("https://api.clinic.example/", SECRET, CLAIM)
    assert link.startswith("https://api.clinic.example/api/v1/unsubscribe/")
    assert verify_unsubscribe_token(link.rsplit("/", 1)[1], SECRET) == CLAIM


def test_another_secret_or_a_changed_payload_opens_nothing() -> None:
    token = make_unsubscribe_token(SECRET, CLAIM)
    with pytest.raises(InvalidUnsubscribeToken):
        verify_unsubscribe_token(token, "other-secret")
    other = make_unsubscribe_token(SECRET, UnsubscribeClaim("pat-2", Channel.EMAIL))
    forged = other.split(".")[0] + "." + token.split(".")[1]
    with pytest.raises(InvalidUnsubscribeToken):
        verify_unsubscribe_token(forged, SECRET)


@pytest.mark.parametrize("token", ["", "abc", "a.b.c", "!!.??", "x" * 600])
def test_malformed_tokens_are_refused(token: str) -> None:
    with pytest.raises(InvalidUnsubscribeToken):
        verify_unsubscribe_token(token, SECRET)


def test_a_portal_token_signed_with_the_same_secret_is_no_unsubscribe_token() -> None:
    from datetime import UTC, datetime, timedelta

    from outreach.domain import Purpose
    from outreach.templating import PortalResource

    portal = make_portal_token(
        SECRET,
        "pat-1",
        PortalResource(Purpose.CAMPAIGN_EDUCATION, "1"),
        timedelta(days=1),
        datetime.now(UTC),
    )
    with pytest.raises(InvalidUnsubscribeToken):
        verify_unsubscribe_token(portal, SECRET)
