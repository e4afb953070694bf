"""The cascaded refinement network (Chen & Koltun 2017), as in the authors' released code."""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F
from torch import nn

from crn.errors import UserError
from crn.losses import label_pyramid
from crn.models import cpu_kernels

MIN_HEIGHT = 4
MAX_HEIGHT = 1024
# The authors' slim.layer_norm adds 1e-12 to the variance. GroupNorm's default 1e-5 is not
# negligible here: the coarsest module sees area-averaged labels whose pre-norm variance is
# near 1e-4, so 1e-5 would shrink its features by ~5 %.
LAYER_NORM_EPS = 1e-12


def scales(size: tuple[int, int]) -> list[tuple[int, int]]:
    """Resolutions of the refinement modules: 4×(4·W/H), doubling up to `size`."""
    height, width = size
    if height < MIN_HEIGHT or height > MAX_HEIGHT or height & (height - 1):
        raise UserError(
            f"image height {height}: expected a power of two from {MIN_HEIGHT} to {MAX_HEIGHT}"
        )
    base = width * MIN_HEIGHT / height
    if width <= 0 or base != int(base):
        raise UserError(
            f"image size {height}x{width}: the width must be a multiple of height/4 "
            f"({height // 4}) so that the coarsest module is 4×(4·W/H)"
        )
    count = int(math.log2(height // MIN_HEIGHT)) + 1
    return [(MIN_HEIGHT << i, int(base) << i) for i in range(count)]


def base_channels(height: int) -> int:
    """The authors' feature channels at a module height (before the width multiplier)."""
    if height <= 64:
        return 1024
    if height <= 256:
        return 512
    return 128 if height <= 512 else 32


def channel_schedule(size: tuple[int, int], width: float = 1.0) -> list[int]:
    """Feature channels of each refinement module for an output size and width multiplier."""
    if width <= 0:
        raise UserError(f"width multiplier {width}: expected a positive number")
    return [max(1, round(base_channels(h) * width)) for h, _ in scales(size)]


def default_num_outputs(size: tuple[int, int]) -> int:
    """The authors' k: 9 diverse images up to 256p, 1 above."""
    return 9 if size[0] <= 256 else 1


class LayerNorm(nn.GroupNorm):
    """slim.layer_norm: statistics over (C, H, W) per sample, a scale and shift per channel.

    Always computed in fp32: under autocast the conv output may be bf16, whose variance
    would round to zero in flat regions and, with ε = 1e-12, blow features up. The result
    stays fp32 under autocast (the next conv casts it down itself).
    """

    def __init__(self, channels: int, eps: float = LAYER_NORM_EPS) -> None:
        super().__init__(1, channels, eps=eps)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """Normalise `x` [B,C,H,W] in fp32."""
        autocast = torch.is_autocast_enabled(x.device.type)
        if x.dtype == torch.float32 and not autocast:
            return F.group_norm(x, 1, self.weight, self.bias, self.eps)
        with torch.autocast(x.device.type, enabled=False):
            out = F.group_norm(x.float(), 1, self.weight.float(), self.bias.float(), self.eps)
        return out if autocast else out.to(x.dtype)


class RefinementModule(nn.Module):
    """3×3 conv → layer norm → LReLU(0.2), twice; convs before a norm carry no bias."""

    def __init__(self, in_channels: int, channels: int, eps: float = LAYER_NORM_EPS) -> None:
        super().__init__()
        self.conv1 = nn.Conv2d(in_channels, channels, 3, padding=1, bias=False)
        self.norm1 = LayerNorm(channels, eps)
        self.conv2 = nn.Conv2d(channels, channels, 3, padding=1, bias=False)
        self.norm2 = LayerNorm(channels, eps)
        for conv in (self.conv1, self.conv2):
            nn.init.xavier_uniform_(conv.weight)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """Refine features (in-place LReLU: GroupNorm backward needs its input, not output)."""
        x = F.leaky_relu_(self.norm1(cpu_kernels.conv3x3(x, self.conv1.weight)), 0.2)
        return F.leaky_relu_(self.norm2(cpu_kernels.conv3x3(x, self.conv2.weight)), 0.2)


class CRNGenerator(nn.Module):
    """Label map [B,C,H,W] → k images [B,k,3,H,W], (x+1)/2 of a final 1×1 conv, unclipped.

    Output channel 3·i + c is colour c of image i; the authors' graph orders them c·k + i
    (the same network up to that permutation of the 1×1 conv's filters).
    """

    def __init__(
        self,
        num_label_channels: int,
        size: tuple[int, int],
        width: float = 1.0,
        k: int = 9,
        norm_eps: float = LAYER_NORM_EPS,
    ) -> None:
        super().__init__()
        if num_label_channels < 1 or k < 1:
            raise UserError(
                f"CRN needs >= 1 label channel and >= 1 output (got {num_label_channels}, {k})"
            )
        self.size = tuple(size)
        self.k = k
        self.scales = scales(self.size)
        self.channels = channel_schedule(self.size, width)
        blocks = []
        previous = 0
        for channels in self.channels:
            blocks.append(RefinementModule(previous + num_label_channels, channels, norm_eps))
            previous = channels
        self.blocks = nn.ModuleList(blocks)
        self.to_rgb = nn.Conv2d(previous, 3 * k, 1)
        nn.init.xavier_uniform_(self.to_rgb.weight)
        nn.init.zeros_(self.to_rgb.bias)

    def forward(self, label: torch.Tensor, pyramid: dict | None = None) -> torch.Tensor:
        """Raw images (x+1)/2 [B,k,3,H,W]; `pyramid` caches the area-averaged label maps."""
        if tuple(label.shape[-2:]) != self.size:
            raise UserError(f"label map is {tuple(label.shape[-2:])}, the CRN expects {self.size}")
        if pyramid is None:
            pyramid = label_pyramid(label, self.scales)
        features = None
        for size, block, channels in zip(self.scales, self.blocks, self.channels, strict=True):
            masks = pyramid[size] if size in pyramid else label_pyramid(label, [size])[size]
            if features is None:
                x = cpu_kernels.module_layout(masks, channels, size)
            else:
                # Re-laid before upsampling, where the map is 4x smaller than after.
                up = cpu_kernels.upsample(cpu_kernels.module_layout(features, channels, size), size)
                masks = masks.to(up.dtype).contiguous(memory_format=cpu_kernels.layout_of(up))
                x = torch.cat([up, masks], dim=1)
            features = block(x)
        out = cpu_kernels.pointwise(features, self.to_rgb.weight, self.to_rgb.bias)
        out = (out + 1.0) / 2.0
        return out.view(out.shape[0], self.k, 3, *out.shape[-2:])
