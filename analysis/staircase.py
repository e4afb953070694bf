"""Perceptual thresholds from adaptive-exposure (HYPE_time) staircases in the response export.

Each participant runs one staircase per task: the exposures of its trials, in trial order, go
down after runs of correct answers and up after wrong ones. A reversal is a trial at which the
direction of that movement turns (a peak or a valley of the exposure track). The participant's
threshold is the geometric mean exposure of its last `threshold_reversals` reversals, never
counting the first one (it ends the large initial steps) (Levitt 1971; Wetherill & Levitt
1965). It estimates the exposure answered correctly with the staircase's target probability
(79.4 % for 3-correct-down / 1-wrong-up).

The reversal rule is reported per participant, but averaging reversals of a 3-down/1-up
staircase lands a few per cent above the 79.4 % point (García-Pérez 1998), so a method's
threshold comes from a psychometric fit instead (`fit_thresholds`: one threshold per
participant, slope and lapse shared). It is the mean of its participants' thresholds, as
HYPE_time reports it (Zhou et al. 2019), with a participant-clustered interval: a grouped
jackknife that refits without each group of participants. A participant's threshold averages
over the images that participant saw. benchmarks/bench_staircase.py shows how often this
interval covers a simulated population's known threshold.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd
from scipy import optimize, stats
from scipy.special import expit

DEFAULT_REVERSALS = 6
TARGET = 0.5 ** (1 / 3)  # 3 correct down / 1 wrong up converges on 79.4 % correct
GUESS = 0.5  # real or fake: chance is one half
MAX_LAPSE = 0.1
JACKKNIFE_GROUPS = 20
MIN_REVERSALS = 2  # fewer usable reversals: the staircase did not settle, no threshold


@dataclass(frozen=True)
class Track:
    """One participant's staircase: exposures in trial order, which trials were reversals."""

    exposures: np.ndarray
    correct: np.ndarray
    reversal: np.ndarray


def reversals(exposures: np.ndarray) -> np.ndarray:
    """Boolean per trial: True where the exposure track turns (peak or valley)."""
    levels = np.asarray(exposures, dtype=float)
    out = np.zeros(len(levels), dtype=bool)
    last_dir = 0
    for k in range(1, len(levels)):
        step = np.sign(levels[k] - levels[k - 1])
        if step == 0:  # same exposure again (answers not yet a full run, or at a limit)
            continue
        if last_dir != 0 and step != last_dir:
            out[k - 1] = True
        last_dir = step
    return out


def participant_threshold(exposures: np.ndarray, n_reversals: int) -> tuple[float, int]:
    """(threshold ms, reversals used): geometric mean of the last n reversals after the first."""
    flags = reversals(exposures)
    levels = np.asarray(exposures, dtype=float)[flags][1:]
    # An even number of reversals pairs every peak with a valley (Wetherill's mid-run estimate).
    count = min(n_reversals, len(levels))
    used = levels[len(levels) - count + count % 2 :] if count else levels[:0]
    if len(used) < MIN_REVERSALS:
        return float("nan"), len(used)
    return float(np.exp(np.log(used).mean())), len(used)


def fit_thresholds(
    log_t: np.ndarray, correct: np.ndarray, person: np.ndarray, n_people: int
) -> tuple[np.ndarray, float, float]:
    """Maximum-likelihood psychometric fit with one threshold per participant and a shared
    slope and lapse: P(correct) = 1/2 + (1/2 - lapse) * expit((log t - log tau_p) / s + c),
    where c makes P(tau_p) exactly the staircase's target (79.4 %).

    Parametrised by the thresholds themselves, which the staircase's trials (placed around
    them) pin down even where slope and lapse are uncertain. Returns (tau_p in ms, s, lapse).
    The fit keeps thresholds within 3 log units of the exposures shown; the result is then
    clipped to the range shown, as a staircase cannot measure beyond its own limits (someone
    who never tells the images apart gets the longest exposure, as on the staircase itself).
    """
    y = correct.astype(float)
    low, high = log_t.min() - 3.0, log_t.max() + 3.0
    start = np.concatenate([np.full(n_people, np.median(log_t)), [np.log(0.3), -3.0]])

    def nll(theta: np.ndarray) -> tuple[float, np.ndarray]:
        tau, slope, lapse = theta[:n_people], np.exp(theta[-2]), MAX_LAPSE * expit(theta[-1])
        span = 1 - GUESS - lapse
        q = (TARGET - GUESS) / span
        z = (log_t - tau[person]) / slope + np.log(q / (1 - q))
        f = expit(z)
        p = np.clip(GUESS + span * f, 1e-9, 1 - 1e-9)
        dl_dz = (y / p - (1 - y) / (1 - p)) * span * f * (1 - f)
        grad_tau = np.bincount(person, -dl_dz / slope, n_people)
        grad_log_s = (dl_dz * -(log_t - tau[person]) / slope).sum()
        dz_dlapse = 1 / ((1 - q) * span)
        dl_dlapse = ((y / p - (1 - y) / (1 - p)) * -f).sum() + (dl_dz * dz_dlapse).sum()
        grad_raw = dl_dlapse * MAX_LAPSE * expit(theta[-1]) * (1 - expit(theta[-1]))
        value = -(y * np.log(p) + (1 - y) * np.log(1 - p)).sum()
        return value, -np.concatenate([grad_tau, [grad_log_s, grad_raw]])

    bounds = [(low, high)] * n_people + [(np.log(0.02), np.log(3.0)), (-10.0, 10.0)]
    res = optimize.minimize(nll, start, jac=True, method="L-BFGS-B", bounds=bounds)
    tau = np.exp(np.clip(res.x[:n_people], log_t.min(), log_t.max()))
    return tau, float(np.exp(res.x[-2])), float(MAX_LAPSE * expit(res.x[-1]))


