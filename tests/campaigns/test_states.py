"""The life of a campaign: every action allowed from every state, and nothing else."""

from __future__ import annotations

import pytest

from outreach.campaigns import (
    CampaignAction,
    CampaignState,
    InvalidTransition,
    allowed_actions,
    next_state,
)

A, S = CampaignAction, CampaignState
ALLOWED = {
    (S.DRAFT, A.ACTIVATE): S.ACTIVE,
    (S.ACTIVE, A.PAUSE): S.PAUSED,
    (S.PAUSED, A.RESUME): S.ACTIVE,
    (S.ACTIVE, A.COMPLETE): S.COMPLETED,
    (S.PAUSED, A.COMPLETE): S.COMPLETED,
    (S.DRAFT, A.ARCHIVE): S.ARCHIVED,
    (S.COMPLETED, A.ARCHIVE): S.ARCHIVED,
}


@pytest.mark.parametrize("state", list(S))
@pytest.mark.parametrize("action", list(A))
def test_each_action_from_each_state(state: CampaignState, action: CampaignAction) -> None:
    expected = ALLOWED.get((state, action))
    if expected is None:
        with pytest.raises(InvalidTransition, match=f"cannot {action.value} a {state.value}"):
            next_state(state, action)
    else:
        assert next_state(state, action) is expected


def test_the_refusal_says_what_is_allowed() -> None:
    with pytest.raises(InvalidTransition, match=r"allowed: complete, pause"):
        next_state(S.ACTIVE, A.RESUME)
    with pytest.raises(InvalidTransition, match="no action allowed"):
        next_state(S.ARCHIVED, A.ACTIVATE)


def test_the_actions_a_state_allows_are_those_that_lead_somewhere() -> None:
    for state in S:
        assert set(allowed_actions(state)) == {a for (s, a) in ALLOWED if s is state}
    assert allowed_actions(S.ACTIVE) == (A.PAUSE, A.COMPLETE)
    assert allowed_actions(S.ARCHIVED) == ()
