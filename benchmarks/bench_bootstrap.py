"""Benchmark the cluster bootstraps of `analysis.bootstrap`; prints JSON lines.

Default size: 1,000,000 judgments by 2,000 participants on 500 images in 6 comparisons x 8
exposures (48 cells), 10,000 resamples. Reports seconds and peak traced memory of the
participant-clustered and the two-way (participants x images) bootstraps, and the ratio to
a plain pandas loop (draw participants, concat their rows, group-by), timed on a few
resamples in the same run and extrapolated.

usage: python benchmarks/bench_bootstrap.py [--resamples 10000] [--reference-resamples 3]
Run it under `flock /tmp/crnkit-cpu.lock` on a shared machine.
"""

from __future__ import annotations

import argparse
import json
import resource
import time
import tracemalloc
from collections.abc import Callable
from typing import Any

import numpy as np
import pandas as pd
from scipy.special import expit

from analysis.bootstrap import BootstrapConfig, clustered_rates, percentile_interval, twoway_rates


def make_judgments(
    n: int, participants: int, images: int, cells: int, seed: int
) -> dict[str, np.ndarray]:
    """Judgments with participant and image effects; each participant answers n / P trials."""
    rng = np.random.default_rng(seed)
    person = np.repeat(np.arange(participants), n // participants)
    image = rng.integers(0, images, person.size)
    cell = rng.integers(0, cells, person.size)
    base = rng.uniform(-1.5, 1.5, cells)
    eta = base[cell] + rng.normal(0, 0.5, participants)[person] + rng.normal(0, 0.3, images)[image]
    y = (rng.random(person.size) < expit(eta)).astype(np.float64)
    return {"person": person, "image": image, "cell": cell, "y": y}


def measured(fn: Callable[[], Any]) -> tuple[Any, float, float]:
    """Result, wall seconds and peak traced memory (MiB) of fn()."""
    tracemalloc.start()
    start = time.perf_counter()
    result = fn()
    seconds = time.perf_counter() - start
    peak = tracemalloc.get_traced_memory()[1] / 2**20
    tracemalloc.stop()
    return result, seconds, peak


def pandas_loop(data: dict[str, np.ndarray], participants: int, draws: int, seed: int) -> float:
    """Seconds per resample of the plain approach: draw people, concat their rows, group-by."""
    frame = pd.DataFrame({"participant": data["person"], "cell": data["cell"], "y": data["y"]})
    by_person = {p: rows for p, rows in frame.groupby("participant")}
    rng = np.random.default_rng(seed)
    start = time.perf_counter()
    for _ in range(draws):
        picked = rng.integers(0, participants, participants)
        sample = pd.concat([by_person[p] for p in picked], ignore_index=True)
        sample.groupby("cell")["y"].mean()
    return (time.perf_counter() - start) / draws


def bench_participant(data, cells, participants, cfg) -> tuple[dict[str, Any], float]:
    """Seconds and peak memory of the participant-clustered bootstrap (and raw seconds)."""
    strata = np.zeros(participants, dtype=np.int64)
    draws, seconds, peak = measured(
        lambda: clustered_rates(data["person"], data["cell"], data["y"], cells, strata, cfg)
    )
    lo, hi = percentile_interval(draws, cfg.level)
    return {
        "benchmark": "participant_bootstrap",
        "seconds": round(seconds, 3),
        "peak_traced_mib": round(peak, 1),
        "target_s": 2.0,
        "mean_ci_width": round(float(np.mean(hi - lo)), 4),
    }, seconds


def bench_twoway(data, cells, participants, images, cfg) -> dict[str, Any]:
    """Seconds and peak memory of the participants x images bootstrap."""
    p_strata = np.zeros(participants, dtype=np.int64)
    i_strata = np.zeros(images, dtype=np.int64)
    args = (data["person"], data["image"], data["cell"], data["y"], cells, p_strata, i_strata)
    draws, seconds, peak = measured(lambda: twoway_rates(*args, cfg))
    lo, hi = percentile_interval(draws, cfg.level)
    return {
        "benchmark": "twoway_bootstrap",
        "seconds": round(seconds, 3),
        "peak_traced_mib": round(peak, 1),
        "target_s": 60.0,
        "mean_ci_width": round(float(np.mean(hi - lo)), 4),
        "max_rss_mib": round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1),
    }


def run(args: argparse.Namespace) -> list[dict[str, Any]]:
    """All measurements, one dict per JSON line."""
    cells = args.comparisons * args.exposures
    data = make_judgments(args.judgments, args.participants, args.images, cells, args.seed)
    cfg = BootstrapConfig(n_resamples=args.resamples, seed=args.seed)
    size = {
        "judgments": int(data["y"].size),
        "participants": args.participants,
        "images": args.images,
        "cells": cells,
        "resamples": args.resamples,
    }
    fast, fast_s = bench_participant(data, cells, args.participants, cfg)
    per_resample = pandas_loop(data, args.participants, args.reference_resamples, args.seed)
    reference = {
        "benchmark": "pandas_loop_reference",
        "resamples_timed": args.reference_resamples,
        "seconds_per_resample": round(per_resample, 4),
        "extrapolated_seconds": round(per_resample * args.resamples, 1),
        "speedup_participant_bootstrap": round(per_resample * args.resamples / fast_s, 1),
    }
    twoway = bench_twoway(data, cells, args.participants, args.images, cfg)
    return [size | fast, size | reference, size | twoway]


def main() -> None:
    """Parse options, run, print one JSON object per line."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--judgments", type=int, default=1_000_000)
    parser.add_argument("--participants", type=int, default=2_000)
    parser.add_argument("--images", type=int, default=500)
    parser.add_argument("--comparisons", type=int, default=6)
    parser.add_argument("--exposures", type=int, default=8)
    parser.add_argument("--resamples", type=int, default=10_000)
    parser.add_argument("--reference-resamples", type=int, default=3)
    parser.add_argument("--seed", type=int, default=0)
    for line in run(parser.parse_args()):
        print(json.dumps(line), flush=True)


if __name__ == "__main__":
    main()
