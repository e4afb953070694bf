"""Recovery of a known perceptual threshold by HYPE_time staircases and their analysis.

Each simulated study has P participants who each run the server's own staircase rule
(study.staircase, the study.toml defaults: 3 correct down, 1 wrong up, ×1.6 then ×1.25 steps,
100-1000 ms, start 500 ms) for T trials, half on real and half on generated images drawn from a
pool of images. Exposures are quantised to whole frames of a 60 Hz display, as the server does.

A participant answers correctly with probability
    P(t) = 0.5 + (0.5 - lapse) / (1 + exp(-(log t - log m_p - d_i) / s)),
where m_p varies log-normally between participants (sd `--participant-sd`) and every image has
its own difficulty d_i (sd `--image-sd`). The known truth is the population's threshold as
HYPE_time defines it: the mean over participants of the exposure each answers correctly 79.4 %
of the time (the 3-down/1-up target), on average over images, computed numerically.

The analysis is analysis.staircase (per-participant thresholds from a psychometric fit with a
shared slope and lapse, mean over participants, grouped-jackknife interval). Prints one JSON
object: the share of studies whose 95 % interval holds the truth (the recovery rate), the mean
estimate and its bias, and the bias of the reversal rule (mean of the last reversals) for
comparison.

usage: python benchmarks/bench_staircase.py [--studies 200] [--participants 30] [--trials 60]
"""

from __future__ import annotations

import argparse
import json
import time

import numpy as np
import pandas as pd
from scipy.optimize import brentq

from analysis.staircase import method_thresholds, participant_threshold, reversals
from study import staircase
from study.spec_extra import TASK_TABLES
from study.spec_tasks import StaircaseSpec

TARGET = 0.5 ** (1 / 3)  # where 3-down/1-up converges: 79.4 % correct
FRAME_MS = 1000.0 / 60.0


def default_rule() -> StaircaseSpec:
    """The study.toml defaults of [staircase]."""
    return StaircaseSpec(**{key.name: key.default for key in TASK_TABLES["staircase"]})


def p_correct(t_ms, log_m, d, slope: float, lapse: float):
    """Probability of a correct real/fake answer at exposure t (vectorised)."""
    z = (np.log(t_ms) - log_m - d) / slope
    return 0.5 + (0.5 - lapse) / (1.0 + np.exp(-z))


def true_threshold(args: argparse.Namespace) -> float:
    """Mean over a large population of each participant's 79.4 % point, averaged over images."""
    rng = np.random.default_rng(12345)
    image_d = rng.normal(0.0, args.image_sd, 4000)
    log_ms = np.log(args.threshold_ms) + rng.normal(0.0, args.participant_sd, 4000)

    def point(log_m: float) -> float:
        def gap(log_t: float) -> float:
            return p_correct(np.exp(log_t), log_m, image_d, args.slope, args.lapse).mean() - TARGET

        return float(np.exp(brentq(gap, np.log(1.0), np.log(1e6))))

    # The 79.4 % point of a participant with log_m = 0, shifted: thresholds scale with m_p.
    base = point(0.0)
    return float(np.mean(base * np.exp(log_ms)))


def run_participant(rule, log_m, image_d, args, rng) -> pd.DataFrame:
    """One participant's staircase trials as export-like rows."""
    state = staircase.start(rule)
    rows = []
    images = rng.choice(len(image_d), size=args.trials, replace=False)
    for step, image in enumerate(images):
        target = staircase.quantise_ms(state.level_ms, FRAME_MS)
        p = p_correct(target, log_m, image_d[image], args.slope, args.lapse)
        correct = bool(rng.random() < p)
        rows.append((step, target, int(image), correct))
        state = staircase.advance(rule, state, correct)
    return pd.DataFrame(rows, columns=["step", "exposure_ms_target", "image_id", "correct"])


def one_study(args, rule, seed: int) -> dict:
    """Simulate a study and estimate the threshold with its interval."""
    rng = np.random.default_rng(seed)
    image_d = rng.normal(0.0, args.image_sd, args.images)
    log_base = np.log(args.threshold_ms)
    parts = []
    for person in range(args.participants):
        log_m = log_base + rng.normal(0.0, args.participant_sd)
        track = run_participant(rule, log_m, image_d, args, rng)
        track["reversal"] = reversals(track["exposure_ms_target"].to_numpy())
        parts.append(track.assign(participant_id=f"p{person}"))
    tracks = pd.concat(parts, ignore_index=True).assign(
        study_id="sim", dataset="sim", task="crn_time", method="crn"
    )
    summary = method_thresholds(tracks, 0.95).iloc[0]
    by_reversals = [
        participant_threshold(group["exposure_ms_target"].to_numpy(), rule.threshold_reversals)[0]
        for _, group in tracks.groupby("participant_id")
    ]
    return {
        "estimate": summary["threshold_ms"],
        "lo": summary["lo"],
        "hi": summary["hi"],
        "reversal_estimate": float(np.nanmean(by_reversals)),
    }


def main() -> None:
    """Run the simulated studies and print the recovery rate as JSON."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--studies", type=int, default=200)
    parser.add_argument("--participants", type=int, default=30)
    parser.add_argument("--trials", type=int, default=60)
    parser.add_argument("--images", type=int, default=200)
    parser.add_argument("--threshold-ms", type=float, default=250.0, help="m of a typical person")
    parser.add_argument("--participant-sd", type=float, default=0.3, help="sd of log m")
    parser.add_argument("--image-sd", type=float, default=0.3, help="sd of image difficulty")
    parser.add_argument("--slope", type=float, default=0.35, help="s, in log ms")
    parser.add_argument("--lapse", type=float, default=0.02)
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()
    rule = default_rule()
    started = time.perf_counter()
    truth = true_threshold(args)
    results = pd.DataFrame([one_study(args, rule, args.seed + k) for k in range(args.studies)])
    covered = (results["lo"] <= truth) & (truth <= results["hi"])
    print(
        json.dumps(
            {
                "benchmark": "staircase_threshold_recovery",
                "studies": args.studies,
                "participants": args.participants,
                "trials_per_participant": args.trials,
                "images": args.images,
                "participant_sd": args.participant_sd,
                "image_sd": args.image_sd,
                "true_threshold_ms": round(truth, 2),
                "mean_estimate_ms": round(float(results["estimate"].mean()), 2),
                "relative_bias": round(float(results["estimate"].mean() / truth - 1), 4),
                "mean_interval_width_ms": round(float((results["hi"] - results["lo"]).mean()), 2),
                "reversal_rule_relative_bias": round(
                    float(results["reversal_estimate"].mean() / truth - 1), 4
                ),
                "recovery_rate": round(float(covered.mean()), 4),
                "target": ">= 0.90",
                "seconds": round(time.perf_counter() - started, 1),
            }
        )
    )


if __name__ == "__main__":
    main()
