"""The CRN paper's full-resolution baseline: 3×3 convs at output size, dilated for context."""

from __future__ import annotations

import torch
from torch import nn

from baselines.layers import conv_bias, make_norm


def dilation_schedule(depth: int) -> list[int]:
    """Dilations 1, 2, 4, … doubling between a first and a last undilated layer."""
    if depth < 3:
        raise ValueError(f"the full-resolution network needs at least 3 layers, got {depth}")
    return [1] + [2**i for i in range(depth - 2)] + [1]


def receptive_field(depth: int) -> int:
    """Side of the receptive field, in pixels, of `depth` 3×3 layers with `dilation_schedule`."""
    return 1 + 2 * sum(dilation_schedule(depth))


class FullResNet(nn.Module):
    """`depth` 3×3 conv + norm + LeakyReLU(0.2) layers at full size, then a 1×1 RGB output.

    Context aggregation as in Yu & Koltun: exponentially growing dilation gives a receptive
    field of 2^depth pixels without any downsampling.
    """

    def __init__(
        self, in_channels: int, out_channels: int, width: int, depth: int, norm: str = "layer"
    ) -> None:
        super().__init__()
        layers: list[nn.Module] = []
        cin = in_channels
        for dilation in dilation_schedule(depth):
            layers += [
                nn.Conv2d(cin, width, 3, padding=dilation, dilation=dilation, bias=conv_bias(norm)),
                make_norm(norm, width),
                nn.LeakyReLU(0.2, inplace=True),
            ]
            cin = width
        layers.append(nn.Conv2d(width, out_channels, 1))
        self.body = nn.Sequential(*layers)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """Map [B, in, H, W] to unbounded outputs [B, out, H, W] (the model maps them to RGB)."""
        return self.body(x)
