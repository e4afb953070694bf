"""HYPE_time thresholds: reversals, the reversal rule, the psychometric fit and its interval."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from analysis.staircase import (
    TARGET,
    fit_thresholds,
    method_thresholds,
    participant_threshold,
    reversals,
)


def test_reversals_are_the_turning_points_of_the_track():
    track = [500, 500, 500, 312, 312, 312, 195, 195, 312, 312, 312, 250, 312]
    assert list(np.flatnonzero(reversals(track))) == [7, 10, 11]
    assert not reversals([500, 400, 300, 300, 200]).any()


def test_reversal_threshold_skips_the_first_and_pairs_peaks_with_valleys():
    track = [500, 400, 300, 400, 300, 400, 300, 400]  # reversals at 300 400 300 400 300
    value, used = participant_threshold(np.array(track, float), n_reversals=6)
    assert used == 4 and value == pytest.approx(np.sqrt(300 * 400))
    assert np.isnan(participant_threshold(np.array([500, 400, 300.0]), 6)[0])


def _simulated(thresholds_ms, trials=400, slope=0.3, seed=0):
    rng = np.random.default_rng(seed)
    rows = []
    for person, tau in enumerate(thresholds_ms):
        t = np.exp(rng.uniform(np.log(60), np.log(1500), trials))
        q = (TARGET - 0.5) / 0.48
        z = np.log(t / tau) / slope + np.log(q / (1 - q))
        p = 0.5 + 0.48 / (1 + np.exp(-z))
        rows.append(
            pd.DataFrame(
                {
                    "exposure_ms_target": t,
                    "correct": rng.random(trials) < p,
                    "participant_id": f"p{person}",
                }
            )
        )
    return pd.concat(rows, ignore_index=True)


def test_fit_recovers_known_thresholds_and_the_interval_holds_their_mean():
    truth = [150.0, 250.0, 400.0, 200.0, 300.0, 350.0]
    rows = _simulated(truth)
    codes, people = pd.factorize(rows["participant_id"], sort=True)
    log_t = np.log(rows["exposure_ms_target"].to_numpy())
    tau, slope, _ = fit_thresholds(log_t, rows["correct"].to_numpy(), codes, len(people))
    assert tau == pytest.approx(truth, rel=0.2) and slope == pytest.approx(0.3, rel=0.3)
    tracks = rows.assign(study_id="s", dataset="d", task="t", method="crn")
    summary = method_thresholds(tracks, 0.95).iloc[0]
    assert summary["n_participants"] == 6 and summary["lo"] < np.mean(truth) < summary["hi"]
