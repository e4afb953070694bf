"""CRN training-step time, peak memory, FLOPs and achieved fraction of the device's conv rate.

A step is what the engine runs: zero grads, the perceptual diversity loss of the k outputs
(real image's VGG branch without autograd, frozen VGG), backward, Adam. Each configuration
runs in its own process so that its peak memory is its own. Two references run in the same
invocation: a plain 512→512 3×3 conv2d at 64×128 (the device's conv rate; FLOPs are counted
with PyTorch's plain kernels, so the fraction is the model's arithmetic over that rate), and
the same step with crnkit's CPU kernels switched off (`speedup_vs_reference`: what a plain
PyTorch port of the same network takes). One JSON line each. The script runs unchanged on
CUDA (`--device cuda`, `--bf16`, `--channels-last`), where the CPU kernels never apply.

    flock /tmp/crnkit-cpu.lock python benchmarks/bench_steps.py                  # 128×256 only
    flock /tmp/crnkit-cpu.lock python benchmarks/bench_steps.py --only crn-256x512-w1.0-k9
    python benchmarks/bench_steps.py --only crn-256x512-w1.0-k9 --device cuda --bf16
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


def conv_rate(device: torch.device, reps: int = 5) -> float:
    """GFLOP/s of a plain fp32 3×3 conv2d, 512→512 channels at 64×128 (forward)."""
    conv = nn.Conv2d(512, 512, 3, padding=1, bias=False).to(device)
    x = torch.randn(1, 512, 64, 128, device=device)
    flops = 2 * 9 * 512 * 512 * 64 * 128
    with torch.no_grad():
        conv(x)
        times = []
        for _ in range(reps):
            start = time.perf_counter()
            float(conv(x)[0, 0, 0, 0])  # waits for the device
            times.append(time.perf_counter() - start)
    return flops / statistics.median(times) / 1e9


def _build(name: str, channels_last: bool, device: torch.device):
    """The CRN model with a random VGG (the authors' layer weights) and its Adam."""
    from crn.engine.trainer import make_optimizer
    from crn.losses import PerceptualArgs
    from crn.models.crn import CRNArgs, CRNModel

    size, width, k = CONFIGS[name]
    vgg = PerceptualArgs("random", layer_weights="authors-256p")
    model = CRNModel(CRNArgs(CHANNELS, size, vgg, width=width, num_outputs=k))
    model.prepare_training()
    model.to(device)
    if channels_last:
        model.to(memory_format=torch.channels_last)
    phase = model.phases()[0]
    return model, make_optimizer(model, phase)


def _step(model, optimizer, batch, bf16: bool) -> float:
    """One engine step (bf16 autocast around the forward when asked); returns the loss."""
    model.zero_grad(set_to_none=True)
    device = batch["label"].device.type
    with torch.autocast(device, dtype=torch.bfloat16, enabled=bf16):
        loss = model.phase_losses("generator", batch, 0)["total"]
    loss.backward()
    optimizer.step()
    return float(loss.detach())  # also waits for the device


def _flops(model, optimizer, batch) -> dict:
    """FLOPs of one plain-kernel step (counted while running it): generator and VGG/loss."""
    from torch.utils.flop_counter import FlopCounterMode

    from crn.models.cpu_kernels import plain_kernels

    # The model's arithmetic, whichever kernels compute it: custom autograd functions
    # would hide part of it from the counter.
    with plain_kernels(), FlopCounterMode(display=False) as counter:
        _step(model, optimizer, batch, bf16=False)
    counts = counter.get_flop_counts()
    total = sum(counts["Global"].values())
    generator = sum(counts.get("CRNGenerator", {}).values())
    return {"total": total, "generator": generator, "vgg_and_loss": total - generator}


def _timed(model, optimizer, batch, steps: int, bf16: bool) -> list[float]:
    """Seconds of each of `steps` steps."""
    times = []
    for _ in range(steps):
        start = time.perf_counter()
        _step(model, optimizer, batch, bf16)
        times.append(time.perf_counter() - start)
    return times


def _placed(value, device: torch.device, layout: torch.memory_format):
    """A batch entry on `device`, image tensors in `layout`; other entries unchanged."""
    if not isinstance(value, torch.Tensor):
        return value
    value = value.to(device)
    return value.contiguous(memory_format=layout) if value.dim() == 4 else value


def _peak_gb(device: torch.device) -> float:
    """Peak resident memory of this process (CPU) or peak allocated memory (CUDA), GB."""
    if device.type == "cuda":
        return torch.cuda.max_memory_allocated(device) / 2**30
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 2**20


def child(name: str, steps: int, opts: argparse.Namespace) -> dict:
    """Measure one configuration in this process (and the plain-kernel reference, if asked)."""
    from crn.models.cpu_kernels import plain_kernels

    size, width, k = CONFIGS[name]
    device = torch.device(opts.device)
    torch.manual_seed(0)
    model, optimizer = _build(name, opts.channels_last, device)
    layout = torch.channels_last if opts.channels_last else torch.contiguous_format
    batch = {key: _placed(v, device, layout) for key, v in make_batch(size).items()}
    flops = _flops(model, optimizer, batch)  # also a warm-up step
    _timed(model, optimizer, batch, 1, opts.bf16)  # warm-up of the measured kernels
    seconds = statistics.median(times := _timed(model, optimizer, batch, steps, opts.bf16))
    result = {
        "benchmark": "crn_step", "config": name, "size": list(size), "width": width, "k": k,
        "device": device.type, "bf16": opts.bf16, "channels_last": opts.channels_last,
        "threads": torch.get_num_threads(), "steps_timed": steps,
        "s_per_step": round(seconds, 3), "s_per_step_all": [round(t, 3) for t in times],
        "peak_gb": round(_peak_gb(device), 3),
        "tflop_per_step": round(flops["total"] / 1e12, 3),
        "tflop_generator": round(flops["generator"] / 1e12, 3),
        "tflop_vgg_and_loss": round(flops["vgg_and_loss"] / 1e12, 3),
        "achieved_gflop_s": round(flops["total"] / seconds / 1e9, 1),
        "parameters": sum(p.numel() for p in model.generator.parameters()),
    }  # fmt: skip
    if opts.reference:
        with plain_kernels():
            ref = statistics.median(_timed(model, optimizer, batch, steps, opts.bf16))
        result["reference_s_per_step"] = round(ref, 3)
        result["speedup_vs_reference"] = round(ref / seconds, 3)
    return result


def _parse() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--only", nargs="+", choices=sorted(CONFIGS), default=list(DEFAULT))
    parser.add_argument("--steps", type=int, default=2, help="timed steps after the warm-up")
    parser.add_argument("--channels-last", action=argparse.BooleanOptionalAction, default=False)
    parser.add_argument("--device", default="cpu", help="cpu or cuda (runs unchanged on both)")
    parser.add_argument("--bf16", action="store_true", help="bf16 autocast around the forward")
    parser.add_argument(
        "--reference",
        action=argparse.BooleanOptionalAction,
        default=True,
        help="also time the same model with PyTorch's plain kernels (crn.models.cpu_kernels off)",
    )
    parser.add_argument("--child", default=None, help=argparse.SUPPRESS)
    return parser.parse_args()


def main() -> None:
    """Time the conv reference, then each configuration in its own process."""
    ns = _parse()
    if ns.child:
        print(json.dumps(child(ns.child, ns.steps, ns)))
        return
    rate = conv_rate(torch.device(ns.device))
    what = f"3x3 conv 512->512 at 64x128 fp32 on {ns.device}"
    print(json.dumps({"benchmark": "conv_reference", "what": what, "gflop_s": round(rate, 1)}))
    for name in ns.only:
        argv = [sys.executable, __file__, "--child", name, "--steps", str(ns.steps)]
        argv += [
            "--device",
            ns.device,
            "--channels-last" if ns.channels_last else "--no-channels-last",
        ]
        argv += ["--reference" if ns.reference else "--no-reference"] + (
            ["--bf16"] if ns.bf16 else []
        )
        result = json.loads(subprocess.run(argv, check=True, capture_output=True, text=True).stdout)
        result["conv_reference_gflop_s"] = round(rate, 1)
        result["fraction_of_conv_rate"] = round(result["achieved_gflop_s"] / rate, 3)
        if name in TARGET:
            result["target"] = TARGET[name]
        print(json.dumps(result), flush=True)


if __name__ == "__main__":
    main()
