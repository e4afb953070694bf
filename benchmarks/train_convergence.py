"""CRN convergence on the synthetic set (CPU): masked validation L1 at step 0 vs at the end.

Trains a small CRN (default 64×128, width 0.1, k = 2, 1,200 steps), prints one JSON line
and saves the last sample grid and the loss curve as docs/img/crn_samples.png and
docs/img/crn_loss.png. Target: final masked validation L1 <= 0.6 × its step-0 value.

usage: flock /tmp/crnkit-cpu.lock python benchmarks/train_convergence.py [--steps 1200]
"""

from __future__ import annotations

import argparse
import json
import shutil
import tempfile
import time
from pathlib import Path

from crn import cli
from crn.engine.metrics import MetricsLog

ROOT = Path(__file__).resolve().parents[1]


def _parse() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--size", default="64x128")
    parser.add_argument("--width", type=float, default=0.1)
    parser.add_argument("--k", type=int, default=2)
    parser.add_argument("--steps", type=int, default=1200)
    parser.add_argument("--images", type=int, default=300, help="synthetic pairs to render")
    parser.add_argument("--val", type=int, default=16, help="validation images")
    parser.add_argument("--lr", type=float, default=1e-4)
    parser.add_argument("--vgg-weights", default="random")
    parser.add_argument("--work", default=None, help="keep data and run here (default: temp)")
    parser.add_argument("--img-dir", default=str(ROOT / "docs" / "img"))
    return parser.parse_args()


def _run(argv: list[object]) -> None:
    if cli.main([str(a) for a in argv]) != 0:
        raise SystemExit(f"failed: crnkit {' '.join(map(str, argv))}")


def _train(ns: argparse.Namespace, work: Path) -> tuple[Path, float]:
    """Render data, split it, train; return the run folder and the training seconds."""
    data, splits, run = work / "synth", work / "splits.json", work / "run"
    # fmt: off
    _run(["data", "synth", "--out", data, "--n", ns.images, "--size", ns.size, "--seed", 0])
    _run(["data", "split", "--source", "synthetic", "--root", data, "--out", splits,
          "--size", ns.size, "--val", ns.val, "--test", 8])
    start = time.perf_counter()
    _run(["train", "crn", "--splits", splits, "--out", run, "--width", ns.width, "--k", ns.k,
          "--lr", ns.lr, "--steps", ns.steps, "--vgg-weights", ns.vgg_weights,
          "--val-every", max(ns.steps // 12, 1), "--val-images", ns.val, "--log-every", 10,
          "--sample-every", ns.steps, "--sample-images", 4, "--no-progress"])
    # fmt: on
    return run, time.perf_counter() - start


def _plot(records: list[dict], path: Path) -> None:
    """Training loss (running mean) and masked validation L1 against the step."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    train = [r for r in records if r["kind"] == "train"]
    val = [r for r in records if r["kind"] == "val"]
    fig, left = plt.subplots(figsize=(7, 3.6), dpi=120)
    left.plot(
        [r["step"] for r in train],
        [r["losses"]["total"] for r in train],
        color="tab:blue",
        lw=1,
        label="training loss (diversity, auto weights)",
    )
    left.set_xlabel("step")
    left.set_ylabel("training loss", color="tab:blue")
    right = left.twinx()
    right.plot(
        [r["step"] for r in val],
        [r["val_l1"] for r in val],
        "o-",
        color="tab:red",
        label="masked val L1 (mean of k)",
    )
    right.plot(
        [r["step"] for r in val],
        [r["val_l1_best"] for r in val],
        "s--",
        color="tab:orange",
        label="masked val L1 (best of k)",
    )
    right.set_ylabel("masked validation L1", color="tab:red")
    right.set_ylim(bottom=0)
    handles = left.get_legend_handles_labels()[0] + right.get_legend_handles_labels()[0]
    left.legend(handles=handles, loc="upper right", fontsize=8)
    left.set_title("CRN on the synthetic set (CPU)")
    fig.tight_layout()
    fig.savefig(path)
    plt.close(fig)


def main() -> None:
    """Train, save the figures, print the JSON result."""
    ns = _parse()
    work = Path(ns.work) if ns.work else Path(tempfile.mkdtemp(prefix="crn-convergence-"))
    try:
        run, seconds = _train(ns, work)
        records = MetricsLog(run / "metrics.jsonl").read()
        val = [r for r in records if r["kind"] == "val"]
        img_dir = Path(ns.img_dir)
        img_dir.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(run / "samples" / f"step_{ns.steps:06d}.png", img_dir / "crn_samples.png")
        _plot(records, img_dir / "crn_loss.png")
    finally:
        if not ns.work:
            shutil.rmtree(work, ignore_errors=True)
    first, last = val[0], val[-1]
    ratio = last["val_l1"] / first["val_l1"]
    print(
        json.dumps(
            {
                "benchmark": "crn_convergence",
                "size": ns.size,
                "width": ns.width,
                "k": ns.k,
                "steps": ns.steps,
                "lr": ns.lr,
                "vgg_weights": ns.vgg_weights,
                "train_seconds": round(seconds, 1),
                "s_per_step": round(seconds / ns.steps, 3),
                "val_l1_step0": round(first["val_l1"], 4),
                "val_l1_final": round(last["val_l1"], 4),
                "val_l1_best_step0": round(first["val_l1_best"], 4),
                "val_l1_best_final": round(last["val_l1_best"], 4),
                "ratio": round(ratio, 3),
                "target_ratio": 0.6,
                "pass": ratio <= 0.6,
                "curve": [[r["step"], round(r["val_l1"], 4)] for r in val],
            }
        )
    )


if __name__ == "__main__":
    main()
