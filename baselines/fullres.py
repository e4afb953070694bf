"""The CRN paper's full-resolution baseline: dilated convs at output size, CRN's loss."""

from __future__ import annotations

import argparse
from dataclasses import dataclass
from typing import Any

import torch

from baselines import options
from baselines.dilated import FullResNet, receptive_field
from baselines.layers import NORMS
from baselines.perceptual_base import PerceptualBaseline, add_common_arguments, perceptual_arguments
from crn import losses

PAPER_WIDTH = 128
PAPER_DEPTH = 10  # receptive field 1 + 2·(1+1+2+…+128) = 515 pixels: the whole 256×512 image


@dataclass(frozen=True)
class FullResArgs:
    """Constructor arguments of `FullResModel`."""

    num_label_channels: int
    size: tuple[int, int]
    perceptual: losses.PerceptualArgs
    width: int = PAPER_WIDTH
    depth: int = PAPER_DEPTH
    norm: str = "layer"
    k: int = 1
    lr: float = 1e-4

    def __post_init__(self) -> None:
        options.check_choice("norm", self.norm, NORMS)
        options.check_size(self.size)
        if self.depth < 3:
            raise ValueError(f"--depth must be at least 3, got {self.depth}")


class FullResModel(PerceptualBaseline):
    """Every layer at the output resolution; the linear output is read as (x + 1) / 2."""

    name = "fullres"
    Args = FullResArgs

    def __init__(self, args: FullResArgs) -> None:
        super().__init__(args)
        self.generator = FullResNet(
            args.num_label_channels, 3 * args.k, args.width, args.depth, args.norm
        )
        self.per_image_generation = args.norm == "batch"

    def raw_images(self, label: torch.Tensor) -> torch.Tensor:
        """Images [B,k,3,H,W], nominally in [0,1]."""
        out = self.generator(label).add(1.0).mul(0.5)
        return out.view(out.shape[0], self.args.k, 3, *out.shape[2:])

    @classmethod
    def add_arguments(cls, parser: argparse.ArgumentParser) -> None:
        """Width, depth, norm, k, learning rate and the VGG loss options."""
        group = parser.add_argument_group("fullres")
        options.add_width(group, f"{PAPER_WIDTH} × WIDTH channels per layer")
        group.add_argument(
            "--depth",
            type=int,
            default=PAPER_DEPTH,
            help=f"3×3 layers, dilations 1,1,2,4,…,1 (default {PAPER_DEPTH}: "
            f"receptive field {receptive_field(PAPER_DEPTH)} px)",
        )
        group.add_argument(
            "--norm", choices=NORMS, default="layer", help="default: layer, as in CRN"
        )
        add_common_arguments(group)
        perceptual_arguments(parser)

    @classmethod
    def args_from_namespace(cls, ns: argparse.Namespace, splits: Any) -> FullResArgs:
        """Build the arguments from parsed options and the splits."""
        size, channels = options.from_splits(ns, splits)
        return options.build(
            FullResArgs,
            num_label_channels=channels,
            size=size,
            perceptual=losses.perceptual_args_from_namespace(ns),
            width=options.scaled(PAPER_WIDTH, ns.width),
            depth=ns.depth,
            norm=ns.norm,
            k=ns.k,
            lr=ns.lr,
        )
