"""Coverage of the exposure curve's intervals, by simulation with a known curve.

Each simulated study is one comparison: P participants each make 40 judgments at exposures
drawn uniformly from 125 ... 8000 ms and "unlimited" (`analysis.curve_sim`). Participant p's
curve is 0.5 + (a_p - 0.5) F((log2 ms - m - u_p) / s), with u_p ~ N(0, sd_halfway^2) and
a_p = a + U(-spread_a, spread_a). The truth is the logistic curve closest to the population
curve (`pseudo_truth`). Each study is analysed as `crnkit analyze` does
(`fit_exposure_curves`, participant bootstrap with --resamples resamples), and the table shows
how often the 95 % intervals of the halfway exposure and of the asymptote cover the truth,
the median width of the halfway interval in doublings (log2 hi/lo), the share of studies with
an open-ended (0 or infinite) halfway interval, and the share where the halfway exposure was
left empty as not identified (those count as misses). The last line is a JSON summary.

usage: python benchmarks/bench_curves.py [--studies 500] [--resamples 1000] [--workers 2]
"""

from __future__ import annotations

import argparse
import json
import time
from concurrent.futures import ProcessPoolExecutor
from dataclasses import asdict, replace

import numpy as np

from analysis.bootstrap import BootstrapConfig
from analysis.curve_sim import CurveScenario, pseudo_truth, simulate_curve_study
from analysis.curves import fit_exposure_curves


def run_scenario(args: tuple[CurveScenario, int, int, int]) -> dict:
    """Coverage and width of the halfway and asymptote intervals over simulated studies."""
    scenario, studies, resamples, seed = args
    truth = pseudo_truth(scenario)
    truth_ms = float(2 ** truth[1])
    rng = np.random.default_rng(seed)
    hits_m = hits_a = empty = open_ended = 0
    widths = []
    for i in range(studies):
        rows = simulate_curve_study(scenario, rng)
        cfg = BootstrapConfig(n_resamples=resamples, seed=seed + i)
        fit = fit_exposure_curves(rows, cfg).fits.iloc[0]
        hits_a += fit["asymptote_lo"] <= truth[0] <= fit["asymptote_hi"]
        if not np.isfinite(fit["halfway_ms"]):
            empty += 1
            continue
        hits_m += fit["halfway_ms_lo"] <= truth_ms <= fit["halfway_ms_hi"]
        lo, hi = fit["halfway_ms_lo"], fit["halfway_ms_hi"]
        open_ended += lo == 0 or not np.isfinite(hi)
        widths.append(np.log2(hi / lo) if lo > 0 else np.inf)
    out = {k: v for k, v in asdict(scenario).items() if k != "exposures"}
    return out | {
        "studies": studies,
        "true_halfway_ms": truth_ms,
        "true_asymptote": float(truth[0]),
        "halfway_coverage": hits_m / studies,
        "asymptote_coverage": hits_a / studies,
        "halfway_width_doublings": float(np.median(widths)) if widths else float("nan"),
        "open_ended": open_ended / studies,
        "not_identified": empty / studies,
    }


def grid(quick: bool) -> list[CurveScenario]:
    """Participants x curve shapes, plus no and strong participant heterogeneity."""
    people = (10, 20, 40, 80) if not quick else (20, 40)
    shapes = [
        CurveScenario(asymptote=0.8, halfway_ms=400),
        CurveScenario(asymptote=0.3, halfway_ms=1000),
        CurveScenario(asymptote=0.95, halfway_ms=250, spread=0.5),
    ]
    cells = [replace(s, participants=p) for s in shapes for p in people]
    extra = [
        CurveScenario(participants=40, sd_halfway=0.0, spread_a=0.0),
        CurveScenario(participants=40, sd_halfway=1.0, spread_a=0.15),
    ]
    return cells + ([] if quick else extra)


def row_text(r: dict) -> str:
    """One printed line of the table."""
    return (
        f"{r['participants']:>4} {r['asymptote']:>5.2f} {r['halfway_ms']:>6.0f} "
        f"{r['spread']:>4.1f} {r['sd_halfway']:>4.1f} {r['spread_a']:>5.2f} | "
        f"{100 * r['halfway_coverage']:5.1f}% {r['halfway_width_doublings']:6.2f} "
        f"{100 * r['open_ended']:5.1f}% {100 * r['not_identified']:5.1f}% | "
        f"{100 * r['asymptote_coverage']:5.1f}%"
    )


def main() -> None:
    """Run the grid in worker processes; print the table and a JSON summary."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--studies", type=int, default=500, help="simulated studies per cell")
    parser.add_argument("--resamples", type=int, default=1000, help="bootstrap resamples")
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--seed", type=int, default=20261129)
    parser.add_argument("--quick", action="store_true", help="a small grid for a smoke run")
    args = parser.parse_args()
    scenarios = grid(args.quick)
    jobs = [
        (s, args.studies, args.resamples, args.seed + 7919 * k) for k, s in enumerate(scenarios)
    ]
    start = time.perf_counter()
    with ProcessPoolExecutor(args.workers) as pool:
        rows = list(pool.map(run_scenario, jobs))
    seconds = time.perf_counter() - start
    print("   P     a   m_ms    s  sd_m  sd_a | halfway: cover  width  open  empty | a: cover")
    for r in rows:
        print(row_text(r))
    cover = [r["halfway_coverage"] for r in rows]
    summary = {
        "scenarios": len(rows),
        "studies_per_scenario": args.studies,
        "resamples": args.resamples,
        "halfway_coverage_min": min(cover),
        "halfway_coverage_max": max(cover),
        "asymptote_coverage_min": min(r["asymptote_coverage"] for r in rows),
        "asymptote_coverage_max": max(r["asymptote_coverage"] for r in rows),
        "monte_carlo_se_at_95": float(np.sqrt(0.95 * 0.05 / args.studies)),
        "seconds": round(seconds, 1),
    }
    print(json.dumps(summary))


if __name__ == "__main__":
    main()
