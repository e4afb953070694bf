"""Builders of tiny image sets on a split's test ids, for the metrics tests."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from crn.data.colorize import colorize
from crn.data.resize import resize_label
from crn.data.splits import open_split_source
from crn.imageset import write_imageset

SIZE = (32, 64)


def write_set(out: Path, splits, name: str, images: dict[str, np.ndarray], kind="generated"):
    """An image set of `images` (id -> H×W×3 uint8) on the test split of `splits`."""
    return write_imageset(
        out,
        name=name,
        kind=kind,
        source="test",
        dataset=splits.source,
        split_sha256=splits.sha256,
        split="test",
        size=SIZE,
        images=sorted(images.items()),
    )


def noise_images(splits, seed: int) -> dict[str, np.ndarray]:
    """Uniform noise per test id."""
    rng = np.random.default_rng(seed)
    return {i: rng.integers(0, 256, (*SIZE, 3), dtype=np.uint8) for i in splits.test}


def label_images(splits) -> dict[str, np.ndarray]:
    """The test label maps drawn in their class colours (a perfect segmenter's input)."""
    source = open_split_source(splits)
    return {i: colorize(resize_label(source.load(i)[0], SIZE), splits.classes) for i in splits.test}
