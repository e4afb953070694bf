"""Sample-size planner: numbers worked out by hand from the normal-approximation formulas."""

from __future__ import annotations

import pytest

from analysis.errors import AnalysisInputError
from analysis.planner import design_effect, exact_power, plan_half_width, plan_power


def test_half_width_at_fifty_percent():
    # n = z² p (1 - p) / h² = 3.841459 * 0.25 / 0.0025 = 384.15 -> 385.
    plan = plan_half_width(0.5, 0.05)
    assert plan.judgments == 385
    assert plan.detail["wilson_half_width"] == pytest.approx(0.05, abs=0.001)


def test_half_width_with_design_effect():
    # 3.841459 * 0.16 / 0.0009 = 682.93 -> 683 independent, doubled by a design effect of 2.
    deff = design_effect(icc=0.1, per_participant=11)
    assert deff == pytest.approx(2.0)
    plan = plan_half_width(0.8, 0.03, deff=deff)
    assert (plan.judgments_independent, plan.judgments) == (683, 1366)


def test_power_against_fifty_percent():
    # Cohen's h = 2 asin(sqrt(.6)) - 2 asin(sqrt(.5)) = 0.201358;
    # n = ((1.959964 + 0.841621) / 0.201358)² = 193.58 -> 194.
    plan = plan_power(0.6, power=0.8, alpha=0.05)
    assert plan.detail["cohens_h"] == pytest.approx(0.201358, abs=1e-6)
    assert plan.detail["normal_approximation"] == 194
    # The exact test first reaches 80 % at n = 199: at 194..198 it stays just below.
    assert plan.judgments == 199
    assert plan.detail["exact_power_at_n"] >= 0.8
    assert all(exact_power(n, 0.6) < 0.8 for n in range(97, 199))
    assert plan_power(0.4).judgments == 199  # symmetric around 50 %


def test_exact_power_by_hand():
    # n = 10: reject k <= 1 or k >= 9, size 2 * 11 / 1024 under the null.
    assert exact_power(10, 0.5) == pytest.approx(22 / 1024)
    assert exact_power(194, 0.6) > exact_power(100, 0.6)


def test_bad_plans_are_user_errors():
    with pytest.raises(AnalysisInputError, match="strictly between 0 and 1"):
        plan_half_width(1.0, 0.05)
    with pytest.raises(AnalysisInputError, match="null hypothesis"):
        plan_power(0.5)
    with pytest.raises(AnalysisInputError, match="ICC"):
        design_effect(icc=1.5)
