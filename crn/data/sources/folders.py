"""`folders`: any `images/` + `labels/` pair of folders matched by file stem, with `classes.json`.

Labels are PNGs holding class indices 0..K-1 (255 = ignore), or RGB PNGs drawn in the
colours of `classes.json` (black = ignore when no class is black).
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from crn.data.classes import IGNORE_INDEX, check_label_values, read_classes_file
from crn.data.sources.base import PHOTO_SUFFIXES, FilePairSource, join_pairs, stem_table
from crn.errors import UserError
from crn.imageset import read_image


class FoldersSource(FilePairSource):
    """Photos in `root/images`, labels in `root/labels` (same stem), classes in `classes.json`."""

    name = "folders"
    rgb_labels = True

    def __init__(self, root: str | Path) -> None:
        super().__init__(root)
        for sub in ("images", "labels"):
            if not (self.root / sub).is_dir():
                raise UserError(
                    f"{self.root / sub}: folder not found (a {self.name} source holds images/, "
                    "labels/ and classes.json)"
                )
        self.classes = read_classes_file(self.root / "classes.json")
        self._color_keys = np.array(
            [(r << 16) | (g << 8) | b for r, g, b in (c.color for c in self.classes)], np.int64
        )

    def _scan(self, subset: str | None) -> dict[str, tuple[Path | None, Path | None]]:
        photos = stem_table(self.root / "images", PHOTO_SUFFIXES)
        labels = stem_table(self.root / "labels", (".png",))
        return join_pairs(photos, labels)

    def _map_label(self, raw: np.ndarray, where: str) -> np.ndarray:
        if raw.ndim == 2:
            return check_label_values(raw.astype(np.int64), len(self.classes), where)
        return self._map_colors(raw, where)

    def _map_colors(self, raw: np.ndarray, where: str) -> np.ndarray:
        """Class indices of an RGB label image drawn in the class colours."""
        keys = (raw[..., 0].astype(np.int64) << 16) | (raw[..., 1].astype(np.int64) << 8)
        keys |= raw[..., 2]
        order = np.argsort(self._color_keys, kind="stable")
        sorted_keys = self._color_keys[order]
        pos = np.clip(np.searchsorted(sorted_keys, keys), 0, len(order) - 1)
        found = sorted_keys[pos] == keys
        out = np.where(found, order[pos], IGNORE_INDEX).astype(np.int64)
        unknown = ~found & (keys != 0)
        if unknown.any():
            key = int(keys[unknown].flat[0])
            color = (key >> 16, (key >> 8) & 255, key & 255)
            raise UserError(
                f"{where}: label colour {color} is none of the {len(self.classes)} class colours "
                "of classes.json (black = ignore)"
            )
        return out

    def default_size(self) -> tuple[int, int]:
        """The size of the first photo (splits resize every pair to one size)."""
        for photo, _ in self.pairs(None).values():
            if photo is not None:
                h, w = read_image(photo).shape[:2]
                return h, w
        raise UserError(f"{self.root / 'images'}: no photos found")
