"""The CRN model for the engine: generator + masked VGG-19 diversity loss, one Adam phase."""

from __future__ import annotations

import argparse
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

import torch

from crn.engine.interface import Batch, GeneratorModel, Phase
from crn.errors import UserError
from crn.losses import (
    PerceptualArgs,
    PerceptualLoss,
    add_perceptual_arguments,
    label_pyramid,
    metadata_of,
    perceptual_args_from_namespace,
)
from crn.models.generator import LAYER_NORM_EPS, CRNGenerator, default_num_outputs, scales

# Checkpoints written before `norm_eps` was recorded were trained with GroupNorm's default.
LEGACY_NORM_EPS = 1e-5


@dataclass(frozen=True)
class CRNArgs:
    """Constructor arguments of the CRN model (stored in checkpoints)."""

    num_label_channels: int
    size: tuple[int, int]
    perceptual: PerceptualArgs
    width: float = 1.0
    num_outputs: int = 9
    lr: float = 1e-4
    frozen_modules: int = 0
    init_from: str = ""
    norm_eps: float = LAYER_NORM_EPS


class CRNModel(GeneratorModel):
    """Cascaded refinement network trained with the masked perceptual diversity loss."""

    name = "crn"
    Args = CRNArgs

    def __init__(self, args: CRNArgs) -> None:
        super().__init__(args)
        self.generator = CRNGenerator(
            args.num_label_channels, args.size, args.width, args.num_outputs, args.norm_eps
        )
        self.perceptual = PerceptualLoss(args.perceptual)
        if not 0 <= args.frozen_modules < len(self.generator.blocks):
            raise UserError(
                f"cannot freeze {args.frozen_modules} of {len(self.generator.blocks)} modules"
            )
        for block in self.generator.blocks[: args.frozen_modules]:
            block.requires_grad_(False)

    @property
    def num_outputs(self) -> int:
        """k, the number of diverse images per label map."""
        return self.args.num_outputs

    def generate(self, label: torch.Tensor) -> torch.Tensor:
        """k images per label map, clipped to [0,1]."""
        return self.generator(label).clamp(0.0, 1.0)

    def phases(self) -> list[Phase]:
        """One Adam phase over the trainable refinement modules and the output conv."""
        count = len(self.generator.blocks)
        trainable = tuple(f"generator.blocks.{i}" for i in range(self.args.frozen_modules, count))
        return [Phase("generator", (*trainable, "generator.to_rgb"), lr=self.args.lr)]

    def phase_losses(self, phase: str, batch: Batch, step: int) -> dict[str, torch.Tensor]:
        """The perceptual diversity loss of the generator's k outputs."""
        label = batch["label"]
        pyramid = label_pyramid(label, self.generator.scales)
        fake = self.generator(label, pyramid)
        return self.perceptual(fake, batch["photo"], label, pyramid)

    def initialize(self) -> None:
        """Load the shared coarse modules from `--init-from` (a lower-resolution CRN)."""
        if self.args.init_from:
            load_coarse_modules(self, self.args.init_from)

    def prepare_training(self) -> None:
        """Load the frozen VGG-19."""
        self.perceptual.load_vgg()

    def calibration_due(self, step: int) -> bool:
        """True when the layer weights are to be computed after `step` steps."""
        return self.perceptual.calibration_due(step)

    def calibrate(self, batches: Iterable[Batch], step: int) -> dict[str, Any]:
        """Auto layer weights: inverse mean of each term for the generator after `step` steps."""
        final = step == self.args.perceptual.calibrate_at
        with torch.no_grad():
            triples = ((self.generator(b["label"]), b["photo"], b["label"]) for b in batches)
            return {"layer_weights": self.perceptual.calibrate(triples, final), "final": final}

    def checkpoint_exclude(self) -> tuple[str, ...]:
        """The VGG is loaded from its own file, never stored in checkpoints."""
        return ("perceptual.vgg.",)

    def metadata(self) -> dict[str, Any]:
        """VGG weights/preprocessing, the layer weights in use and which modules trained."""
        trained = [h for h, _ in self.generator.scales[self.args.frozen_modules :]]
        return {
            **metadata_of(self.args.perceptual),
            **self.perceptual.metadata(),
            "trained_modules": trained,
        }

    @classmethod
    def args_from_dict(cls, data: dict[str, Any]) -> CRNArgs:
        """Rebuild `CRNArgs`; checkpoints without `norm_eps` keep the ε they were trained with."""
        return super().args_from_dict({"norm_eps": LEGACY_NORM_EPS, **data})

    @classmethod
    def add_arguments(cls, parser: argparse.ArgumentParser) -> None:
        """CRN options: width, k, learning rate, --init-from, and the perceptual loss."""
        group = parser.add_argument_group("CRN")
        group.add_argument("--width", type=float, default=1.0, help="channel multiplier")
        group.add_argument(
            "--k", type=int, default=None, help="diverse outputs (default 9 up to 256p, else 1)"
        )
        group.add_argument("--lr", type=float, default=1e-4, help="Adam learning rate")
        group.add_argument(
            "--init-from", default="", metavar="CKPT", help="start from a lower-resolution CRN"
        )
        group.add_argument(
            "--train-modules",
            default="all",
            metavar="WHICH",
            help="which refinement modules train: all (default), new (with --init-from: "
            "those the checkpoint lacks), or the heights of the finest ones, e.g. 512,1024 "
            "(the authors' 1024p run); the output conv always trains",
        )
        add_perceptual_arguments(parser)

    @classmethod
    def args_from_namespace(cls, ns: argparse.Namespace, splits: Any) -> CRNArgs:
        """CRNArgs from parsed options; `ns.size` is the (H, W) the trainer resolved."""
        size = tuple(ns.size)
        scales(size)
        k = ns.k if ns.k is not None else default_num_outputs(size)
        if k < 1 or ns.width <= 0 or ns.lr <= 0:
            raise UserError("--k, --width and --lr must be positive")
        return CRNArgs(
            num_label_channels=splits.num_label_channels,
            size=size,
            perceptual=perceptual_args_from_namespace(ns),
            width=ns.width,
            num_outputs=k,
            lr=ns.lr,
            frozen_modules=frozen_module_count(ns.train_modules, size, ns.init_from),
            init_from=str(ns.init_from),
        )


