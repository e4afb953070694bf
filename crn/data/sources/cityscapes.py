"""`cityscapes`: the official layout, mapped to the 19 train classes (CRN) or the 35 label ids.

leftImg8bit/{train,val}/<city>/<id>_leftImg8bit.png and
gtFine/{train,val}/<city>/<id>_gtFine_labelIds.png, with <id> = <city>_<seq>_<frame>.

Three label modes: "train" (cityscapesScripts' trainIds: 19 classes, the rest void),
"ids" (all 35 ids) and "authors" (the CRN authors' code, which reads gtFine_color.png and
keeps each pixel whose colour is one of the 19 train-class colours: the same 19 classes,
but polegroup, drawn in pole's colour, becomes pole and license plate, in car's, car).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np

from crn.data.classes import IGNORE_INDEX, ClassInfo, apply_lut
from crn.data.sources.base import FilePairSource, LabelCoding, join_pairs, stem_table
from crn.errors import UserError

# (name, label id, train id, colour) of the official cityscapesScripts label table
LABELS: tuple[tuple[str, int, int, tuple[int, int, int]], ...] = (
    ("unlabeled", 0, 255, (0, 0, 0)),
    ("ego vehicle", 1, 255, (0, 0, 0)),
    ("rectification border", 2, 255, (0, 0, 0)),
    ("out of roi", 3, 255, (0, 0, 0)),
    ("static", 4, 255, (0, 0, 0)),
    ("dynamic", 5, 255, (111, 74, 0)),
    ("ground", 6, 255, (81, 0, 81)),
    ("road", 7, 0, (128, 64, 128)),
    ("sidewalk", 8, 1, (244, 35, 232)),
    ("parking", 9, 255, (250, 170, 160)),
    ("rail track", 10, 255, (230, 150, 140)),
    ("building", 11, 2, (70, 70, 70)),
    ("wall", 12, 3, (102, 102, 156)),
    ("fence", 13, 4, (190, 153, 153)),
    ("guard rail", 14, 255, (180, 165, 180)),
    ("bridge", 15, 255, (150, 100, 100)),
    ("tunnel", 16, 255, (150, 120, 90)),
    ("pole", 17, 5, (153, 153, 153)),
    ("polegroup", 18, 255, (153, 153, 153)),
    ("traffic light", 19, 6, (250, 170, 30)),
    ("traffic sign", 20, 7, (220, 220, 0)),
    ("vegetation", 21, 8, (107, 142, 35)),
    ("terrain", 22, 9, (152, 251, 152)),
    ("sky", 23, 10, (70, 130, 180)),
    ("person", 24, 11, (220, 20, 60)),
    ("rider", 25, 12, (255, 0, 0)),
    ("car", 26, 13, (0, 0, 142)),
    ("truck", 27, 14, (0, 0, 70)),
    ("bus", 28, 15, (0, 60, 100)),
    ("caravan", 29, 255, (0, 0, 90)),
    ("trailer", 30, 255, (0, 0, 110)),
    ("train", 31, 16, (0, 80, 100)),
    ("motorcycle", 32, 17, (0, 0, 230)),
    ("bicycle", 33, 18, (119, 11, 32)),
    # id -1 in the official table; given index 34 so that the 35 ids are contiguous
    ("license plate", 34, 255, (0, 0, 142)),
)
NUM_IDS = 35

TRAIN_CLASSES: tuple[ClassInfo, ...] = tuple(
    ClassInfo(name, color)
    for name, _, train_id, color in sorted(LABELS, key=lambda r: r[2])
    if train_id != 255
)
ID_CLASSES: tuple[ClassInfo, ...] = tuple(ClassInfo(name, color) for name, *_, color in LABELS)
LABEL_MODES = ("train", "ids", "authors")
LABEL_CODING = LabelCoding(
    "Cityscapes",
    tuple((name, color) for name, *_, color in LABELS),
    "use the label-id PNGs <id>_gtFine_labelIds.png, not <id>_gtFine_color.png",
)


def label_lut(labels: str) -> np.ndarray:
    """Raw label id -> class index (IGNORE_INDEX = void, -1 = not a valid id) of a mode."""
    lut = np.full(256, -1, np.int64)
    if labels == "ids":
        lut[:NUM_IDS] = np.arange(NUM_IDS)
    elif labels == "train":
        for _, label_id, train_id, _ in LABELS[:34]:
            lut[label_id] = IGNORE_INDEX if train_id == 255 else train_id
    else:
        # The authors' palette lookup: an id drawn in a train-class colour is that class.
        by_color = {c.color: index for index, c in enumerate(TRAIN_CLASSES)}
        for _, label_id, _, color in LABELS:
            lut[label_id] = by_color.get(color, IGNORE_INDEX)
    return lut


class CityscapesSource(FilePairSource):
    """Cityscapes fine annotations; `labels` "train" or "authors" (19 + void), or "ids" (35)."""

    name = "cityscapes"
    subsets = ("train", "val")
    label_coding = LABEL_CODING

    def __init__(self, root: str | Path, labels: str = "train") -> None:
        super().__init__(root)
        if labels not in LABEL_MODES:
            raise UserError(f"cityscapes labels '{labels}' is not one of {', '.join(LABEL_MODES)}")
        for sub in ("leftImg8bit", "gtFine"):
            if not (self.root / sub).is_dir():
                raise UserError(
                    f"{self.root / sub}: folder not found (expected the official Cityscapes layout:"
                    " leftImg8bit/{train,val}/<city>/ and gtFine/{train,val}/<city>/)"
                )
        self.labels = labels
        self.classes = ID_CLASSES if labels == "ids" else TRAIN_CLASSES
        self._lut = label_lut(labels)
        valid = "0..33" if labels == "train" else "0..34"
        self._what = f"the Cityscapes label ids {valid} ({len(self.classes)} classes)"

    @property
    def options(self) -> dict[str, Any]:
        """{"labels": "train" | "ids" | "authors"}."""
        return {"labels": self.labels}

    def _scan(self, subset: str | None) -> dict[str, tuple[Path | None, Path | None]]:
        photos: dict[str, Path] = {}
        labels: dict[str, Path] = {}
        for (
            folder,
            table,
            strip,
        ) in (
            (self.root / "leftImg8bit" / str(subset), photos, "_leftImg8bit"),
            (self.root / "gtFine" / str(subset), labels, "_gtFine_labelIds"),
        ):
            cities = sorted(p for p in folder.iterdir() if p.is_dir()) if folder.is_dir() else []
            for city in cities:
                table.update(stem_table(city, (".png",), strip=strip))
        return join_pairs(photos, labels)

    def _map_label(self, raw: np.ndarray, where: str) -> np.ndarray:
        return apply_lut(raw, self._lut, where, self._what)
