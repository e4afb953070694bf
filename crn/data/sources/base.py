"""The shared shape of a data source, and the file-pair machinery most sources use."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
from PIL import Image

from crn.data.classes import ClassInfo, check_label_values
from crn.errors import UserError
from crn.imageset import read_image

PHOTO_SUFFIXES = (".png", ".jpg", ".jpeg")


class Source:
    """A data source: a class list, image ids, and `load(id) -> (label, photo)`.

    `label` is an (H, W) int64 map of class indices in [0, len(classes)) or IGNORE_INDEX;
    `photo` is (H, W, 3) uint8 RGB of the same size.
    """

    name: str = ""
    subsets: tuple[str, ...] = ()
    classes: tuple[ClassInfo, ...] = ()

    def __init__(self, root: str | Path) -> None:
        self.root = Path(root)

    @property
    def options(self) -> dict[str, Any]:
        """The source's options in JSON form (recorded in splits.json and its hash)."""
        return {}

    def default_size(self) -> tuple[int, int]:
        """The (H, W) a split of this source uses when none is asked for."""
        return (256, 512)

    def default_fit(self) -> str:
        """How a split fits pairs to its size when none is asked for ("stretch" or "crop")."""
        return "stretch"

    def accepts_classes(self, classes: tuple[ClassInfo, ...]) -> bool:
        """Whether a split's recorded class list is this source's (or an older naming of it)."""
        return tuple(classes) == tuple(self.classes)

    def _check_subset(self, subset: str | None) -> None:
        if subset is not None and subset not in self.subsets:
            expected = ", ".join(self.subsets) if self.subsets else "none (this source has one set)"
            raise UserError(f"{self.name}: unknown subset '{subset}' (expected {expected})")

    def ids(self, subset: str | None = None) -> list[str]:
        """Sorted image ids of `subset` (None: all of them)."""
        raise NotImplementedError

    def load(self, image_id: str) -> tuple[np.ndarray, np.ndarray]:
        """The (label, photo) pair of `image_id`, validated."""
        raise NotImplementedError

    def missing_pairs(self, subset: str | None = None) -> list[str]:
        """One message per id whose photo or label file is missing (none for single files)."""
        return []


@dataclass(frozen=True)
class LabelCoding:
    """How a data set draws its raw label values in colour, to tell colour labels from ids."""

    dataset: str  # e.g. "Cityscapes"
    colors: tuple[tuple[str, tuple[int, int, int]], ...]  # (name, colour) of raw value 0, 1, ...
    hint: str  # what to read instead, e.g. "use the *_gtFine_labelIds.png files"


class FilePairSource(Source):
    """A source whose pairs are two files each: a photo and a label image."""

    rgb_labels = False  # whether label images may be RGB colour codes
    label_coding: LabelCoding | None = None  # set where colour labels must be refused

    def __init__(self, root: str | Path) -> None:
        super().__init__(root)
        self._pairs: dict[str | None, dict[str, tuple[Path | None, Path | None]]] = {}

    def _scan(self, subset: str | None) -> dict[str, tuple[Path | None, Path | None]]:
        """Map each id of `subset` to (photo path or None, label path or None)."""
        raise NotImplementedError

    def _map_label(self, raw: np.ndarray, where: str) -> np.ndarray:
        """Turn a decoded label image into class indices (IGNORE_INDEX for void)."""
        return check_label_values(raw.astype(np.int64), len(self.classes), where)

    def pairs(self, subset: str | None = None) -> dict[str, tuple[Path | None, Path | None]]:
        """The id -> (photo path, label path) table of `subset`, scanned once."""
        self._check_subset(subset)
        if subset not in self._pairs:
            if subset is None and self.subsets:
                merged: dict[str, tuple[Path | None, Path | None]] = {}
                for name in self.subsets:
                    merged.update(self.pairs(name))
                self._pairs[None] = merged
            else:
                self._pairs[subset] = self._scan(subset)
        return self._pairs[subset]

    def ids(self, subset: str | None = None) -> list[str]:
        """Sorted ids that have a photo or a label file in `subset`."""
        return sorted(self.pairs(subset))

    def missing_pairs(self, subset: str | None = None) -> list[str]:
        """One message per id with only a photo or only a label."""
        problems = []
        for image_id, (photo, label) in sorted(self.pairs(subset).items()):
            if photo is None:
                problems.append(f"{label}: label has no matching photo (id '{image_id}')")
            elif label is None:
                problems.append(f"{photo}: photo has no matching label (id '{image_id}')")
        return problems

    def load(self, image_id: str) -> tuple[np.ndarray, np.ndarray]:
        """Decode and validate the pair of `image_id`."""
        table = self.pairs(None)
        if image_id not in table:
            raise UserError(f"{self.name} source at {self.root}: no image id '{image_id}'")
        photo_path, label_path = table[image_id]
        if photo_path is None or not photo_path.is_file():
            raise UserError(f"{photo_path or label_path}: photo of '{image_id}' is missing")
        if label_path is None or not label_path.is_file():
            raise UserError(f"{label_path or photo_path}: label of '{image_id}' is missing")
        photo = read_image(photo_path)
        raw = read_label_image(label_path, allow_rgb=self.rgb_labels, coding=self.label_coding)
        label = self._map_label(raw, str(label_path))
        check_same_size(label, photo, label_path, photo_path)
        return label, photo


