"""Shared building blocks of the baseline networks: norm layers and pix2pix weight init."""

from __future__ import annotations

from torch import nn

NORMS = ("batch", "instance", "layer", "none")


def make_norm(kind: str, channels: int) -> nn.Module:
    """A norm layer over `channels`; pix2pix's conventions for batch and instance norm.

    Batch norm keeps no running statistics: Isola et al. normalise with the statistics of the
    test batch at test time too, so train and test use the same code path.
    """
    if kind == "batch":
        return nn.BatchNorm2d(channels, track_running_stats=False)
    if kind == "instance":
        return nn.InstanceNorm2d(channels, affine=False, track_running_stats=False)
    if kind == "layer":
        return nn.GroupNorm(1, channels)
    if kind == "none":
        return nn.Identity()
    raise ValueError(f"unknown norm '{kind}' (expected one of {', '.join(NORMS)})")


def conv_bias(norm: str) -> bool:
    """Whether a conv followed by `norm` needs its own bias (an affine norm already has one)."""
    return norm in ("instance", "none")


def init_normal_(module: nn.Module, gain: float = 0.02) -> nn.Module:
    """pix2pix init: conv weights N(0, gain), norm scales N(1, gain), biases zero."""
    for mod in module.modules():
        if isinstance(mod, nn.Conv2d | nn.ConvTranspose2d):
            nn.init.normal_(mod.weight, 0.0, gain)
            if mod.bias is not None:
                nn.init.zeros_(mod.bias)
        elif isinstance(mod, nn.BatchNorm2d | nn.GroupNorm) and mod.weight is not None:
            nn.init.normal_(mod.weight, 1.0, gain)
            nn.init.zeros_(mod.bias)
    return module


def count_parameters(module: nn.Module) -> int:
    """Number of trainable parameters of `module`."""
    return sum(p.numel() for p in module.parameters() if p.requires_grad)
