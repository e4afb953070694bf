"""Step time and peak RSS of every baseline model on this CPU, with the pix2pix reference.

One training step is what the engine runs: for each phase, zero grads (set to None), the
phase's losses, backward, Adam step. Each configuration runs in its own process so that
peak RSS is its own. pix2pix at 256×256 (rgb input) and 256×512 (one-hot, 20 channels) is
also run as the public reference implements it (recursive U-Net blocks, requires_grad
toggling on D), in the same run, and the ratio is printed. One JSON object per line.

    flock /tmp/crnkit-cpu.lock python benchmarks/bench_baselines.py
    python benchmarks/bench_baselines.py --only pix2pix-256x256-rgb --steps 3
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

from baselines.crn_l1 import CRNL1Args, CRNL1Model
from baselines.encdec import EncDecArgs, EncDecModel
from baselines.fullres import PAPER_WIDTH, FullResArgs, FullResModel
from baselines.options import scaled
from baselines.pix2pix import Pix2PixArgs, Pix2PixModel
from crn.engine.trainer import make_optimizer
from crn.losses import PerceptualArgs

VGG = PerceptualArgs("random", layer_weights="authors-256p")
QUICK = 0.25  # the --width of a minutes-long CPU run
# name: (model, (H, W), label input, width multiplier, the reference s/step it is held to)
CONFIGS = {
    **{
        f"{m}-128x256{suffix}": (m, (128, 256), "onehot", width, None)
        for suffix, width in (("", 1.0), (f"-w{QUICK}", QUICK))
        for m in ("pix2pix", "encdec", "fullres", "crn-l1")
    },
    "pix2pix-256x256-rgb": ("pix2pix", (256, 256), "rgb", 1.0, 1.65),
    "pix2pix-256x512-onehot": ("pix2pix", (256, 512), "onehot", 1.0, 2.74),
}
WITH_REFERENCE = ("pix2pix-256x256-rgb", "pix2pix-256x512-onehot")


def palette() -> tuple[tuple[int, int, int], ...]:
    """Distinct colours for the classes, void last (black)."""
    return (*((37 * i % 256, 91 * i % 256, 53 * i % 256) for i in range(CHANNELS - 1)), (0, 0, 0))


def build_model(model: str, size: tuple[int, int], label_input: str, width: float) -> nn.Module:
    """A baseline at `width` times its paper size (as `--width` sets it)."""
    if model == "pix2pix":
        ngf = scaled(64, width)
        args = Pix2PixArgs(CHANNELS, size, palette(), label_input, ngf=ngf, ndf=ngf)
        return Pix2PixModel(args)
    if model == "encdec":
        return EncDecModel(EncDecArgs(CHANNELS, size, VGG, ngf=scaled(64, width)))
    if model == "fullres":
        return FullResModel(FullResArgs(CHANNELS, size, VGG, width=scaled(PAPER_WIDTH, width)))
    return CRNL1Model(CRNL1Args(CHANNELS, size, width=width))


class EngineStep:
    """The engine's step for a model: phases in order, each with its own Adam."""

    def __init__(self, model: nn.Module, channels_last: bool) -> None:
        self.model = model
        if channels_last:
            model.to(memory_format=torch.channels_last)
        model.prepare_training()
        model.train()
        self.phases = model.phases()
        # The trainer's own optimiser factory: the benchmark times the Adam the engine runs.
        self.optimizers = [make_optimizer(model, phase) for phase in self.phases]

    def __call__(self, batch: dict, step: int) -> None:
        for phase, optimizer in zip(self.phases, self.optimizers, strict=True):
            self.model.zero_grad(set_to_none=True)
            self.model(phase.name, batch, step)["total"].backward()
            optimizer.step()


