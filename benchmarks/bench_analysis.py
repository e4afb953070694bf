"""Time the default `crnkit analyze` on a large export; prints one JSON object.

Default size: 1,000,000 test judgments (2,000 simulated participants x 500 test trials, plus
practice and catch trials) on 500 images, 3 comparisons x 8 exposures, written as one
responses.csv with its study.json. It then runs what `crnkit analyze responses.csv --out DIR`
runs, with the default options (crossed intervals, 2,000-resample bootstraps, rankings,
curves, diagnostics, tables, figures, HTML), and reports the seconds of each stage and in all.
Target (docs/analysis.md): under 30 s on the 2-core development machine.

usage: python benchmarks/bench_analysis.py [--participants 2000] [--trials 500]
"""

from __future__ import annotations

import argparse
import json
import tempfile
import time
from pathlib import Path

from analysis import pipeline
from analysis.load import load_responses
from analysis.report import write_report
from analysis.synth import SimulationSpec, simulate_responses, study_json_for


def write_export(folder: Path, participants: int, trials: int) -> Path:
    """A simulated responses.csv and study.json in folder; returns the CSV path."""
    spec = SimulationSpec(
        n_participants=participants, test_trials=trials, catch_trials=4, n_images=500, seed=1
    )
    csv = folder / "responses.csv"
    simulate_responses(spec).to_csv(csv, index=False)
    (folder / "study.json").write_text(json.dumps(study_json_for(spec)), encoding="utf-8")
    return csv


def main() -> None:
    """Write the export, run the analysis stage by stage and print the timings."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--participants", type=int, default=2000)
    parser.add_argument("--trials", type=int, default=500, help="test trials per participant")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        csv = write_export(folder, args.participants, args.trials)
        timings: dict[str, float] = {}
        start = time.perf_counter()
        loaded = load_responses([csv])
        timings["load_and_validate"] = time.perf_counter() - start
        mark = time.perf_counter()
        result = pipeline.analyse(pipeline.AnalysisOptions(paths=(str(csv),)), loaded)
        timings["analyse"] = time.perf_counter() - mark
        mark = time.perf_counter()
        write_report(result, folder / "report")
        timings["write_report"] = time.perf_counter() - mark
        total = time.perf_counter() - start
    judgments = int((loaded.frame["kind"] == "test").sum())
    print(
        json.dumps(
            {
                "test_judgments": judgments,
                "rows": len(loaded.frame),
                "cells": len(result.rates),
                "seconds": {k: round(v, 2) for k, v in timings.items()},
                "total_seconds": round(total, 2),
                "target_seconds": 30,
            }
        )
    )


if __name__ == "__main__":
    main()
