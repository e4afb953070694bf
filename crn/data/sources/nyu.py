"""`nyu`: NYU Depth v2's labeled `.mat` file (MATLAB v7.3 = HDF5, read with h5py).

Datasets used: `images` (N, 3, W, H) uint8, `labels` (N, W, H) with 0 = unlabeled and
k = names[k - 1], and `names` (cell array of strings). NYU v2 has 894 labels, too many for
one-hot inputs with ignore index 255, so a mapping merges them into fewer classes: the
built-in `nyu40` (Gupta et al. 2013) or `nyu13` (Couprie et al. 2013), Gupta et al.'s
`classMapping40.mat`, or a JSON file
    {"classes": ["wall", {"name": "floor", "color": [r, g, b]}, ...],
     "map": {"<original label>": <new class 1..K, or 0 = unlabeled>, ...}}
Original labels absent from "map" become unlabeled (the ignore index).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np

from crn.data.classes import (
    IGNORE_INDEX,
    MAX_CLASSES,
    ClassInfo,
    apply_lut,
    classes_from_json,
    palette_colors,
)
from crn.data.matfile import hdf5_strings
from crn.data.sources.base import Source
from crn.data.sources.nyu_maps import load_mapping, parse_mapping
from crn.errors import UserError

MAT_NAME = "nyu_depth_v2_labeled.mat"


def _h5py():
    import h5py  # imported lazily: only this source needs it

    return h5py


def _find_mat(root: Path) -> Path:
    if root.is_file():
        return root
    mats = sorted(root.glob("*.mat"))
    if (root / MAT_NAME).is_file():
        return root / MAT_NAME
    if len(mats) == 1:
        return mats[0]
    raise UserError(f"{root}: expected {MAT_NAME} (or exactly one .mat file) in this folder")


class NYUSource(Source):
    """NYU Depth v2 labeled pairs; ids `nyu_0000`... in file order."""

    name = "nyu"

    def __init__(self, root: str | Path, mapping: str | Path | dict | None = None) -> None:
        super().__init__(root)
        self.path = _find_mat(self.root)
        try:
            with _h5py().File(self.path, "r") as f:
                missing = [k for k in ("images", "labels", "names") if k not in f]
                if missing:
                    raise UserError(f"{self.path}: missing dataset(s) {', '.join(missing)}")
                self._count = int(f["images"].shape[0])
                self._image_shape = tuple(f["images"].shape[1:])
                names = hdf5_strings(f, f["names"], self.path, "names")
        except OSError as err:
            raise UserError(f"{self.path}: cannot read as HDF5 / MATLAB v7.3 ({err})") from None
        self._setup_classes(names, mapping)

    def _setup_classes(self, names: list[str], mapping: str | Path | dict | None) -> None:
        n = len(names)
        lut = np.full(n + 1, IGNORE_INDEX, np.int64)
        if mapping is None:
            if n > MAX_CLASSES:
                raise UserError(
                    f"{self.path}: {n} labels cannot be one-hot with ignore index "
                    f"{IGNORE_INDEX}; pass --mapping nyu40 (Gupta et al.), nyu13 (Couprie "
                    "et al.), classMapping40.mat or a JSON mapping"
                )
            self.classes = tuple(
                ClassInfo(name, color) for name, color in zip(names, palette_colors(n), strict=True)
            )
            lut[1:] = np.arange(n)
            self._mapping = None
        else:
            raw, where = load_mapping(mapping, names)
            self._mapping = parse_mapping(raw, n, where)
            self.classes = classes_from_json(self._mapping["classes"], where)
            for key, value in self._mapping["map"].items():
                lut[int(key)] = IGNORE_INDEX if value == 0 else value - 1
        self._lut = lut
        self._what = f"the {n} NYU labels (0 = unlabeled, 1..{n})"

    @property
    def options(self) -> dict[str, Any]:
        """{"mapping": None or the parsed mapping itself (so the split hash covers it)}."""
        return {"mapping": self._mapping}

    def default_size(self) -> tuple[int, int]:
        """256x320: a power-of-two height for the CRN, about half NYU's 480x640."""
        return (256, 320)

    def default_fit(self) -> str:
        """Crop: 480x640 frames lose 20 columns at each side to keep 256x320's 4:5 aspect."""
        return "crop"

    def ids(self, subset: str | None = None) -> list[str]:
        """`nyu_0000` .. in file order."""
        self._check_subset(subset)
        return [f"nyu_{i:04d}" for i in range(self._count)]

    def load(self, image_id: str) -> tuple[np.ndarray, np.ndarray]:
        """Read one (label, photo) from the .mat file, transposed from MATLAB's column order."""
        index = self._index(image_id)
        where = f"{self.path}[{image_id}]"
        try:
            with _h5py().File(self.path, "r") as f:
                photo = np.asarray(f["images"][index])
                raw = np.asarray(f["labels"][index])
        except (OSError, ValueError) as err:
            raise UserError(f"{where}: cannot read the pair ({err})") from None
        if photo.ndim != 3 or photo.shape[0] != 3 or photo.dtype != np.uint8:
            raise UserError(f"{where}: images must be (N, 3, W, H) uint8, got {photo.shape}")
        photo = np.ascontiguousarray(photo.transpose(2, 1, 0))
        raw = raw.T
        if raw.shape != photo.shape[:2]:
            raise UserError(
                f"{where}: label is {raw.shape[0]}x{raw.shape[1]} but the photo is "
                f"{photo.shape[0]}x{photo.shape[1]}"
            )
        return apply_lut(raw.astype(np.int64), self._lut, where, self._what), photo

    def _index(self, image_id: str) -> int:
        prefix, _, digits = image_id.partition("_")
        if prefix != "nyu" or not digits.isdigit() or int(digits) >= self._count:
            raise UserError(f"{self.path}: no image id '{image_id}' (ids nyu_0000..)")
        return int(digits)