class RefBlock(nn.Module):
    """The reference's recursive U-Net block (batch norm, so convs carry no bias)."""

    def __init__(
        self, outer, inner, input_nc=None, sub=None, outermost=False, innermost=False, dropout=False
    ):
        super().__init__()
        self.outermost = outermost
        input_nc = outer if input_nc is None else input_nc
        down = nn.Conv2d(input_nc, inner, 4, 2, 1, bias=False)
        up_in = inner if innermost else inner * 2
        if outermost:
            up = nn.ConvTranspose2d(up_in, outer, 4, 2, 1)
            layers = [down, sub, nn.ReLU(True), up, nn.Tanh()]
        elif innermost:
            up = nn.ConvTranspose2d(up_in, outer, 4, 2, 1, bias=False)
            layers = [nn.LeakyReLU(0.2, True), down, nn.ReLU(True), up, nn.BatchNorm2d(outer)]
        else:
            up = nn.ConvTranspose2d(up_in, outer, 4, 2, 1, bias=False)
            layers = [
                nn.LeakyReLU(0.2, True),
                down,
                nn.BatchNorm2d(inner),
                sub,
                nn.ReLU(True),
                up,
                nn.BatchNorm2d(outer),
            ]
            layers += [nn.Dropout(0.5)] if dropout else []
        self.model = nn.Sequential(*layers)

    def forward(self, x):
        """The block's output, with the skip concatenated except at the outermost level."""
        return self.model(x) if self.outermost else torch.cat([x, self.model(x)], 1)


def reference_unet(input_nc: int, num_downs: int, ngf: int = 64) -> nn.Module:
    """The reference U-Net, built innermost first."""
    block = RefBlock(ngf * 8, ngf * 8, innermost=True)
    for _ in range(num_downs - 5):
        block = RefBlock(ngf * 8, ngf * 8, sub=block, dropout=True)
    for mult in (4, 2, 1):
        block = RefBlock(ngf * mult, ngf * mult * 2, sub=block)
    return RefBlock(3, ngf, input_nc=input_nc, sub=block, outermost=True)


def reference_patchgan(input_nc: int, ndf: int = 64) -> nn.Module:
    """The reference n_layers = 3 PatchGAN."""
    layers = [nn.Conv2d(input_nc, ndf, 4, 2, 1), nn.LeakyReLU(0.2, True)]
    for prev, mult, stride in ((1, 2, 2), (2, 4, 2), (4, 8, 1)):
        layers += [
            nn.Conv2d(ndf * prev, ndf * mult, 4, stride, 1, bias=False),
            nn.BatchNorm2d(ndf * mult),
            nn.LeakyReLU(0.2, True),
        ]
    layers.append(nn.Conv2d(ndf * 8, 1, 4, 1, 1))
    return nn.Sequential(*layers)


class ReferenceStep:
    """The reference's optimize_parameters: forward G, D step, then G step with D frozen."""

    def __init__(self, size: tuple[int, int], label_input: str) -> None:
        in_nc = 3 if label_input == "rgb" else CHANNELS
        num_downs = min(size).bit_length() - 1
        self.net_g, self.net_d = reference_unet(in_nc, num_downs), reference_patchgan(in_nc + 3)
        self.label_input = label_input
        self.opt_g = torch.optim.Adam(self.net_g.parameters(), lr=2e-4, betas=(0.5, 0.999))
        self.opt_d = torch.optim.Adam(self.net_d.parameters(), lr=2e-4, betas=(0.5, 0.999))
        self.gan, self.l1 = nn.BCEWithLogitsLoss(), nn.L1Loss()
        colours = torch.tensor(palette(), dtype=torch.float32) / 127.5 - 1
        self.colours = colours

    def gan_loss(self, pred: torch.Tensor, real: bool) -> torch.Tensor:
        """BCE with logits against an all-real or all-fake target."""
        return self.gan(pred, torch.tensor(1.0 if real else 0.0).expand_as(pred))

    def __call__(self, batch: dict, step: int) -> None:
        label = batch["label"]
        real_a = (
            torch.einsum("bchw,cd->bdhw", label, self.colours)
            if self.label_input == "rgb"
            else label
        )
        real_b = batch["photo"] * 2 - 1
        fake_b = self.net_g(real_a)
        self.net_d.requires_grad_(True)
        self.opt_d.zero_grad()
        pred_fake = self.net_d(torch.cat((real_a, fake_b), 1).detach())
        pred_real = self.net_d(torch.cat((real_a, real_b), 1))
        (0.5 * (self.gan_loss(pred_fake, False) + self.gan_loss(pred_real, True))).backward()
        self.opt_d.step()
        self.net_d.requires_grad_(False)
        self.opt_g.zero_grad()
        pred = self.net_d(torch.cat((real_a, fake_b), 1))
        (self.gan_loss(pred, True) + 100.0 * self.l1(fake_b, real_b)).backward()
        self.opt_g.step()


