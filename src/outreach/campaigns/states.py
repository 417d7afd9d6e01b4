"""The life of a campaign, and of one patient's enrolment in it.

Campaign: ``draft`` (editable, sends nothing) -> ``active`` (enrols and sends) <-> ``paused``
(nothing is dispatched; queued jobs wait) -> ``completed`` (its end date passed or an operator
ended it; queued jobs are cancelled) -> ``archived`` (kept for reports). A draft may be archived
without ever running. Every other move is refused, so an archived campaign never sends again.

Enrolment: ``active`` until its last step is planned (``completed``) or an exit condition holds
(``exited``); hold-out enrolments are ``held_out`` from the start and never get a job.
"""

from __future__ import annotations

import enum


class CampaignState(enum.StrEnum):
    DRAFT = "draft"
    ACTIVE = "active"
    PAUSED = "paused"
    COMPLETED = "completed"
    ARCHIVED = "archived"


class CampaignAction(enum.StrEnum):
    ACTIVATE = "activate"
    PAUSE = "pause"
    RESUME = "resume"
    COMPLETE = "complete"
    ARCHIVE = "archive"


class EnrolmentState(enum.StrEnum):
    ACTIVE = "active"
    HELD_OUT = "held_out"
    COMPLETED = "completed"
    EXITED = "exited"


_TRANSITIONS: dict[tuple[CampaignState, CampaignAction], CampaignState] = {
    (CampaignState.DRAFT, CampaignAction.ACTIVATE): CampaignState.ACTIVE,
    (CampaignState.ACTIVE, CampaignAction.PAUSE): CampaignState.PAUSED,
    (CampaignState.PAUSED, CampaignAction.RESUME): CampaignState.ACTIVE,
    (CampaignState.ACTIVE, CampaignAction.COMPLETE): CampaignState.COMPLETED,
    (CampaignState.PAUSED, CampaignAction.COMPLETE): CampaignState.COMPLETED,
    (CampaignState.DRAFT, CampaignAction.ARCHIVE): CampaignState.ARCHIVED,
    (CampaignState.COMPLETED, CampaignAction.ARCHIVE): CampaignState.ARCHIVED,
}


class InvalidTransition(Exception):
    """The action does not apply to a campaign in this state."""

    def __init__(self, current: CampaignState, action: CampaignAction) -> None:
        allowed = sorted(a.value for (state, a) in _TRANSITIONS if state is current)
        super().__init__(
            f"cannot {action.value} a {current.value} campaign"
            + (f" (allowed: {', '.join(allowed)})" if allowed else " (no action allowed)")
        )
        self.current = current
        self.action = action


def allowed_actions(current: CampaignState) -> tuple[CampaignAction, ...]:
    """The actions a campaign in ``current`` accepts, in the order a page offers them."""
    return tuple(a for a in CampaignAction if (CampaignState(current), a) in _TRANSITIONS)


def next_state(current: CampaignState, action: CampaignAction) -> CampaignState:
    """The state ``action`` leads to from ``current``; ``InvalidTransition`` when none."""
    try:
        return _TRANSITIONS[(CampaignState(current), CampaignAction(action))]
    except KeyError:
        raise InvalidTransition(CampaignState(current), CampaignAction(action)) from None
