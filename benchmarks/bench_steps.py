"""CRN training-step time, peak RSS, FLOPs and achieved fraction of this CPU's conv rate.

A step is what the engine runs: zero grads, the perceptual diversity loss of the k outputs
(real image's VGG branch without autograd, frozen VGG), backward, Adam. Each configuration
runs in its own process so that its peak RSS is its own; a plain 512→512 3×3 conv2d at
64×128 is timed in the same run as the machine's reference rate. One JSON line each.

    flock /tmp/crnkit-cpu.lock python benchmarks/bench_steps.py                  # 128×256 only
    flock /tmp/crnkit-cpu.lock python benchmarks/bench_steps.py --only crn-256x512-w1.0-k9
"""

from __future__ import annotations

import argparse
import json
import resource
import statistics
import subprocess
import sys
import time

import torch
from bench_common import CHANNELS, make_batch
from torch import nn

# name: ((H, W), width, k)
CONFIGS = {
    "crn-128x256-w0.25": ((128, 256), 0.25, 9),
    "crn-128x256-w1.0": ((128, 256), 1.0, 9),
    "crn-256x512-w1.0-k9": ((256, 512), 1.0, 9),
}
DEFAULT = ("crn-128x256-w0.25", "crn-128x256-w1.0")
TARGET = {"crn-256x512-w1.0-k9": {"s_per_step": 76.0, "peak_rss_gb": 6.0}}


def conv_rate(reps: int = 5) -> float:
    """GFLOP/s of a plain fp32 3×3 conv2d, 512→512 channels at 64×128 (forward)."""
    conv = nn.Conv2d(512, 512, 3, padding=1, bias=False)
    x = torch.randn(1, 512, 64, 128)
    flops = 2 * 9 * 512 * 512 * 64 * 128
    with torch.no_grad():
        conv(x)
        times = []
        for _ in range(reps):
            start = time.perf_counter()
            conv(x)
            times.append(time.perf_counter() - start)
    return flops / statistics.median(times) / 1e9


def _build(name: str, channels_last: bool):
    """The CRN model with a random VGG (the authors' layer weights) and its Adam."""
    from crn.engine.trainer import make_optimizer
    from crn.losses import PerceptualArgs
    from crn.models.crn import CRNArgs, CRNModel

    size, width, k = CONFIGS[name]
    vgg = PerceptualArgs("random", layer_weights="authors-256p")
    model = CRNModel(CRNArgs(CHANNELS, size, vgg, width=width, num_outputs=k))
    model.prepare_training()
    if channels_last:
        model.to(memory_format=torch.channels_last)
    phase = model.phases()[0]
    return model, make_optimizer(model, phase)


def _step(model, optimizer, batch) -> float:
    """One engine step; returns the loss."""
    model.zero_grad(set_to_none=True)
    loss = model.phase_losses("generator", batch, 0)["total"]
    loss.backward()
    optimizer.step()
    return float(loss.detach())


def _flops(model, optimizer, batch) -> dict:
    """FLOPs of one step (counted while running it): generator and VGG/loss separately."""
    from torch.utils.flop_counter import FlopCounterMode

    with FlopCounterMode(display=False) as counter:
        _step(model, optimizer, batch)
    counts = counter.get_flop_counts()
    total = sum(counts["Global"].values())
    generator = sum(counts.get("CRNGenerator", {}).values())
    return {"total": total, "generator": generator, "vgg_and_loss": total - generator}


def child(name: str, steps: int, channels_last: bool) -> dict:
    """Measure one configuration in this process."""
    size, width, k = CONFIGS[name]
    torch.manual_seed(0)
    model, optimizer = _build(name, channels_last)
    batch = make_batch(size)
    if channels_last:
        batch = {key: v.contiguous(memory_format=torch.channels_last) for key, v in batch.items()}
    flops = _flops(model, optimizer, batch)  # also the warm-up step
    times = []
    for _ in range(steps):
        start = time.perf_counter()
        _step(model, optimizer, batch)
        times.append(time.perf_counter() - start)
    seconds = statistics.median(times)
    return {
        "benchmark": "crn_step",
        "config": name,
        "size": list(size),
        "width": width,
        "k": k,
        "channels_last": channels_last,
        "threads": torch.get_num_threads(),
        "steps_timed": steps,
        "s_per_step": round(seconds, 3),
        "s_per_step_all": [round(t, 3) for t in times],
        "peak_rss_gb": round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 2**20, 3),
        "tflop_per_step": round(flops["total"] / 1e12, 3),
        "tflop_generator": round(flops["generator"] / 1e12, 3),
        "tflop_vgg_and_loss": round(flops["vgg_and_loss"] / 1e12, 3),
        "achieved_gflop_s": round(flops["total"] / seconds / 1e9, 1),
        "parameters": sum(p.numel() for p in model.generator.parameters()),
    }


def main() -> None:
    """Time the conv reference, then each configuration in its own process."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--only", nargs="+", choices=sorted(CONFIGS), default=list(DEFAULT))
    parser.add_argument("--steps", type=int, default=2, help="timed steps after the warm-up")
    parser.add_argument("--channels-last", action=argparse.BooleanOptionalAction, default=False)
    parser.add_argument("--child", default=None, help=argparse.SUPPRESS)
    ns = parser.parse_args()
    if ns.child:
        print(json.dumps(child(ns.child, ns.steps, ns.channels_last)))
        return
    rate = conv_rate()
    print(
        json.dumps(
            {
                "benchmark": "conv_reference",
                "what": "3x3 conv 512->512 at 64x128 fp32",
                "gflop_s": round(rate, 1),
            }
        ),
        flush=True,
    )
    for name in ns.only:
        flag = "--channels-last" if ns.channels_last else "--no-channels-last"
        argv = [sys.executable, __file__, "--child", name, "--steps", str(ns.steps), flag]
        result = json.loads(subprocess.run(argv, check=True, capture_output=True, text=True).stdout)
        result["conv_reference_gflop_s"] = round(rate, 1)
        result["fraction_of_conv_rate"] = round(result["achieved_gflop_s"] / rate, 3)
        if name in TARGET:
            result["target"] = TARGET[name]
        print(json.dumps(result), flush=True)


if __name__ == "__main__":
    main()
