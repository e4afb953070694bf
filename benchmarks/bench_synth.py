"""Benchmark `crnkit data synth`: render + encode + write N street scenes; prints JSON lines.

usage: python benchmarks/bench_synth.py [--n 1000] [--size 256x512] [--workers 1 2]
Run it under `flock /tmp/crnkit-cpu.lock` on a shared machine.
"""

from __future__ import annotations

import argparse
import json
import tempfile
import time
from pathlib import Path

from crn.data.render.scene import render_scene
from crn.data.sources.synthetic import scene_seed, write_synthetic
from crn.data.splits import parse_size


def bench_write(n: int, size: tuple[int, int], workers: int) -> dict:
    """Time the whole `synth` command path (files included) into a temporary folder."""
    with tempfile.TemporaryDirectory() as tmp:
        start = time.perf_counter()
        out = write_synthetic(Path(tmp) / "set", n, size, seed=0, workers=workers, progress=False)
        seconds = time.perf_counter() - start
        megabytes = sum(p.stat().st_size for p in out.rglob("*.png")) / 2**20
    return {
        "benchmark": "synth_write",
        "n": n,
        "size": list(size),
        "workers": workers,
        "seconds": round(seconds, 3),
        "images_per_s": round(n / seconds, 2),
        "megabytes": round(megabytes, 1),
    }


def bench_render(n: int, size: tuple[int, int]) -> dict:
    """Time `render_scene` alone (no PNG encoding, no files)."""
    start = time.perf_counter()
    for index in range(n):
        render_scene(scene_seed(0, index), size)
    seconds = time.perf_counter() - start
    return {
        "benchmark": "synth_render_only",
        "n": n,
        "size": list(size),
        "seconds": round(seconds, 3),
        "images_per_s": round(n / seconds, 2),
        "ms_per_image": round(1000 * seconds / n, 2),
    }


def main() -> None:
    """Parse arguments, run the benchmarks, print one JSON object per line."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--n", type=int, default=1000)
    parser.add_argument("--size", default="256x512")
    parser.add_argument("--workers", type=int, nargs="+", default=[1])
    parser.add_argument("--render-n", type=int, default=200, help="scenes for render-only timing")
    args = parser.parse_args()
    size = parse_size(args.size)
    print(json.dumps(bench_render(args.render_n, size)), flush=True)
    for workers in args.workers:
        print(json.dumps(bench_write(args.n, size, workers)), flush=True)


if __name__ == "__main__":
    main()
