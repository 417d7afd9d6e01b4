"""Deterministic A/B assignment."""

from __future__ import annotations

from collections import Counter

import pytest
from hypothesis import given
from hypothesis import strategies as st

from outreach.domain import Channel, Purpose
from outreach.templating import TemplateRecord, assign_variant, template_family


def test_family_ignores_language_and_version() -> None:
    def make(language: str, version: int) -> TemplateRecord:
        return TemplateRecord(
            id=f"{language}{version}",
            org_id="org-1",
            purpose=Purpose.NO_SHOW,
            channel=Channel.SMS,
            language=language,
            version=version,
            body="x",
            declared_variables=(),
        )

    assert template_family(make("en", 1)) == template_family(make("es", 3))
    assert template_family(make("en", 1)) == "org-1/*/no_show/sms"


def test_known_assignment_is_pinned() -> None:
    """A change to the hashing would move patients between arms mid-experiment: make it loud."""
    family = "*/*/appt_reminder/sms"
    picks = [assign_variant(family, f"patient-{i}", {"A": 1, "B": 1}) for i in range(8)]
    assert picks == ["B", "B", "A", "B", "B", "B", "B", "A"]
    reordered = [assign_variant(family, f"patient-{i}", {"B": 1, "A": 1}) for i in range(8)]
    assert reordered == picks


def test_weights_shape_the_split() -> None:
    counts = Counter(assign_variant("fam", f"p{i}", {"A": 9, "B": 1}) for i in range(5000))
    assert 4300 < counts["A"] < 4700


@pytest.mark.parametrize("weights", [{}, {"A": 0}, {"A": -1, "B": 2}])
def test_bad_weights(weights: dict[str, int]) -> None:
    with pytest.raises(ValueError):
        assign_variant("fam", "p", weights)


@given(
    st.text(max_size=20), st.dictionaries(st.sampled_from("ABCD"), st.integers(0, 5), min_size=1)
)
def test_assignment_is_deterministic_and_never_picks_a_zero_weight(
    patient: str, weights: dict[str, int]
) -> None:
    if sum(weights.values()) == 0:
        return
    chosen = assign_variant("fam", patient, weights)
    assert chosen == assign_variant("fam", patient, dict(reversed(list(weights.items()))))
    assert weights[chosen] > 0
