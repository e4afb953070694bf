"""The pix2pix U-Net generator (Isola et al. 2017) and its skip-free encoder-decoder variant."""

from __future__ import annotations

import torch
from torch import nn

from baselines.layers import conv_bias, init_normal_, make_norm

MAX_MULT = 8  # widths double per level up to ngf * 8 (512 for ngf 64), as in pix2pix
DROPOUT_LEVELS = 3  # decoder blocks next to the bottleneck that use dropout 0.5


def max_downsamplings(height: int, width: int) -> int:
    """How many stride-2 halvings both sides allow before the shorter side reaches 1."""
    n = 0
    while height % 2 == 0 and width % 2 == 0 and min(height, width) > 1:
        height, width, n = height // 2, width // 2, n + 1
    return n


def level_widths(ngf: int, n_down: int) -> list[int]:
    """Feature channels after each down-convolution: ngf, 2ngf, 4ngf, 8ngf, 8ngf, …"""
    return [ngf * min(2**i, MAX_MULT) for i in range(n_down)]


class UNetGenerator(nn.Module):
    """Encoder of 4×4 stride-2 convs, decoder of 4×4 transposed convs, optional skips.

    With `skips=True` this is the pix2pix U-Net; with `skips=False` it is the plain
    encoder-decoder whose only path from input to output runs through the bottleneck.
    Output is Tanh, in [-1, 1].
    """

    def __init__(
        self,
        in_channels: int,
        out_channels: int,
        ngf: int,
        n_down: int,
        norm: str = "batch",
        dropout: float = 0.5,
        skips: bool = True,
    ) -> None:
        super().__init__()
        if n_down < 2:
            raise ValueError(f"a U-Net needs at least 2 downsamplings, got {n_down}")
        self.n_down = n_down
        self.skips = skips
        widths = level_widths(ngf, n_down)
        self.down = nn.ModuleList(
            self._down_block(in_channels, widths, i, norm) for i in range(n_down)
        )
        self.up = nn.ModuleList(
            self._up_block(out_channels, widths, i, norm, dropout) for i in range(n_down)
        )
        init_normal_(self)

    @staticmethod
    def _down_block(in_channels: int, widths: list[int], i: int, norm: str) -> nn.Sequential:
        outermost, innermost = i == 0, i == len(widths) - 1
        cin = in_channels if outermost else widths[i - 1]
        conv = nn.Conv2d(cin, widths[i], 4, stride=2, padding=1, bias=conv_bias(norm))
        if outermost:
            return nn.Sequential(conv)
        layers: list[nn.Module] = [nn.LeakyReLU(0.2, inplace=True), conv]
        if not innermost:
            layers.append(make_norm(norm, widths[i]))
        return nn.Sequential(*layers)

    def _up_block(
        self, out_channels: int, widths: list[int], i: int, norm: str, dropout: float
    ) -> nn.Sequential:
        outermost, innermost = i == 0, i == len(widths) - 1
        cin = widths[i] if innermost or not self.skips else 2 * widths[i]
        layers: list[nn.Module] = [nn.ReLU(inplace=True)]
        if outermost:
            layers += [nn.ConvTranspose2d(cin, out_channels, 4, stride=2, padding=1), nn.Tanh()]
            return nn.Sequential(*layers)
        cout = widths[i - 1]
        layers += [
            nn.ConvTranspose2d(cin, cout, 4, stride=2, padding=1, bias=conv_bias(norm)),
            make_norm(norm, cout),
        ]
        if dropout > 0 and i >= len(widths) - DROPOUT_LEVELS:
            layers.append(nn.Dropout(dropout))
        return nn.Sequential(*layers)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """Map an input [B, in, H, W] to an image [B, out, H, W] in [-1, 1]."""
        feats = []
        for block in self.down:
            x = block(x)
            feats.append(x)
        for i in range(self.n_down - 1, -1, -1):
            x = self.up[i](x)
            if self.skips and i > 0:
                # feats[i - 1] went through the next down block's in-place LeakyReLU; the up
                # block's ReLU makes that the same as skipping the raw feature, as in pix2pix.
                x = torch.cat([feats[i - 1], x], dim=1)
        return x
