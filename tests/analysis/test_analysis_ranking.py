"""Bradley-Terry strengths: per-exposure strata, Firth estimates, separation, intervals, gaps."""

from __future__ import annotations

import itertools

import numpy as np
import pandas as pd
import pytest
from scipy.special import expit

from analysis.bootstrap import BootstrapConfig
from analysis.bradley_terry import fit_bradley_terry, is_connected, profile_interval
from analysis.ranking import rank_methods

TRUE = {"real": 1.5, "crn": 0.5, "encdec": -0.5, "pix2pix": -1.5}


def _judgments(rng, truth=TRUE, per_pair=150, people=30, exposure="unlimited", pairs=None):
    rows = []
    for a, b in pairs or itertools.combinations(sorted(truth), 2):
        p_a = expit(truth[a] - truth[b])
        for i in range(per_pair):
            chose_a = rng.random() < p_a
            rows.append(
                {
                    "study_id": "s",
                    "dataset": "city",
                    "participant_id": f"p{i % people}",
                    "comparison": f"{a}_vs_{b}",
                    "exposure": exposure,
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
    assert (table["exposure"] == "unlimited").all() and (table["interval"] == "bootstrap").all()
    assert table["strength"].sum() == pytest.approx(0.0, abs=1e-9)
    truth = np.array([TRUE[m] for m in table["method"]])
    assert table["strength"].to_numpy() == pytest.approx(truth, abs=0.35)
    assert (table["strength_lo"] < table["strength"]).all()
    assert (table["strength"] < table["strength_hi"]).all()
    assert (table["judgments"] == 450).all()  # 3 pairs x 150 per method
    assert (table["wins"] + table["losses"] == table["judgments"]).all()
    assert not table["separated"].any()


def test_each_exposure_is_ranked_on_its_own():
    rng = np.random.default_rng(2)
    flat = dict.fromkeys(TRUE, 0.0)
    # At 125 ms nobody can tell the methods apart; real is only compared at unlimited, where it
    # wins. Pooled, real would top a ranking that 125 ms judgments had no say in.
    short = _judgments(rng, flat, exposure="125", pairs=[("crn", "pix2pix"), ("crn", "encdec")])
    long = _judgments(rng, exposure="unlimited")
    table, _ = rank_methods(pd.concat([short, long]), BootstrapConfig(n_resamples=200))
    assert set(table["exposure"]) == {"125", "unlimited"}
    at_125 = table[table["exposure"] == "125"].set_index("method")
    assert set(at_125.index) == {"crn", "pix2pix", "encdec"}
    assert at_125["strength"].abs().max() < 0.4
    at_unl = table[table["exposure"] == "unlimited"]
    assert list(at_unl["method"]) == ["real", "crn", "encdec", "pix2pix"]
    only, _ = rank_methods(pd.concat([short, long]), BootstrapConfig(n_resamples=20), ["125"])
    assert set(only["exposure"]) == {"125"}


def test_two_methods_match_the_closed_forms():
    wins = np.array([[0.0, 30.0], [10.0, 0.0]])
    # Maximum likelihood: log(wins / losses); Firth (Jeffreys prior): half a win added to each.
    ml = fit_bradley_terry(wins, ridge=0.0, firth=False)
    firth = fit_bradley_terry(wins, ridge=0.0)
    assert ml[0] - ml[1] == pytest.approx(np.log(3.0), abs=1e-5)
    assert firth[0] - firth[1] == pytest.approx(np.log(30.5 / 10.5), abs=1e-6)


def test_a_stack_of_problems_equals_separate_fits():
    rng = np.random.default_rng(3)
    stack = rng.integers(0, 60, size=(8, 4, 4)).astype(float)
    for w in stack:
        np.fill_diagonal(w, 0)
    stack[0, 0, :] = 0  # one problem where method 0 never wins
    together = fit_bradley_terry(stack)
    apart = np.stack([fit_bradley_terry(w) for w in stack])
    assert together == pytest.approx(apart, abs=1e-6)


def test_a_method_that_never_loses_has_a_finite_estimate_and_a_wide_interval():
    wins = np.array([[0.0, 20.0], [0.0, 0.0]])
    theta = fit_bradley_terry(wins, ridge=0.0)
    assert theta[0] - theta[1] == pytest.approx(np.log(20.5 / 0.5), abs=1e-6)
    lo, hi = profile_interval(wins, theta, 0, 0.95)
    # The old ridge fit gave [6.85, 6.90]; the profile interval is several units wide.
    assert lo < theta[0] - 0.5 and hi > theta[0] + 1.5
    assert profile_interval(wins, theta, 0, 0.95, scale=3.0)[0] < lo


def test_separation_is_flagged_in_the_table_and_the_notes():
    rows = _judgments(np.random.default_rng(4))
    real_lost = (rows["method_a"] == "real") & (rows["chose_a"] == 0)
    rows.loc[real_lost, ["chose_a", "chosen_method"]] = [1, "real"]
    real_lost = (rows["method_b"] == "real") & (rows["chose_a"] == 1)
    rows.loc[real_lost, ["chose_a", "chosen_method"]] = [0, "real"]
    table, notes = rank_methods(rows, BootstrapConfig(n_resamples=200))
    real = table.set_index("method").loc["real"]
    assert real["separated"] and real["losses"] == 0 and "never lost" in real["note"]
    assert (table["interval"] == "profile").all()
    assert real["strength_hi"] - real["strength_lo"] > 2.0
    assert real["strength_lo"] < real["strength"] < real["strength_hi"]
    assert not table.set_index("method").loc[["crn", "encdec", "pix2pix"], "separated"].any()
    assert len(notes) == 1 and "real never lost" in notes[0] and "design effect" in notes[0]


def test_a_group_that_never_loses_is_described():
    wins = pd.concat(
        [
            _judgments(np.random.default_rng(5), pairs=[("crn", "real"), ("encdec", "pix2pix")]),
            _judgments(np.random.default_rng(6), pairs=[("crn", "encdec"), ("real", "pix2pix")]),
        ]
    )
    top = wins["method_a"].isin(["crn", "real"]) & wins["method_b"].isin(["encdec", "pix2pix"])
    wins.loc[top, ["chose_a"]] = 1
    wins.loc[top, "chosen_method"] = wins.loc[top, "method_a"]
    table, notes = rank_methods(wins, BootstrapConfig(n_resamples=50))
    assert "crn, real never lost to encdec, pix2pix" in notes[0]
    assert not table["separated"].any() and (table["interval"] == "profile").all()


def test_profile_intervals_cover_under_separation():
    truth = {"real": 4.5, "crn": 0.0, "encdec": -0.5, "pix2pix": -1.0}
    centred = {m: v - np.mean(list(truth.values())) for m, v in truth.items()}
    rng = np.random.default_rng(8)
    hits, separated = [], 0
    for i in range(20):
        rows = _judgments(rng, truth, per_pair=40, people=20)
        table, _ = rank_methods(rows, BootstrapConfig(n_resamples=50, seed=i))
        separated += bool(table["separated"].any())
        real = table.set_index("method").loc["real"]
        hits.append(real["strength_lo"] <= centred["real"] <= real["strength_hi"])
    assert separated >= 5  # real (99 % wins) often never loses in 120 judgments
    assert np.mean(hits) >= 0.85


def test_disconnected_methods_are_not_ranked():
    assert not is_connected(np.array([[0, 1, 0, 0], [1, 0, 0, 0], [0, 0, 0, 1], [0, 0, 1, 0]]))
    rows = _judgments(np.random.default_rng(1))
    apart = rows[rows["comparison"].isin(["crn_vs_encdec", "pix2pix_vs_real"])]
    table, notes = rank_methods(apart, BootstrapConfig(n_resamples=10))
    assert table.empty and "exposure" in table.columns
    assert "not all linked" in notes[0] and "unlimited" in notes[0]
