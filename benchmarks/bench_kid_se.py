"""KID's standard error over subsets, checked by simulation with known truth; prints a table.

Features are Gaussian (d = 64; the second set's mean shifted by `shift` in every dimension).
For each design, `reps` independent pairs of sets of n images are drawn; each gets KID as
`crnkit metrics` computes it (mean over 100 subsets of size min(1000, n/2)) and its reported
standard error (the standard deviation of the subset estimates). Known truth: the squared
MMD, estimated once from 20,000 draws per side (unbiased U-statistic, far tighter than any
single set). The table compares the reported standard error with the real spread of KID
across replications, and gives the coverage of KID ± 1.96 SE and, at shift 0, how often
KID - 1.96 SE > 0 (a false "the sets differ").

    python benchmarks/bench_kid_se.py     # 5 CPU-minutes (12 min on a busy 2-core machine)
"""

from __future__ import annotations

import argparse
import json

import numpy as np

from metrics.fid import kid, mmd2_unbiased

D = 64


def true_mmd2(shift: float, rng: np.random.Generator, n: int = 20_000, chunk: int = 2_000) -> float:
    """The unbiased MMD^2 of two 20,000-draw samples, in chunks (memory)."""
    total = []
    for _ in range(n // chunk):
        x = rng.normal(size=(chunk, D))
        y = rng.normal(shift, 1.0, size=(chunk, D))
        total.append(mmd2_unbiased(x, y))
    return float(np.mean(total))


def one_design(n: int, shift: float, reps: int, seed: int) -> dict:
    """Replicate KID on fresh sets; compare its reported SE with its real spread."""
    rng = np.random.default_rng(seed)
    truth = true_mmd2(shift, rng)
    values, ses = [], []
    for rep in range(reps):
        x = rng.normal(size=(n, D))
        y = rng.normal(shift, 1.0, size=(n, D))
        result = kid(x, y, subsets=100, seed=rep)
        values.append(result.value)
        ses.append(result.std)
    values, ses = np.array(values), np.array(ses)
    covered = np.abs(values - truth) <= 1.96 * ses
    return {
        "n": n,
        "shift": shift,
        "true_mmd2": round(truth, 6),
        "mean_kid": round(float(values.mean()), 6),
        "sd_of_kid": round(float(values.std(ddof=1)), 6),
        "mean_reported_se": round(float(ses.mean()), 6),
        "se_over_sd": round(float(ses.mean() / values.std(ddof=1)), 2),
        "coverage_95": round(float(covered.mean()), 3),
        "positive_at_95": round(float((values - 1.96 * ses > 0).mean()), 3),
    }


def main() -> None:
    """Print one JSON line per design, then a Markdown table."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--reps", type=int, default=200)
    parser.add_argument("--seed", type=int, default=0)
    ns = parser.parse_args()
    rows = []
    for n in (50, 200):
        for shift in (0.0, 0.1, 0.3):
            rows.append(one_design(n, shift, ns.reps, ns.seed))
            print(json.dumps(rows[-1]), flush=True)
    head = ("n", "shift", "true MMD²", "mean KID", "SD of KID", "mean SE", "SE/SD", "coverage")
    print("\n| " + " | ".join([*head, "KID > 1.96 SE"]) + " |")
    print("|---:|---:|---:|---:|---:|---:|---:|---:|---:|")
    for r in rows:
        print(
            f"| {r['n']} | {r['shift']} | {r['true_mmd2']:.4f} | {r['mean_kid']:.4f} | "
            f"{r['sd_of_kid']:.4f} | {r['mean_reported_se']:.4f} | {r['se_over_sd']} | "
            f"{r['coverage_95']:.3f} | {r['positive_at_95']:.3f} |"
        )


if __name__ == "__main__":
    main()
