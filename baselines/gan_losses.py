"""Adversarial losses: vanilla (BCE with logits) and least squares, against constant targets."""

from __future__ import annotations

import torch
from torch import nn

GAN_MODES = ("vanilla", "lsgan")


class GANLoss(nn.Module):
    """Loss of discriminator logits against the 'real' (1) or 'fake' (0) target."""

    def __init__(self, mode: str = "vanilla") -> None:
        super().__init__()
        if mode not in GAN_MODES:
            raise ValueError(f"unknown GAN loss '{mode}' (expected one of {', '.join(GAN_MODES)})")
        self.mode = mode
        self.criterion = nn.BCEWithLogitsLoss() if mode == "vanilla" else nn.MSELoss()

    def forward(self, logits: torch.Tensor, target_is_real: bool) -> torch.Tensor:
        """Mean loss of `logits` against an all-real or all-fake target of the same shape."""
        fill = 1.0 if target_is_real else 0.0
        target = torch.full_like(logits, fill)
        return self.criterion(logits, target)
