"""The FID network: Inception-v3 as TensorFlow's FID code ran it, with pytorch-fid's keys.

Built here because torchvision cannot be imported beside the project's CPU torch build (see
docs/metrics.md). The module tree is laid out so that its state-dict keys and shapes are
those of `pt_inception-2015-12-05-6726825d.pth` (the FID weights as distributed for
pytorch-fid): `Conv2d_1a_3x3.conv.weight`, `Mixed_5b.branch5x5_1.bn.running_mean`, …,
`fc.weight` (1008 classes). What makes it the FID variant rather than a plain Inception-v3:

- input: bilinear resize to 299×299 (align_corners=False), then [0, 1] -> [-1, 1];
- the average pools inside the mixed blocks leave padded zeros out of the mean
  (count_include_pad=False), as TensorFlow's do;
- the last mixed block (Mixed_7c) pools its pool branch with a 3×3 *max* pool;
- features: the 2048-d global average pool after Mixed_7c ("pool3").
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
import torch.nn.functional as F
from torch import nn

FILE_NAME = "pt_inception-2015-12-05-6726825d.pth"
FEATURE_DIM = 2048
NUM_CLASSES = 1008
INPUT_SIZE = 299


@dataclass(frozen=True)
class Conv:
    """One conv + batch-norm + ReLU unit: its attribute name, output channels and geometry."""

    name: str
    out: int
    kernel: int | tuple[int, int] = 1
    stride: int = 1
    padding: int | tuple[int, int] = 0


@dataclass(frozen=True)
class Fork:
    """Two convs applied to the same input, their outputs concatenated (the E blocks)."""

    left: Conv
    right: Conv


# A branch is a chain of steps: a Conv, a Fork, or the name of a pooling operation.
POOLS = {
    "avg": lambda x: F.avg_pool2d(x, 3, stride=1, padding=1, count_include_pad=False),
    "max": lambda x: F.max_pool2d(x, 3, stride=1, padding=1),
    "max_down": lambda x: F.max_pool2d(x, 3, stride=2),
}


class ConvBN(nn.Module):
    """Conv without bias, batch norm (eps 1e-3, as TensorFlow's Inception) and ReLU."""

    def __init__(self, in_ch: int, spec: Conv) -> None:
        super().__init__()
        self.conv = nn.Conv2d(in_ch, spec.out, spec.kernel, spec.stride, spec.padding, bias=False)
        self.bn = nn.BatchNorm2d(spec.out, eps=0.001)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """ReLU(BN(conv(x)))."""
        return F.relu(self.bn(self.conv(x)), inplace=True)


class Mixed(nn.Module):
    """An Inception block: parallel branches over one input, concatenated along channels."""

    def __init__(self, in_ch: int, branches: list[list]) -> None:
        super().__init__()
        self.branches = branches
        self.out_channels = 0
        for branch in branches:
            ch = in_ch
            for step in branch:
                if isinstance(step, Conv):
                    ch = self._add(ch, step)
                elif isinstance(step, Fork):
                    ch = self._add(ch, step.left) + self._add(ch, step.right)
            self.out_channels += ch

    def _add(self, in_ch: int, spec: Conv) -> int:
        self.add_module(spec.name, ConvBN(in_ch, spec))
        return spec.out

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """Run every branch on `x` and concatenate their outputs."""
        outputs = []
        for branch in self.branches:
            y = x
            for step in branch:
                if isinstance(step, Conv):
                    y = getattr(self, step.name)(y)
                elif isinstance(step, Fork):
                    y = torch.cat(
                        [getattr(self, step.left.name)(y), getattr(self, step.right.name)(y)], 1
                    )
                else:
                    y = POOLS[step](y)
            outputs.append(y)
        return torch.cat(outputs, 1)


def block_a(pool_features: int) -> list[list]:
    """35×35 block: 1×1, 5×5, double 3×3 and pooled 1×1 branches."""
    return [
        [Conv("branch1x1", 64)],
        [Conv("branch5x5_1", 48), Conv("branch5x5_2", 64, 5, padding=2)],
        [
            Conv("branch3x3dbl_1", 64),
            Conv("branch3x3dbl_2", 96, 3, padding=1),
            Conv("branch3x3dbl_3", 96, 3, padding=1),
        ],
        ["avg", Conv("branch_pool", pool_features)],
    ]


def block_b() -> list[list]:
    """35×35 -> 17×17 reduction."""
    return [
        [Conv("branch3x3", 384, 3, stride=2)],
        [
            Conv("branch3x3dbl_1", 64),
            Conv("branch3x3dbl_2", 96, 3, padding=1),
            Conv("branch3x3dbl_3", 96, 3, stride=2),
        ],
        ["max_down"],
    ]


ROW = {"kernel": (1, 7), "padding": (0, 3)}
COL = {"kernel": (7, 1), "padding": (3, 0)}


def block_c(c7: int) -> list[list]:
    """17×17 block with factorised 7×7 convolutions of width `c7`."""
    return [
        [Conv("branch1x1", 192)],
        [Conv("branch7x7_1", c7), Conv("branch7x7_2", c7, **ROW), Conv("branch7x7_3", 192, **COL)],
        [
            Conv("branch7x7dbl_1", c7),
            Conv("branch7x7dbl_2", c7, **COL),
            Conv("branch7x7dbl_3", c7, **ROW),
            Conv("branch7x7dbl_4", c7, **COL),
            Conv("branch7x7dbl_5", 192, **ROW),
        ],
        ["avg", Conv("branch_pool", 192)],
    ]


def block_d() -> list[list]:
    """17×17 -> 8×8 reduction."""
    return [
        [Conv("branch3x3_1", 192), Conv("branch3x3_2", 320, 3, stride=2)],
        [
            Conv("branch7x7x3_1", 192),
            Conv("branch7x7x3_2", 192, **ROW),
            Conv("branch7x7x3_3", 192, **COL),
            Conv("branch7x7x3_4", 192, 3, stride=2),
        ],
        ["max_down"],
    ]


def block_e(pool: str) -> list[list]:
    """8×8 block with forked 1×3 / 3×1 convolutions; `pool` is "avg" or, in Mixed_7c, "max"."""
    return [
        [Conv("branch1x1", 320)],
        [
            Conv("branch3x3_1", 384),
            Fork(
                Conv("branch3x3_2a", 384, (1, 3), padding=(0, 1)),
                Conv("branch3x3_2b", 384, (3, 1), padding=(1, 0)),
            ),
        ],
        [
            Conv("branch3x3dbl_1", 448),
            Conv("branch3x3dbl_2", 384, 3, padding=1),
            Fork(
                Conv("branch3x3dbl_3a", 384, (1, 3), padding=(0, 1)),
                Conv("branch3x3dbl_3b", 384, (3, 1), padding=(1, 0)),
            ),
        ],
        [pool, Conv("branch_pool", 192)],
    ]


STEM = (
    Conv("Conv2d_1a_3x3", 32, 3, stride=2),
    Conv("Conv2d_2a_3x3", 32, 3),
    Conv("Conv2d_2b_3x3", 64, 3, padding=1),
    "max_down",
    Conv("Conv2d_3b_1x1", 80),
    Conv("Conv2d_4a_3x3", 192, 3),
    "max_down",
)
MIXED = (
    ("Mixed_5b", block_a(32)),
    ("Mixed_5c", block_a(64)),
    ("Mixed_5d", block_a(64)),
    ("Mixed_6a", block_b()),
    ("Mixed_6b", block_c(128)),
    ("Mixed_6c", block_c(160)),
    ("Mixed_6d", block_c(160)),
    ("Mixed_6e", block_c(192)),
    ("Mixed_7a", block_d()),
    ("Mixed_7b", block_e("avg")),
    ("Mixed_7c", block_e("max")),
)


class FIDInceptionV3(nn.Module):
    """Images in [0, 1] (N, 3, H, W) -> 2048-d pool3 features, as the FID network computes."""

    def __init__(self) -> None:
        super().__init__()
        ch = 3
        for step in STEM:
            if isinstance(step, Conv):
                self.add_module(step.name, ConvBN(ch, step))
                ch = step.out
        for name, branches in MIXED:
            block = Mixed(ch, branches)
            self.add_module(name, block)
            ch = block.out_channels
        # Unused for features, kept so that the weights file loads key for key.
        self.fc = nn.Linear(FEATURE_DIM, NUM_CLASSES)

    def forward(self, images: torch.Tensor) -> torch.Tensor:
        """(N, 2048) pool3 features of images in [0, 1]."""
        x = F.interpolate(
            images, size=(INPUT_SIZE, INPUT_SIZE), mode="bilinear", align_corners=False
        )
        # Channels-last runs this network ~1.4x faster on CPU (oneDNN), measured here.
        x = (2.0 * x - 1.0).contiguous(memory_format=torch.channels_last)
        for step in STEM:
            x = getattr(self, step.name)(x) if isinstance(step, Conv) else POOLS[step](x)
        for name, _ in MIXED:
            x = getattr(self, name)(x)
        return x.mean(dim=(2, 3))