def read_label_image(
    path: str | Path, allow_rgb: bool = False, coding: LabelCoding | None = None
) -> np.ndarray:
    """Decode a label image to an integer array ((H, W), or (H, W, 3) RGB if `allow_rgb`).

    With `coding`, a palette image drawn in the data set's class colours whose indices are
    not the label ids (a colour label saved as a palette PNG) is refused.
    """
    try:
        with Image.open(path) as img:
            img.load()
            mode = img.mode
            if mode in ("L", "P"):
                label = np.asarray(img)
                if mode == "P" and coding is not None:
                    refuse_colour_palette(img, label, coding, path)
                return label
            if mode in ("I;16", "I;16B", "I"):
                return np.asarray(img).astype(np.int64)
            if allow_rgb and mode in ("RGB", "RGBA"):
                return np.asarray(img.convert("RGB"))
    except (OSError, ValueError) as err:
        raise UserError(f"{path}: cannot decode label image ({err})") from None
    expected = (
        "single-channel (L, P or I;16) or RGB" if allow_rgb else "single-channel (L, P or I;16)"
    )
    colour = coding is not None and mode in ("RGB", "RGBA")
    hint = f"; a colour label? {coding.hint}" if colour else ""
    raise UserError(f"{path}: label image has mode {mode}, expected {expected} class indices{hint}")


def refuse_colour_palette(img: Image.Image, label: np.ndarray, coding: LabelCoding, path) -> None:
    """Raise UserError if palette index k of a used pixel is a class colour other than id k's."""
    palette = img.getpalette()
    if not palette:
        return
    table = np.asarray(palette, dtype=np.int64).reshape(-1, 3)
    used = [int(v) for v in np.unique(label) if v < len(table)]
    drawn = {v: (int(table[v, 0]), int(table[v, 1]), int(table[v, 2])) for v in used}
    class_colors = {color for _, color in coding.colors}
    if all(c == (0, 0, 0) for c in drawn.values()):
        return
    if not all(c in class_colors for c in drawn.values()):
        return  # some other palette: its indices are taken as the ids they are
    for value, color in drawn.items():
        if value >= len(coding.colors) or coding.colors[value][1] != color:
            name = next(n for n, c in coding.colors if c == color)
            raise UserError(
                f"{path}: a palette PNG drawn in {coding.dataset} class colours whose indices "
                f"are not label ids (index {value} is drawn {color}, the colour of '{name}'); "
                f"a colour label cannot be read as ids: {coding.hint}"
            )


def check_same_size(label: np.ndarray, photo: np.ndarray, label_path: Any, photo_path: Any) -> None:
    """Raise UserError when a label map and its photo differ in size."""
    if label.shape[:2] != photo.shape[:2]:
        lh, lw = label.shape[:2]
        ph, pw = photo.shape[:2]
        raise UserError(
            f"{label_path}: label is {lh}x{lw} but its photo {photo_path} is {ph}x{pw} "
            "(a pair must have the same size)"
        )


def stem_table(folder: Path, suffixes: tuple[str, ...], strip: str = "") -> dict[str, Path]:
    """Files of `folder` with one of `suffixes`, keyed by stem (minus a trailing `strip`)."""
    table: dict[str, Path] = {}
    if not folder.is_dir():
        return table
    for path in sorted(folder.iterdir()):
        if path.suffix.lower() not in suffixes or not path.is_file():
            continue
        stem = path.stem
        if strip:
            if not stem.endswith(strip):
                continue
            stem = stem[: -len(strip)]
        if stem in table:
            raise UserError(f"{path}: two files for id '{stem}' ({table[stem].name}, {path.name})")
        table[stem] = path
    return table


def join_pairs(
    photos: dict[str, Path], labels: dict[str, Path]
) -> dict[str, tuple[Path | None, Path | None]]:
    """Union of two stem tables as id -> (photo or None, label or None)."""
    return {k: (photos.get(k), labels.get(k)) for k in sorted(set(photos) | set(labels))}
