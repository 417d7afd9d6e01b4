"""A/B verdicts against examples computed by hand (the arithmetic is in the comments)."""

from __future__ import annotations

import pytest

from outreach.analytics.ab_test import (
    Arm,
    evaluate,
    probability_to_beat,
    two_proportion_test,
    wilson_interval,
)


def test_wilson_interval_of_10_in_100() -> None:
    # p = 0.1, n = 100, z = 1.959964 (95 %), z^2 = 3.841459:
    # centre = (p + z^2/2n) / (1 + z^2/n) = (0.1 + 0.0192073) / 1.0384146 = 0.1147974
    # half   = z * sqrt(p(1-p)/n + z^2/4n^2) / (1 + z^2/n)
    #        = 1.959964 * sqrt(0.0009 + 0.0000960365) / 1.0384146
    #        = 1.959964 * 0.0315600 / 1.0384146 = 0.0595683
    low, high = wilson_interval(10, 100)
    assert low == pytest.approx(0.1147974 - 0.0595683, abs=1e-6)
    assert high == pytest.approx(0.1147974 + 0.0595683, abs=1e-6)


def test_two_proportion_test_of_20_against_10_in_100() -> None:
    # pooled p = 30/200 = 0.15; se = sqrt(0.15 * 0.85 * (1/100 + 1/100)) = 0.0504975
    # z = (0.20 - 0.10) / 0.0504975 = 1.980295; two-sided p = 2 * (1 - Phi(1.980295)) = 0.047670
    z, p = two_proportion_test(20, 100, 10, 100)
    assert z == pytest.approx(1.980295, abs=1e-5)
    assert p == pytest.approx(0.047670, abs=1e-5)


def test_probability_to_beat_control_is_exact() -> None:
    # Control 1 of 2: Beta(2, 2), density 6x(1-x). Variant 2 of 2: Beta(3, 1), CDF y^3.
    # P(variant > control) = 1 - integral of 6x(1-x) * x^3 over [0, 1]
    #                      = 1 - 6 * (1/5 - 1/6) = 0.8
    assert probability_to_beat(2, 2, 1, 2) == pytest.approx(0.8, abs=1e-12)
    # Symmetry: equal data gives even odds.
    assert probability_to_beat(30, 100, 30, 100) == pytest.approx(0.5, abs=1e-9)


def test_verdict_names_the_winner_with_its_numbers() -> None:
    verdict = evaluate([Arm("A", 100, 10), Arm("B", 100, 20)], metric="replied of delivered")
    assert verdict.control == "A"
    b = verdict.result("B")
    assert b.difference == pytest.approx(0.10)
    assert b.lift == pytest.approx(1.0)  # 20 % is twice 10 %
    assert b.p_value == pytest.approx(0.047670, abs=1e-5)
    assert b.probability_to_beat is not None and b.probability_to_beat > 0.97
    assert verdict.warnings == ()
    assert verdict.conclusions == (
        "B beats A: 20.0% vs 10.0% replied of delivered (+10.0 points, p = 0.048); "
        "98% probability B is better.",
    )


def test_the_holdout_is_the_control_and_shows_the_lift() -> None:
    verdict = evaluate(
        [Arm("A", 400, 60), Arm("hold-out", 200, 20, is_holdout=True)],
        metric="booked a visit after enrolment",
    )
    assert verdict.control == "hold-out"
    a = verdict.result("A")
    assert a.difference == pytest.approx(0.05)  # 15 % against 10 %
    assert a.lift == pytest.approx(0.5)  # half as many again
    assert verdict.conclusions and "the hold-out" in verdict.conclusions[0]


def test_a_small_sample_gets_a_plain_warning_and_no_conclusion() -> None:
    verdict = evaluate([Arm("A", 40, 4), Arm("B", 45, 9)], metric="replied of delivered")
    assert verdict.conclusions == ()
    assert len(verdict.warnings) == 2
    assert "too small a sample to conclude" in verdict.warnings[0]
    # The numbers are still there for whoever reads them.
    assert verdict.result("B").p_value is not None


def test_no_difference_is_said_plainly() -> None:
    verdict = evaluate([Arm("A", 500, 100), Arm("B", 500, 104)], metric="clicked")
    assert verdict.conclusions[0].startswith("No clear difference between B and A")
