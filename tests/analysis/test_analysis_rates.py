"""Rates, Wilson and Clopper-Pearson intervals, binomial tests and multiple-comparison corrections.

Golden values were computed from the textbook formulas, not from scipy:
Wilson: (p + z²/2n ± z·sqrt(p(1-p)/n + z²/4n²)) / (1 + z²/n), z = 1.959964.
Clopper-Pearson: bounds solving P(X >= k | p_lo) = 0.025 and P(X <= k | p_hi) = 0.025 (by
bisection over exact binomial sums); for k = 0 the upper bound is 1 - 0.025^(1/n).
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from analysis.errors import AnalysisInputError
from analysis.rates import adjust_pvalues, family_statement, rate_table
from crnkit_common.proportions import independent_intervals as proportion_intervals


def test_wilson_and_clopper_pearson_97_of_100():
    ci = proportion_intervals(97, 100)
    assert ci["wilson_lo"] == pytest.approx(0.915481, abs=1e-6)
    assert ci["wilson_hi"] == pytest.approx(0.989745, abs=1e-6)
    assert ci["cp_lo"] == pytest.approx(0.914824, abs=1e-6)
    assert ci["cp_hi"] == pytest.approx(0.993770, abs=1e-6)


def test_wilson_and_clopper_pearson_0_of_20():
    ci = proportion_intervals(0, 20)
    assert ci["wilson_lo"] == pytest.approx(0.0, abs=1e-12)
    assert ci["wilson_hi"] == pytest.approx(0.161125, abs=1e-6)  # (z²/n) / (1 + z²/n)
    assert ci["cp_lo"] == 0.0
    assert ci["cp_hi"] == pytest.approx(1 - 0.025 ** (1 / 20), abs=1e-9)  # 0.168433
    # Two-sided exact test: P(X <= 0) + P(X >= 20) at p = 0.5 = 2 / 2^20.
    assert ci["p_binomial"] == pytest.approx(2 / 2**20, rel=1e-9)


def test_holm_adjustment_by_hand():
    # Sorted: 0.005*4 = 0.02, 0.01*3 = 0.03, 0.03*2 = 0.06, 0.04*1 = 0.04 -> running max 0.06.
    adjusted, reject = adjust_pvalues(np.array([0.01, 0.04, 0.03, 0.005]), "holm")
    assert adjusted == pytest.approx([0.03, 0.06, 0.06, 0.02])
    assert list(reject) == [True, False, False, True]


def test_benjamini_hochberg_by_hand():
    # p*m/rank: 0.02, 0.02, 0.04, 0.04 (running min from the largest).
    adjusted, reject = adjust_pvalues(np.array([0.01, 0.04, 0.03, 0.005]), "bh")
    assert adjusted == pytest.approx([0.02, 0.04, 0.04, 0.02])
    assert reject.all()
    with pytest.raises(AnalysisInputError, match="unknown correction"):
        adjust_pvalues(np.array([0.5]), "bonferonni")


def _judgments(counts: dict[tuple[str, str], tuple[int, int]]) -> pd.DataFrame:
    rows = []
    for (comparison, exposure), (k, n) in counts.items():
        for i in range(n):
            rows.append(
                {
                    "study_id": "s",
                    "dataset": "city",
                    "participant_id": f"p{i % 7}",
                    "image_id": f"i{i % 5}",
                    "comparison": comparison,
                    "exposure": exposure,
                    "method_a": "crn",
                    "method_b": comparison.split("_")[-1],
                    "chose_a": int(i < k),
                }
            )
    return pd.DataFrame(rows)


def test_rate_table_orders_cells_and_adjusts_within_each_exposure():
    counts = {
        ("crn_vs_pix2pix", "unlimited"): (97, 100),
        ("crn_vs_pix2pix", "125"): (55, 100),
        ("crn_vs_pix2pix", "1000"): (70, 100),
        ("crn_vs_encdec", "1000"): (0, 20),
    }
    table = rate_table(_judgments(counts))
    keys = list(zip(table["comparison"], table["exposure"], strict=True))
    assert keys == [
        ("crn_vs_encdec", "1000"),
        ("crn_vs_pix2pix", "125"),
        ("crn_vs_pix2pix", "1000"),
        ("crn_vs_pix2pix", "unlimited"),
    ]
    assert list(table["n"]) == [20, 100, 100, 100]
    assert table["rate"].tolist() == pytest.approx([0.0, 0.55, 0.70, 0.97])
    assert table.loc[3, "wilson_lo"] == pytest.approx(0.915481, abs=1e-6)
    # The 1000 ms family holds two tests; 125 ms and unlimited are families of one.
    at_1000 = table["exposure"] == "1000"
    expected, _ = adjust_pvalues(table.loc[at_1000, "p_value"].to_numpy(), "holm")
    assert table.loc[at_1000, "p_adjusted"].tolist() == pytest.approx(expected.tolist())
    assert table.loc[~at_1000, "p_adjusted"].tolist() == table.loc[~at_1000, "p_value"].tolist()
    assert table.loc[at_1000, "family"].tolist() == ["city / 1000 (2 tests)"] * 2
    whole = rate_table(_judgments(counts), family="table")
    expected, _ = adjust_pvalues(whole["p_value"].to_numpy(), "holm")
    assert whole["p_adjusted"].tolist() == pytest.approx(expected.tolist())
    assert "across the whole table; 4 tests" in family_statement(whole, "holm", 0.05, "table")


def test_headline_columns_are_the_crossed_estimate_and_wider_than_wilson():
    counts = {("crn_vs_pix2pix", "unlimited"): (70, 100)}
    judgments = _judgments(counts)
    # Ten people of ten judgments each: the first seven always chose crn, the last three never.
    judgments["participant_id"] = [f"p{i // 10}" for i in range(100)]
    row = rate_table(judgments).iloc[0]
    assert row["lo"] < row["wilson_lo"] and row["hi"] > row["wilson_hi"]
    assert row["deff"] > 5
    assert (row["n_participants"], row["n_images"]) == (10, 5)
    with pytest.raises(AnalysisInputError, match="unknown family"):
        rate_table(judgments, family="everything")


def test_wilson_and_clopper_pearson_cover_about_95_percent():
    rng = np.random.default_rng(11)
    true_rate, n, studies = 0.8, 60, 300
    hits = {"wilson": 0, "cp": 0}
    for k in rng.binomial(n, true_rate, size=studies):
        ci = proportion_intervals(int(k), n)
        hits["wilson"] += ci["wilson_lo"] <= true_rate <= ci["wilson_hi"]
        hits["cp"] += ci["cp_lo"] <= true_rate <= ci["cp_hi"]
    assert 0.90 <= hits["wilson"] / studies <= 0.99
    assert 0.93 <= hits["cp"] / studies <= 1.0  # exact intervals are conservative
