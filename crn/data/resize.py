"""Resizing of pairs: labels by nearest neighbour, photos with an antialiased filter."""

from __future__ import annotations

import numpy as np
from PIL import Image


def resize_label(label: np.ndarray, size: tuple[int, int]) -> np.ndarray:
    """Nearest-neighbour resize of an (H, W) label map to `size` = (H', W'), dtype kept."""
    h, w = label.shape
    th, tw = size
    if (h, w) == (th, tw):
        return label
    rows = np.minimum(((np.arange(th) + 0.5) * h / th).astype(np.intp), h - 1)
    cols = np.minimum(((np.arange(tw) + 0.5) * w / tw).astype(np.intp), w - 1)
    return label[rows[:, None], cols[None, :]]


def resize_photo(photo: np.ndarray, size: tuple[int, int]) -> np.ndarray:
    """Resize an (H, W, 3) uint8 photo to `size` with PIL's bicubic filter.

    PIL widens the filter support when shrinking, so downscaling is antialiased.
    """
    if photo.shape[:2] == tuple(size):
        return photo
    img = Image.fromarray(photo, "RGB").resize((size[1], size[0]), Image.Resampling.BICUBIC)
    return np.asarray(img)
