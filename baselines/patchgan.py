"""The pix2pix PatchGAN discriminator (70×70 receptive field with n_layers = 3)."""

from __future__ import annotations

import torch
from torch import nn

from baselines.layers import conv_bias, init_normal_, make_norm


class PatchDiscriminator(nn.Module):
    """C64 (no norm) - C128 - C256 stride 2, C512 stride 1, then a 1-channel logit map."""

    def __init__(self, in_channels: int, ndf: int = 64, n_layers: int = 3, norm: str = "batch"):
        super().__init__()
        bias = conv_bias(norm)
        layers: list[nn.Module] = [
            nn.Conv2d(in_channels, ndf, 4, stride=2, padding=1),
            nn.LeakyReLU(0.2, inplace=True),
        ]
        mult = 1
        for n in range(1, n_layers + 1):
            prev, mult = mult, min(2**n, 8)
            stride = 2 if n < n_layers else 1
            layers += [
                nn.Conv2d(ndf * prev, ndf * mult, 4, stride=stride, padding=1, bias=bias),
                make_norm(norm, ndf * mult),
                nn.LeakyReLU(0.2, inplace=True),
            ]
        layers.append(nn.Conv2d(ndf * mult, 1, 4, stride=1, padding=1))
        self.model = nn.Sequential(*layers)
        init_normal_(self)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """Logits [B, 1, h, w], one per overlapping patch of the input pair."""
        return self.model(x)