def jackknife_interval(
    log_t: np.ndarray, correct: np.ndarray, person: np.ndarray, n_people: int, level: float
) -> tuple[float, float, float]:
    """(mean threshold, lo, hi): grouped delete-a-group jackknife over participants.

    The shared slope and lapse tie the participants' fitted thresholds together, so whole
    groups of participants are left out in turn and the fit is redone (Efron & Stein 1981;
    grouped jackknife, Shao & Tu 1995 §5.2); the interval is mean ± t(G - 1) × standard error,
    with G = min(participants, JACKKNIFE_GROUPS) groups assigned in participant order.
    """
    full = fit_thresholds(log_t, correct, person, n_people)[0].mean()
    groups = min(n_people, JACKKNIFE_GROUPS)
    if groups < 3:
        return float(full), float("nan"), float("nan")
    group_of = np.arange(n_people) % groups
    left_out = np.empty(groups)
    for g in range(groups):
        kept_people = np.flatnonzero(group_of != g)
        keep = np.isin(person, kept_people)
        codes = np.searchsorted(kept_people, person[keep])
        left_out[g] = fit_thresholds(log_t[keep], correct[keep], codes, len(kept_people))[0].mean()
    se = np.sqrt((groups - 1) / groups * ((left_out - left_out.mean()) ** 2).sum())
    half = stats.t.ppf(0.5 + level / 2, groups - 1) * se
    return float(full), float(full - half), float(full + half)


def tracks_frame(rows: pd.DataFrame) -> pd.DataFrame:
    """Staircase trials per participant and task, in order, with correctness and reversals."""
    keys = ["study_id", "dataset", "comparison", "participant_id"]
    parts = []
    for _, group in rows.sort_values("trial_index").groupby(keys, sort=True):
        group = group.assign(step=np.arange(len(group)))
        group["reversal"] = reversals(group["exposure_ms_target"].to_numpy())
        parts.append(group)
    if not parts:
        return pd.DataFrame(columns=[*keys, "step", "exposure_ms_target", "correct", "reversal"])
    out = pd.concat(parts, ignore_index=True)
    columns = [*keys, "method_a", "step", "trial_index", "image_id", "shown_method"]
    columns += ["exposure_ms_target", "exposure_ms_measured", "correct", "reversal"]
    return out[columns].rename(columns={"comparison": "task", "method_a": "method"})


def participant_thresholds(tracks: pd.DataFrame, n_reversals: dict[str, int]) -> pd.DataFrame:
    """One row per participant and task: fitted threshold (ms), reversal threshold, trials."""
    parts = []
    for (study, dataset, task), group in tracks.groupby(["study_id", "dataset", "task"], sort=True):
        codes, people = pd.factorize(group["participant_id"], sort=True)
        log_t = np.log(group["exposure_ms_target"].to_numpy(dtype=float))
        tau, slope, lapse = fit_thresholds(log_t, group["correct"].to_numpy(), codes, len(people))
        wanted = n_reversals.get(study, DEFAULT_REVERSALS)
        by_person = group.groupby(codes, sort=True)
        rev = [
            participant_threshold(g["exposure_ms_target"].to_numpy(), wanted) for _, g in by_person
        ]
        parts.append(
            pd.DataFrame(
                {
                    "study_id": study,
                    "dataset": dataset,
                    "task": task,
                    "method": group["method"].iloc[0],
                    "participant_id": people,
                    "trials": by_person.size().to_numpy(),
                    "accuracy": by_person["correct"].mean().to_numpy(),
                    "reversals_used": [used for _, used in rev],
                    "reversal_threshold_ms": [value for value, _ in rev],
                    "threshold_ms": tau,
                    "slope": slope,
                    "lapse": lapse,
                }
            )
        )
    return pd.concat(parts, ignore_index=True) if parts else pd.DataFrame()


def method_thresholds(tracks: pd.DataFrame, level: float) -> pd.DataFrame:
    """Per data set and task: mean threshold over participants with its jackknife interval."""
    rows = []
    for (dataset, task), group in tracks.groupby(["dataset", "task"], sort=True):
        keys = group["study_id"] + "\x00" + group["participant_id"]
        codes, people = pd.factorize(keys, sort=True)
        log_t = np.log(group["exposure_ms_target"].to_numpy(dtype=float))
        correct = group["correct"].to_numpy()
        mean, lo, hi = jackknife_interval(log_t, correct, codes, len(people), level)
        rows.append(
            {
                "dataset": dataset,
                "task": task,
                "method": group["method"].iloc[0],
                "n_participants": len(people),
                "n_trials": len(group),
                "threshold_ms": mean,
                "lo": lo,
                "hi": hi,
            }
        )
    return pd.DataFrame(rows)
