"""The CRN paper's image-space-loss ablation: the CRN generator trained with pixel L1 only."""

from __future__ import annotations

import argparse
from dataclasses import dataclass
from typing import Any

import torch
import torch.nn.functional as F

from baselines import options
from baselines.perceptual_base import DEFAULT_LR
from crn.engine.interface import Batch, GeneratorModel, Phase
from crn.models.generator import CRNGenerator, scales


@dataclass(frozen=True)
class CRNL1Args:
    """Constructor arguments of `CRNL1Model`; `width` multiplies the CRN's channels."""

    num_label_channels: int
    size: tuple[int, int]
    width: float = 1.0
    lr: float = DEFAULT_LR

    def __post_init__(self) -> None:
        scales(self.size)  # raises the CRN's own clear error for unusable sizes
        if self.width <= 0:
            raise ValueError(f"--width must be > 0, got {self.width}")


class CRNL1Model(GeneratorModel):
    """One image per label map, regressed onto the photo with a mean absolute pixel error."""

    name = "crn-l1"
    Args = CRNL1Args

    def __init__(self, args: CRNL1Args) -> None:
        super().__init__(args)
        self.generator = CRNGenerator(args.num_label_channels, args.size, args.width, k=1)

    @property
    def num_outputs(self) -> int:
        """One image per label map."""
        return 1

    def generate(self, label: torch.Tensor) -> torch.Tensor:
        """Images [B,1,3,H,W] in [0,1]."""
        return self.generator(label).clamp(0.0, 1.0)

    def phases(self) -> list[Phase]:
        """One generator phase with Adam at the CRN rate."""
        return [Phase("generator", ("generator",), lr=self.args.lr)]

    def phase_losses(self, phase: str, batch: Batch, step: int) -> dict[str, torch.Tensor]:
        """Mean |fake − photo| over pixels and channels."""
        if phase != "generator":
            raise ValueError(f"crn-l1 has no phase '{phase}'")
        fake = self.generator(batch["label"])[:, 0]
        l1 = F.l1_loss(fake, batch["photo"])
        return {"total": l1, "l1": l1.detach()}

    @classmethod
    def add_arguments(cls, parser: argparse.ArgumentParser) -> None:
        """Width multiplier and learning rate."""
        group = parser.add_argument_group("crn-l1")
        options.add_width(group, "the CRN's channels × WIDTH")
        group.add_argument(
            "--lr",
            type=options.positive_float,
            default=DEFAULT_LR,
            help=f"Adam rate (default {DEFAULT_LR})",
        )

    @classmethod
    def args_from_namespace(cls, ns: argparse.Namespace, splits: Any) -> CRNL1Args:
        """Build the arguments from parsed options and the splits."""
        size, channels = options.from_splits(ns, splits)
        return options.build(
            CRNL1Args, num_label_channels=channels, size=size, width=ns.width, lr=ns.lr
        )
