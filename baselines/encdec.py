"""The CRN paper's encoder-decoder baseline: pix2pix's encoder-decoder trained with CRN's loss.

Without skips by default (every path crosses the bottleneck); `skips=True` keeps the U-Net's.
"""

from __future__ import annotations

import argparse
from dataclasses import dataclass
from typing import Any

import torch

from baselines import options
from baselines.layers import NORMS
from baselines.perceptual_base import PerceptualBaseline, add_common_arguments, perceptual_arguments
from baselines.unet import UNetGenerator, max_downsamplings
from crn import losses


@dataclass(frozen=True)
class EncDecArgs:
    """Constructor arguments of `EncDecModel` (pix2pix's encoder-decoder widths by default)."""

    num_label_channels: int
    size: tuple[int, int]
    perceptual: losses.PerceptualArgs
    ngf: int = 64
    norm: str = "batch"
    k: int = 1
    lr: float = 1e-4
    skips: bool = False

    def __post_init__(self) -> None:
        options.check_choice("norm", self.norm, NORMS)
        options.check_size(self.size, min_down=2)


class EncDecModel(PerceptualBaseline):
    """4×4 stride-2 convs down to a 1-pixel-high bottleneck and transposed convs back up.

    Every path from the label to the image crosses the bottleneck unless `skips` keeps the
    U-Net's skip connections; the Tanh output is mapped to [0,1] for the VGG loss.
    """

    name = "encdec"
    Args = EncDecArgs

    def __init__(self, args: EncDecArgs) -> None:
        super().__init__(args)
        n_down = max_downsamplings(*args.size)
        self.generator = UNetGenerator(
            args.num_label_channels,
            3 * args.k,
            args.ngf,
            n_down,
            args.norm,
            dropout=0.0,
            skips=args.skips,
        )
        self.per_image_generation = args.norm == "batch"

    def raw_images(self, label: torch.Tensor) -> torch.Tensor:
        """Images [B,k,3,H,W] in [0,1]."""
        out = self.generator(label).add(1.0).mul(0.5)
        return out.view(out.shape[0], self.args.k, 3, *out.shape[2:])

    @classmethod
    def add_arguments(cls, parser: argparse.ArgumentParser) -> None:
        """Width, norm, k, learning rate and the VGG loss options."""
        group = parser.add_argument_group("encdec")
        options.add_width(group, "first layer 64 × WIDTH channels, up to 512 × WIDTH")
        group.add_argument("--norm", choices=NORMS, default="batch", help="default: batch")
        group.add_argument(
            "--skips",
            action="store_true",
            help="keep the U-Net's skip connections (default: none, every path crosses the "
            "bottleneck); see docs/baselines.md",
        )
        add_common_arguments(group)
        perceptual_arguments(parser)

    @classmethod
    def args_from_namespace(cls, ns: argparse.Namespace, splits: Any) -> EncDecArgs:
        """Build the arguments from parsed options and the splits."""
        size, channels = options.from_splits(ns, splits)
        return options.build(
            EncDecArgs,
            num_label_channels=channels,
            size=size,
            perceptual=losses.perceptual_args_from_namespace(ns),
            ngf=options.scaled(64, ns.width),
            norm=ns.norm,
            k=ns.k,
            lr=ns.lr,
            skips=ns.skips,
        )
