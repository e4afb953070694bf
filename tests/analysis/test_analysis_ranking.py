"""Bradley-Terry strengths: recovered order, batch fits, bootstrap intervals, gaps."""

from __future__ import annotations

import itertools

import numpy as np
import pandas as pd
import pytest
from scipy.special import expit

from analysis.bootstrap import BootstrapConfig
from analysis.ranking import fit_bradley_terry, is_connected, rank_methods

TRUE = {"real": 1.5, "crn": 0.5, "encdec": -0.5, "pix2pix": -1.5}


def _judgments(rng, per_pair=150, people=30):
    rows = []
    for a, b in itertools.combinations(sorted(TRUE), 2):
        p_a = expit(TRUE[a] - TRUE[b])
        for i in range(per_pair):
            chose_a = rng.random() < p_a
            rows.append(
                {
                    "study_id": "s",
                    "dataset": "city",
                    "participant_id": f"p{i % people}",
                    "comparison": f"{a}_vs_{b}",
                    "method_a": a,
                    "method_b": b,
                    "chosen_method": a if chose_a else b,
                    "chose_a": int(chose_a),
                }
            )
    return pd.DataFrame(rows)


def test_known_order_is_recovered_with_intervals():
    table, notes = rank_methods(
        _judgments(np.random.default_rng(0)), BootstrapConfig(n_resamples=300, seed=1)
    )
    assert notes == []
    assert list(table["method"]) == ["real", "crn", "encdec", "pix2pix"]
    assert list(table["rank"]) == [1, 2, 3, 4]
    assert table["strength"].sum() == pytest.approx(0.0, abs=1e-9)
    truth = np.array([TRUE[m] for m in table["method"]])
    assert table["strength"].to_numpy() == pytest.approx(truth, abs=0.35)
    assert (table["strength_lo"] < table["strength"]).all()
    assert (table["strength"] < table["strength_hi"]).all()
    assert (table["judgments"] == 450).all()  # 3 pairs x 150 per method


def test_two_methods_match_the_closed_form():
    # With two methods the MLE difference is log(wins / losses).
    wins = np.array([[0.0, 30.0], [10.0, 0.0]])
    theta = fit_bradley_terry(wins, ridge=0.0)
    assert theta[0] - theta[1] == pytest.approx(np.log(3.0), abs=1e-5)


def test_a_stack_of_problems_equals_separate_fits():
    rng = np.random.default_rng(3)
    stack = rng.integers(1, 60, size=(8, 4, 4)).astype(float)
    for w in stack:
        np.fill_diagonal(w, 0)
    together = fit_bradley_terry(stack)
    apart = np.stack([fit_bradley_terry(w) for w in stack])
    assert together == pytest.approx(apart, abs=1e-5)


def test_a_method_that_always_wins_stays_finite():
    wins = np.array([[0.0, 20.0], [0.0, 0.0]])
    theta = fit_bradley_terry(wins)
    assert np.isfinite(theta).all() and theta[0] > theta[1] + 5


def test_disconnected_methods_are_not_ranked():
    assert not is_connected(np.array([[0, 1, 0, 0], [1, 0, 0, 0], [0, 0, 0, 1], [0, 0, 1, 0]]))
    rows = _judgments(np.random.default_rng(1))
    apart = rows[rows["comparison"].isin(["crn_vs_encdec", "pix2pix_vs_real"])]
    table, notes = rank_methods(apart, BootstrapConfig(n_resamples=10))
    assert table.empty
    assert "not all linked" in notes[0]
