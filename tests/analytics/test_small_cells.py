"""Small-cell suppression: 1 to 10 shown as "<11", zero shown, rates from hidden counts hidden."""

from __future__ import annotations

import pytest

from outreach.analytics.small_cells import CellPolicy


@pytest.mark.parametrize(
    ("count", "shown"),
    [(0, 0), (1, "<11"), (10, "<11"), (11, 11), (250, 250)],
)
def test_counts_under_the_threshold_are_hidden(count: int, shown: int | str) -> None:
    assert CellPolicy(11).count(count) == shown


def test_a_rate_is_hidden_when_either_of_its_counts_is() -> None:
    policy = CellPolicy(11)
    assert policy.rate(5, 200) is None
    assert policy.rate(12, 8) is None
    assert policy.rate(0, 200) == 0.0
    assert policy.rate(50, 200) == 0.25
    assert policy.rate(50, 0) is None
    assert policy.rate_text(5, 200) == "–"


def test_the_threshold_is_a_setting_and_exact_shows_everything() -> None:
    assert CellPolicy(5).count(4) == "<5"
    assert CellPolicy(5).count(5) == 5
    assert CellPolicy.exact().count(1) == 1
    assert CellPolicy.exact().rate(1, 3) == pytest.approx(1 / 3)
