"""Evaluation during training: masked validation L1 and sample grids (label | k outputs | real)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import torch

from crn.fsutil import atomic_write_bytes
from crn.imageset import encode_png


def masked_l1(outputs: torch.Tensor, photo: torch.Tensor, label: torch.Tensor) -> torch.Tensor:
    """Mean |output − photo| over non-void pixels, per image and output: [B,k].

    outputs [B,k,3,H,W] and photo [B,3,H,W] in [0,1]; label [B,C+1,H,W] with void last.
    """
    mask = (1.0 - label[:, -1]).clamp(0, 1).unsqueeze(1)  # [B,1,H,W]
    error = (outputs - photo.unsqueeze(1)).abs().mean(dim=2)  # [B,k,H,W]
    area = mask.sum(dim=(2, 3)).clamp_min(1.0)
    return (error * mask).sum(dim=(2, 3)) / area


def to_uint8(images: torch.Tensor) -> np.ndarray:
    """[...,3,H,W] floats in [0,1] -> [...,H,W,3] uint8."""
    array = (images.detach().float().clamp(0, 1) * 255.0).round().to(torch.uint8)
    return array.movedim(-3, -1).cpu().numpy()


def sample_grid(
    label_rgb: list[np.ndarray], outputs: torch.Tensor, photo: torch.Tensor
) -> np.ndarray:
    """One row per image: colourised label | k outputs | real photo, 2-px white gutters."""
    outs = to_uint8(outputs)  # [B,k,H,W,3]
    reals = to_uint8(photo)  # [B,H,W,3]
    rows = []
    for i, label in enumerate(label_rgb):
        tiles = [label, *outs[i], reals[i]]
        rows.append(_join(tiles, axis=1))
    return _join(rows, axis=0)


def _join(tiles: list[np.ndarray], axis: int) -> np.ndarray:
    """Concatenate tiles along `axis` with a white 2-px gutter between them."""
    shape = list(tiles[0].shape)
    shape[axis] = 2
    gutter = np.full(shape, 255, dtype=np.uint8)
    parts: list[np.ndarray] = []
    for tile in tiles:
        if parts:
            parts.append(gutter)
        parts.append(tile)
    return np.concatenate(parts, axis=axis)


def colorize_labels(label_index: torch.Tensor, classes: Any) -> list[np.ndarray]:
    """Colour images of a batch of label maps [B,H,W] with the split's class colours."""
    from crn.data.colorize import colorize

    return [colorize(item.cpu().numpy(), classes) for item in label_index]


def save_grid(path: str | Path, grid: np.ndarray) -> None:
    """Write a grid as PNG, atomically."""
    atomic_write_bytes(path, encode_png(grid))
