"""Exposure curves and diagnostics on simulated data with known effects."""

from __future__ import annotations

import numpy as np
import pytest

from analysis.curves import fit_exposure_curves
from analysis.diagnostics import (
    device_summary,
    devices,
    image_preference,
    participant_agreement,
    position_bias,
    timing_summary,
)
from analysis.synth import SimulationSpec, as_csv_text, simulate_responses
from analysis.validate import validate_responses


def _frame(**changes):
    spec = SimulationSpec(**({"n_participants": 60, "test_trials": 60, "seed": 3} | changes))
    return validate_responses(as_csv_text(simulate_responses(spec)), "sim")


@pytest.fixture(scope="module")
def frame():
    return _frame()


def test_curves_rise_with_exposure_and_skip_unlimited(frame):
    tests = frame[frame["kind"] == "test"]
    curves = fit_exposure_curves(tests)
    fits = curves.fits.set_index("comparison")
    # The simulated rate moves away from 50 % as exposure grows: up for rates > 0.5.
    assert fits.loc["crn_vs_pix2pix", "slope_per_doubling"] > 0
    assert fits.loc["crn_vs_pix2pix", "p_slope"] < 0.05
    assert fits.loc["crn_vs_real", "slope_per_doubling"] < 0
    band = curves.bands[curves.bands["comparison"] == "crn_vs_pix2pix"]
    assert band["exposure_ms"].min() == pytest.approx(125) and band["exposure_ms"].max() == 8000
    assert (band["lo"] <= band["fit"]).all() and (band["fit"] <= band["hi"]).all()
    assert fits["n"].sum() == (tests["exposure"] != "unlimited").sum()


def test_no_curve_with_a_single_timed_exposure(frame):
    tests = frame[(frame["kind"] == "test") & frame["exposure"].isin(["1000", "unlimited"])]
    curves = fit_exposure_curves(tests)
    assert curves.fits.empty and curves.bands.empty
    assert all("fewer than two exposures" in note for note in curves.notes)


def test_position_bias_is_detected():
    biased = _frame(left_bias=0.6, seed=4)
    table = position_bias(biased[biased["kind"] == "test"]).set_index("comparison")
    assert table.loc["all", "left_rate"] > 0.55 and table.loc["all", "p_value"] < 1e-6
    fair = position_bias(_frame(seed=4).query("kind == 'test'")).set_index("comparison")
    assert abs(fair.loc["all", "left_rate"] - 0.5) < 0.05


def test_image_preference_flags_failing_layouts(frame):
    tests = frame[frame["kind"] == "test"].copy()
    losing = (tests["comparison"] == "crn_vs_pix2pix") & (tests["image_id"] == "img0003")
    tests.loc[losing, "chosen_method"] = "pix2pix"
    tests.loc[losing, "chose_a"] = 0
    table = image_preference(tests)
    flagged = table[table["fails"]]
    assert ("crn_vs_pix2pix", "img0003") in set(
        zip(flagged["comparison"], flagged["image_id"], strict=True)
    )
    assert table.loc[table["fails"], "rate"].max() < 0.5


def test_participant_agreement_and_catch_accuracy(frame):
    trials = frame[frame["kind"] != "practice"]
    table = participant_agreement(trials[trials["kind"] == "test"], trials)
    assert len(table) == 60
    assert table["judgments"].sum() == (trials["kind"] == "test").sum()
    assert table["agreement"].between(0, 1).all() and table["agreement"].mean() > 0.55
    # A participant who always answers against the majority agrees less than anyone else.
    tests = trials[trials["kind"] == "test"].copy()
    contrarian = tests["participant_id"] == "p00000"
    cell_rate = tests.groupby(["comparison", "exposure"])["chose_a"].transform("mean")
    tests.loc[contrarian, "chose_a"] = np.where(cell_rate[contrarian] > 0.5, 0, 1).astype("int8")
    table = participant_agreement(tests, trials).set_index("participant_id")
    assert table["agreement"].idxmin() == "p00000"
    assert table["catch_accuracy"].between(0, 1).all()


def test_devices_and_timing(frame):
    trials = frame[frame["kind"] != "practice"]
    per = devices(trials)
    assert set(per["refresh_hz"].round()) <= {60.0, 120.0}
    summary = device_summary(per)
    assert summary.loc[summary["measure"] == "refresh_hz", "participants"].sum() == 60
    timing = timing_summary(trials).set_index("exposure")
    flagged = (trials["timing_ok"] == 0).sum()
    assert timing.loc["all timed", "flagged"] == flagged
    assert timing.loc["unlimited", "flagged"] == 0
    assert 0 < timing.loc["all timed", "flagged_share"] < 0.1
