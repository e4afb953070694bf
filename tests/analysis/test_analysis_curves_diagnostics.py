"""Exposure curves and diagnostics on simulated data with known effects."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from analysis.bootstrap import BootstrapConfig
from analysis.curves import fit_exposure_curves
from analysis.diagnostics import (
    device_summary,
    devices,
    image_preference,
    participant_agreement,
    position_bias,
    timing_summary,
)
from analysis.pipeline import AnalysisOptions, TableOptions, analyse
from analysis.report import write_report
from analysis.synth import SimulationSpec, as_csv_text, simulate_responses
from analysis.validate import validate_responses


def _frame(**changes):
    spec = SimulationSpec(**({"n_participants": 60, "test_trials": 60, "seed": 3} | changes))
    return validate_responses(as_csv_text(simulate_responses(spec)), "sim")


@pytest.fixture(scope="module")
def frame():
    return _frame()


def test_curves_follow_the_simulated_rates_and_keep_unlimited_out(frame):
    tests = frame[frame["kind"] == "test"]
    curves = fit_exposure_curves(tests, BootstrapConfig(n_resamples=200, seed=1), focal="crn")
    fits = curves.fits.set_index("comparison")
    # synth's crn beats pix2pix 90 % of the time and loses to real 70 % at long exposures.
    assert fits.loc["crn_vs_pix2pix", "asymptote"] == pytest.approx(0.9, abs=0.05)
    assert fits.loc["crn_vs_real", "asymptote"] == pytest.approx(0.3, abs=0.05)
    assert (fits["method"] == "crn").all()
    band = curves.bands[curves.bands["comparison"] == "crn_vs_pix2pix"]
    assert band["exposure_ms"].min() == pytest.approx(125) and band["exposure_ms"].max() == 8000
    assert (band["lo"] <= band["fit"] + 1e-9).all() and (band["fit"] <= band["hi"] + 1e-9).all()
    assert fits["n"].sum() == (tests["exposure"] != "unlimited").sum()
    resid = curves.residuals
    unlimited = resid[resid["exposure"] == "unlimited"]
    assert len(unlimited) == 3 and not unlimited["in_fit"].any()
    assert unlimited["fitted"].isna().all() and unlimited["observed"].between(0, 1).all()
    assert resid["n"].sum() == len(tests)


def test_no_curve_with_fewer_than_three_timed_exposures(frame):
    tests = frame[(frame["kind"] == "test") & frame["exposure"].isin(["250", "1000", "unlimited"])]
    curves = fit_exposure_curves(tests, BootstrapConfig(n_resamples=20))
    assert curves.fits["asymptote"].isna().all() and curves.bands.empty
    assert curves.fits["note"].str.contains("needs at least 3").all()
    assert all("needs at least 3" in note for note in curves.notes)
    assert set(curves.residuals["exposure"]) == {"250", "1000", "unlimited"}


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


def test_report_writes_oriented_curves_residuals_and_stratified_rankings(tmp_path, export_csv):
    options = AnalysisOptions(
        paths=(str(export_csv),),
        bootstrap=BootstrapConfig(n_resamples=50),
        table=TableOptions(focal="pix2pix"),
    )
    write_report(analyse(options), tmp_path / "out")
    fits = pd.read_csv(tmp_path / "out" / "exposure_fits.csv")
    with_focal = fits[fits["comparison"].str.contains("pix2pix")]
    assert len(with_focal) and (with_focal["method"] == "pix2pix").all()
    resid = pd.read_csv(tmp_path / "out" / "exposure_residuals.csv", dtype={"exposure": str})
    assert "unlimited" in set(resid["exposure"]) and not resid["in_fit"].all()
    ranks = pd.read_csv(tmp_path / "out" / "rankings.csv", dtype={"exposure": str})
    assert set(ranks["exposure"]) == {"250", "1000", "4000", "unlimited"}
    html = (tmp_path / "out" / "index.html").read_text()
    assert "P(pix2pix chosen)" in html and "Firth" in html and "halfway" in html
