"""Drawing label maps in their class colours, for display."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from crn.data.classes import IGNORE_INDEX, ClassInfo, check_label_values


def palette(classes: Sequence[ClassInfo]) -> np.ndarray:
    """A (256, 3) uint8 lookup table: class colours, black for the ignore index."""
    table = np.zeros((256, 3), np.uint8)
    for index, info in enumerate(classes):
        table[index] = info.color
    table[IGNORE_INDEX] = 0
    return table


def colorize(label: np.ndarray, classes: Sequence[ClassInfo]) -> np.ndarray:
    """(H, W, 3) uint8 image of an (H, W) label map in class colours (ignore -> black)."""
    label = np.asarray(label)
    check_label_values(label, len(classes), "label map")
    return palette(classes)[label.astype(np.intp)]
