"""Class lists: names and display colours, the ignore index, and label-value validation."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from crn.errors import UserError
from crn.fsutil import read_json_file

# The one ignore/void value of label maps as loaded; every source maps its void to it.
IGNORE_INDEX = 255
# Label maps are stored and resized as 8-bit images, and 255 is taken by the ignore index.
MAX_CLASSES = 255


@dataclass(frozen=True)
class ClassInfo:
    """One semantic class: its name and the RGB colour used to draw it."""

    name: str
    color: tuple[int, int, int]


def classes_to_json(classes: tuple[ClassInfo, ...]) -> list[dict[str, Any]]:
    """The JSON form of a class list: a list of {name, color}."""
    return [{"name": c.name, "color": [int(v) for v in c.color]} for c in classes]


def classes_from_json(data: Any, where: str) -> tuple[ClassInfo, ...]:
    """Parse and validate a JSON class list (list of {name, color}); `where` names the file."""
    if not isinstance(data, list) or not data:
        raise UserError(f"{where}: expected a non-empty list of {{name, color}} objects")
    if len(data) > MAX_CLASSES:
        raise UserError(
            f"{where}: {len(data)} classes, at most {MAX_CLASSES} are supported "
            f"({IGNORE_INDEX} is the ignore index)"
        )
    classes = []
    for i, item in enumerate(data):
        if not isinstance(item, dict) or not isinstance(item.get("name"), str):
            raise UserError(f"{where}: class {i} must be an object with a string 'name'")
        color = item.get("color")
        if not (
            isinstance(color, list | tuple)
            and len(color) == 3
            and all(isinstance(v, int) and 0 <= v <= 255 for v in color)
        ):
            raise UserError(
                f"{where}: class {i} ('{item['name']}') needs color [r, g, b] in 0..255"
            )
        classes.append(ClassInfo(item["name"], (color[0], color[1], color[2])))
    names = [c.name for c in classes]
    dupes = sorted({n for n in names if names.count(n) > 1})
    if dupes:
        raise UserError(f"{where}: duplicate class name(s) {', '.join(dupes)}")
    return tuple(classes)


def read_classes_file(path: str | Path) -> tuple[ClassInfo, ...]:
    """Read a `classes.json` file (a list of {name, color})."""
    data = read_json_file(path, "class list not found (expected a JSON list of {name, color})")
    return classes_from_json(data, str(path))


def check_label_values(label: np.ndarray, num_classes: int, where: str) -> np.ndarray:
    """Return `label` if every value is a class index or IGNORE_INDEX, else raise UserError."""
    bad = (label < 0) | ((label >= num_classes) & (label != IGNORE_INDEX))
    if bad.any():
        value = int(label[bad].flat[0])
        raise UserError(
            f"{where}: label value {value} is outside the {num_classes} classes "
            f"(expected 0..{num_classes - 1}, or {IGNORE_INDEX} = ignore)"
        )
    return label


def apply_lut(raw: np.ndarray, lut: np.ndarray, where: str, what: str) -> np.ndarray:
    """Map raw label values through `lut` (-1 marks invalid values) to int64 class indices.

    `what` describes the valid raw values for the error message, e.g. "Cityscapes ids 0..33".
    """
    raw = np.asarray(raw)
    flat_max = int(raw.max()) if raw.size else 0
    flat_min = int(raw.min()) if raw.size else 0
    if flat_min < 0 or flat_max >= len(lut):
        value = flat_min if flat_min < 0 else flat_max
        raise UserError(f"{where}: label value {value} is outside {what}")
    out = lut[raw]
    if (out < 0).any():
        value = int(raw[out < 0].flat[0])
        raise UserError(f"{where}: label value {value} is outside {what}")
    return out.astype(np.int64, copy=False)


def palette_colors(n: int) -> list[tuple[int, int, int]]:
    """`n` distinct colours from the PASCAL VOC bit-interleaving palette (for unnamed palettes)."""
    colors = []
    for i in range(1, n + 1):
        r = g = b = 0
        c = i
        for j in range(8):
            r |= ((c >> 0) & 1) << (7 - j)
            g |= ((c >> 1) & 1) << (7 - j)
            b |= ((c >> 2) & 1) << (7 - j)
            c >>= 3
        colors.append((r, g, b))
    return colors