def time_steps(step_fn, batch: dict, warmup: int, steps: int) -> list[float]:
    """Seconds of each timed step after `warmup` untimed ones."""
    times = []
    for i in range(warmup + steps):
        start = time.perf_counter()
        step_fn(batch, i)
        if i >= warmup:
            times.append(time.perf_counter() - start)
    return times


def run_one(name: str, impl: str, warmup: int, steps: int, channels_last: bool) -> dict:
    """Measure one configuration in this process."""
    model, size, label_input, width, _ = CONFIGS[name]
    torch.manual_seed(0)
    batch = make_batch(size)
    if channels_last:
        batch = {
            k: v.contiguous(memory_format=torch.channels_last)
            if torch.is_tensor(v) and v.dim() == 4
            else v
            for k, v in batch.items()
        }
    if impl == "reference":
        step_fn = ReferenceStep(size, label_input)
    else:
        step_fn = EngineStep(build_model(model, size, label_input, width), channels_last)
    times = time_steps(step_fn, batch, warmup, steps)
    return {
        "config": name,
        "impl": impl,
        "model": model,
        "size": list(size),
        "label_input": label_input,
        "width": width,
        "channels_last": channels_last,
        "threads": torch.get_num_threads(),
        "steps_timed": steps,
        "s_per_step": round(statistics.median(times), 4),
        "s_per_step_min": round(min(times), 4),
        "peak_rss_mb": round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1),
    }


def child(name: str, impl: str, args: argparse.Namespace) -> dict:
    """Run one configuration in a fresh interpreter and parse its JSON line."""
    cmd = [
        sys.executable,
        __file__,
        "--child",
        name,
        "--impl",
        impl,
        "--warmup",
        str(args.warmup),
        "--steps",
        str(args.steps),
    ]
    if args.channels_last:
        cmd.append("--channels-last")
    out = subprocess.run(cmd, check=True, capture_output=True, text=True)
    return json.loads(out.stdout.strip().splitlines()[-1])


def main() -> int:
    """Run every configuration (or --only some) and print one JSON object per line."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--only", nargs="*", choices=sorted(CONFIGS), help="configurations to run")
    parser.add_argument("--warmup", type=int, default=1)
    parser.add_argument("--steps", type=int, default=4)
    parser.add_argument("--channels-last", action="store_true")
    parser.add_argument("--no-reference", action="store_true", help="skip the reference runs")
    parser.add_argument("--child", help=argparse.SUPPRESS)
    parser.add_argument("--impl", default="crnkit", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        print(
            json.dumps(run_one(args.child, args.impl, args.warmup, args.steps, args.channels_last))
        )
        return 0
    for name in args.only or list(CONFIGS):
        result = child(name, "crnkit", args)
        target = CONFIGS[name][4]
        if name in WITH_REFERENCE and not args.no_reference:
            ref = child(name, "reference", args)
            print(json.dumps(ref), flush=True)
            result["reference_s_per_step_here"] = ref["s_per_step"]
            result["speedup_vs_reference"] = round(ref["s_per_step"] / result["s_per_step"], 3)
        if target is not None:
            result["target_s_per_step"] = target
            result["meets_target"] = result["s_per_step"] <= target
        print(json.dumps(result), flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
