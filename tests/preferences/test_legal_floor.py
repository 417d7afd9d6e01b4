"""The legal floor's Florida rule is judged by the number's area code."""

from __future__ import annotations

import pytest

from outreach.preferences import FLORIDA_AREA_CODES, is_florida_number
from outreach.preferences.legal_floor import FLORIDA_WINDOW, LEGAL_WINDOW, legal_window


@pytest.mark.parametrize("area_code", sorted(FLORIDA_AREA_CODES))
def test_every_florida_area_code(area_code: str) -> None:
    assert is_florida_number(f"+1{area_code}2345678")


@pytest.mark.parametrize(
    "number",
    ["+12125550199", "+16022345678", "+40721234567", "+443051234567", "+5305123456", None],
)
def test_other_numbers_are_not_florida(number: str | None) -> None:
    assert not is_florida_number(number)


def test_windows() -> None:
    assert LEGAL_WINDOW == (8 * 3600, 21 * 3600)
    assert FLORIDA_WINDOW == (8 * 3600, 20 * 3600)
    assert legal_window(True) == FLORIDA_WINDOW
    assert legal_window(False) == LEGAL_WINDOW
    assert len(FLORIDA_AREA_CODES) == 23
