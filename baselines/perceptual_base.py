"""Shared training side of the baselines that use CRN's VGG feature-matching loss."""

from __future__ import annotations

import argparse
from collections.abc import Iterable
from typing import Any

import torch

from baselines import options
from crn import losses
from crn.engine.interface import Batch, GeneratorModel, Phase

DEFAULT_LR = 1e-4  # the CRN paper's Adam rate, shared by its perceptual-loss baselines


class PerceptualBaseline(GeneratorModel):
    """A generator trained with `crn.losses.PerceptualLoss` in a single phase.

    Subclasses build `self.generator` and implement `raw_images(label) -> [B,k,3,H,W]`
    (unclipped, nominally in [0,1]); `args` must have `size`, `k`, `lr` and `perceptual`.
    """

    # Batch norm without running statistics normalises over the batch at test time too, so
    # generation feeds one image at a time to keep each output independent of its neighbours.
    per_image_generation: bool = False

    def __init__(self, args: Any) -> None:
        super().__init__(args)
        self.perceptual = losses.PerceptualLoss(args.perceptual)

    @property
    def num_outputs(self) -> int:
        """How many images per label map (k of the diversity loss)."""
        return self.args.k

    def raw_images(self, label: torch.Tensor) -> torch.Tensor:
        """Unclipped images [B,k,3,H,W] for a one-hot label batch."""
        raise NotImplementedError

    def generate(self, label: torch.Tensor) -> torch.Tensor:
        """Images [B,k,3,H,W] in [0,1]."""
        if self.per_image_generation and label.shape[0] > 1:
            out = torch.cat([self.raw_images(label[i : i + 1]) for i in range(label.shape[0])])
        else:
            out = self.raw_images(label)
        return out.clamp(0.0, 1.0)

    def phases(self) -> list[Phase]:
        """One generator phase with Adam at the CRN rate."""
        return [Phase("generator", ("generator",), lr=self.args.lr)]

    def phase_losses(self, phase: str, batch: Batch, step: int) -> dict[str, torch.Tensor]:
        """The masked VGG feature-matching (diversity) loss of the generated images."""
        if phase != "generator":
            raise ValueError(f"{self.name} has no phase '{phase}'")
        fake = self.raw_images(batch["label"])
        return self.perceptual(fake, batch["photo"], batch["label"])

    def prepare_training(self) -> None:
        """Load the frozen VGG-19 of the loss."""
        self.perceptual.load_vgg()

    def calibration_due(self, step: int) -> bool:
        """True when the layer weights are to be computed after `step` steps."""
        return self.perceptual.calibration_due(step)

    @torch.no_grad()
    def calibrate(self, batches: Iterable[Batch], step: int) -> dict[str, Any]:
        """Set the layer weights from the generator's outputs after `step` steps."""
        triples = ((self.raw_images(b["label"]), b["photo"], b["label"]) for b in batches)
        final = step == self.args.perceptual.calibrate_at
        return {"layer_weights": self.perceptual.calibrate(triples, final), "final": final}

    def checkpoint_exclude(self) -> tuple[str, ...]:
        """The frozen VGG is loaded from its file, not stored."""
        return ("perceptual.vgg.",)

    def metadata(self) -> dict[str, Any]:
        """Which VGG weights and preprocessing trained the model, and the layer weights."""
        return {**losses.metadata_of(self.args.perceptual), **self.perceptual.metadata()}


def add_common_arguments(group: Any) -> None:
    """`--k` and `--lr`, shared by the perceptual-loss baselines."""
    group.add_argument(
        "--k",
        type=_positive_int,
        default=1,
        help="images per label map, trained with the diversity loss (default 1)",
    )
    group.add_argument(
        "--lr",
        type=options.positive_float,
        default=DEFAULT_LR,
        help=f"Adam learning rate (default {DEFAULT_LR})",
    )


def perceptual_arguments(parser: argparse.ArgumentParser) -> None:
    """The VGG loss options, as CRN has them."""
    losses.add_perceptual_arguments(parser)


def _positive_int(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a whole number, got '{text}'") from None
    if value < 1:
        raise argparse.ArgumentTypeError(f"expected a whole number ≥ 1, got {value}")
    return value
