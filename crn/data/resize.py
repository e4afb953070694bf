"""Fitting pairs to a split's size: labels by nearest neighbour, photos antialiased, and the
optional centre crop to the size's aspect ratio (a split's "crop" fit)."""

from __future__ import annotations

from typing import Any

import numpy as np
from PIL import Image

from crn.data.sources.base import Source

# "stretch": resize the whole frame to the size; "crop": centre-crop it to the size's aspect first.
FITS = ("stretch", "crop")


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


def crop_box(shape: tuple[int, int], size: tuple[int, int]) -> tuple[int, int, int, int]:
    """(top, left, height, width) of the largest centred window of `shape` with `size`'s aspect."""
    h, w = shape
    th, tw = size
    if w * th > h * tw:  # wider than the target: drop columns at both sides
        cw = max(1, round(h * tw / th))
        return 0, (w - cw) // 2, h, cw
    ch = max(1, round(w * th / tw))
    return (h - ch) // 2, 0, ch, w


def center_crop(array: np.ndarray, size: tuple[int, int]) -> np.ndarray:
    """The centred window of an (H, W, ...) array with the aspect ratio of `size`."""
    top, left, h, w = crop_box(array.shape[:2], size)
    return array[top : top + h, left : left + w]


class CroppedSource(Source):
    """A source whose pairs are centre-cropped to the aspect of `size` (resizing comes later)."""

    def __init__(self, inner: Source, size: tuple[int, int]) -> None:
        super().__init__(inner.root)
        self.inner = inner
        self.size = size
        self.name = inner.name
        self.subsets = inner.subsets
        self.classes = inner.classes

    @property
    def options(self) -> dict[str, Any]:
        """The wrapped source's options."""
        return self.inner.options

    def ids(self, subset: str | None = None) -> list[str]:
        """The wrapped source's ids."""
        return self.inner.ids(subset)

    def missing_pairs(self, subset: str | None = None) -> list[str]:
        """The wrapped source's missing pairs."""
        return self.inner.missing_pairs(subset)

    def load(self, image_id: str) -> tuple[np.ndarray, np.ndarray]:
        """The wrapped pair, label and photo cropped to the same window."""
        label, photo = self.inner.load(image_id)
        return center_crop(label, self.size), center_crop(photo, self.size)
