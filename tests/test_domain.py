"""A job's status only moves forward: each move checked against a table written by hand
(``tests/job_lifecycle.py`` and the named cases below), never against the product's own tables,
so a ``can_transition`` that says yes or no to everything fails here."""

from __future__ import annotations

import itertools

import pytest

from outreach.domain import FORWARD_PATH, JobStatus, can_transition
from tests.job_lifecycle import ALLOWED, FORWARD_ORDER, SIDE_EXITS, STATUSES

# The cases a reader would name, each with what a patient or an operator would see.
NAMED_CASES = [
    # (current, new, allowed, why)
    ("queued", "processing", True, "a due job is claimed"),
    ("processing", "sent", True, "the provider accepted it"),
    ("sent", "delivered", True, "the handset got it"),
    ("delivered", "opened", True, "the patient opened it"),
    ("opened", "clicked", True, "the patient followed the link"),
    ("clicked", "replied", True, "the patient answered"),
    ("processing", "delivered", True, "a delivery report overtook the send receipt"),
    ("sent", "replied", True, "an answer without read receipts"),
    ("delivered", "sent", False, "a late 'sent' never undoes 'delivered'"),
    ("replied", "delivered", False, "a late delivery report never undoes the reply"),
    ("processing", "queued", False, "a claim is not undone by a status"),
    ("sent", "processing", False, "a sent job is not claimed again"),
    ("sent", "sent", False, "the same status twice is not a move"),
    ("replied", "replied", False, "the same status twice is not a move"),
    ("queued", "bounced", False, "bounce only after a send"),
    ("processing", "bounced", False, "bounce only after a send"),
    ("sent", "bounced", True, "a bounce report after the send"),
    ("delivered", "bounced", True, "a late bounce after a delivery report"),
    ("opened", "bounced", False, "an opened message did not bounce"),
    ("clicked", "failed", False, "a clicked message did not fail"),
    ("replied", "failed", False, "an answered message did not fail"),
    ("sent", "failed", True, "the provider reports a failure after accepting"),
    ("queued", "cancelled", True, "an appointment cancelled before the send"),
    ("processing", "suppressed", True, "consent withdrawn, caught at send time"),
    ("sent", "cancelled", False, "a message already out cannot be cancelled"),
    ("delivered", "suppressed", False, "a message already out cannot be suppressed"),
    ("failed", "queued", False, "side exits are final"),
    ("failed", "sent", False, "side exits are final"),
    ("bounced", "delivered", False, "side exits are final"),
    ("cancelled", "processing", False, "side exits are final"),
    ("suppressed", "sent", False, "side exits are final"),
    ("failed", "bounced", False, "one side exit never becomes another"),
    ("cancelled", "suppressed", False, "one side exit never becomes another"),
]


def test_the_table_names_every_status() -> None:
    assert set(STATUSES) == {s.value for s in JobStatus} == set(ALLOWED)


def test_the_forward_path_is_in_send_order() -> None:
    assert tuple(s.value for s in FORWARD_PATH) == FORWARD_ORDER


@pytest.mark.parametrize(
    ("current", "new", "allowed"),
    [(c, n, a) for c, n, a, _ in NAMED_CASES],
    ids=[f"{c}->{n}: {why}" for c, n, _, why in NAMED_CASES],
)
def test_named_transitions(current: str, new: str, allowed: bool) -> None:
    assert can_transition(JobStatus(current), JobStatus(new)) is allowed


@pytest.mark.parametrize(
    ("current", "new"),
    list(itertools.product(STATUSES, STATUSES)),
    ids=[f"{c}->{n}" for c, n in itertools.product(STATUSES, STATUSES)],
)
def test_every_pair_matches_the_table(current: str, new: str) -> None:
    assert can_transition(JobStatus(current), JobStatus(new)) is (new in ALLOWED[current])


@pytest.mark.parametrize("status", STATUSES)
def test_only_side_exits_are_terminal(status: str) -> None:
    assert JobStatus(status).is_terminal_exit is (status in SIDE_EXITS)