def frozen_module_count(which: str, size: tuple[int, int], init_from: str) -> int:
    """How many of the coarsest modules `--train-modules WHICH` freezes at `size`."""
    heights = [h for h, _ in scales(size)]
    if which == "all":
        return 0
    if which == "new":
        if not init_from:
            raise UserError("--train-modules new needs --init-from CKPT")
        return coarse_module_count(init_from)
    try:
        chosen = sorted({int(h) for h in which.split(",")})
    except ValueError:
        chosen = []
    expected = f"all, new, or module heights among {','.join(map(str, heights))}"
    if not chosen or not set(chosen) <= set(heights):
        raise UserError(f"--train-modules {which}: expected {expected}")
    if chosen != heights[len(heights) - len(chosen) :]:
        finest = ",".join(map(str, heights[-len(chosen) :]))
        raise UserError(
            f"--train-modules {which}: the trained modules must be the finest ones "
            f"(the cascade freezes coarse modules only), e.g. {finest}"
        )
    frozen = len(heights) - len(chosen)
    if frozen and not init_from:
        raise UserError(f"--train-modules {which}: freezing modules needs --init-from CKPT")
    if frozen and frozen > coarse_module_count(init_from):
        raise UserError(
            f"--train-modules {which}: {init_from} lacks module {heights[frozen - 1]}, "
            "which would stay frozen at its random initialisation"
        )
    return frozen


def coarse_module_count(path: str) -> int:
    """Number of refinement modules of the CRN stored in checkpoint `path`."""
    from crn.engine.checkpoint import load_checkpoint

    ckpt = load_checkpoint(path)
    if "generator.to_rgb.weight" not in ckpt.weights:
        raise UserError(f"--init-from {path}: not a checkpoint of a CRN generator")
    return len(scales(tuple(ckpt.image_size)))


def load_coarse_modules(model: CRNModel, path: str) -> int:
    """Copy modules 0..n-1 of a lower-resolution CRN checkpoint; return n."""
    from crn.engine.checkpoint import load_checkpoint

    ckpt = load_checkpoint(path)
    count = coarse_module_count(path)
    if count >= len(model.generator.blocks):
        raise UserError(f"--init-from {path}: {ckpt.image_size} is not below {model.image_size}")
    own = model.state_dict()
    shared = {}
    for key, value in ckpt.weights.items():
        if key.startswith("generator.blocks."):
            if key not in own or own[key].shape != value.shape:
                raise UserError(
                    f"--init-from {path}: {key} does not fit (same --width and classes needed)"
                )
            shared[key] = value
    model.load_state_dict(shared, strict=False)
    return count
