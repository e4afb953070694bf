"""Contract 1's `splits.json` (docs/contracts.md): ordered train/val/test ids, content-hashed.

The hash covers source, size, classes, source options, the fit (when not "stretch") and the
ids - never the root, so the same split of a copy elsewhere has the same hash.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from crn.data.classes import ClassInfo, classes_from_json, classes_to_json
from crn.data.idlists import read_id_lists
from crn.data.registry import SOURCES, open_source
from crn.data.resize import FITS, CroppedSource
from crn.data.sources.base import Source
from crn.errors import UserError
from crn.fsutil import atomic_write_text, read_json_file, sha256_bytes, sha256_file
from crn.imageset import check_image_id

FORMAT = "crnkit-splits/1"
SPLITS = ("train", "val", "test")
DEFAULT_TEST_FRACTION = 0.1


@dataclass(frozen=True)
class Splits:
    """A loaded or freshly made `splits.json`."""

    source: str
    root: str
    size: tuple[int, int]
    classes: tuple[ClassInfo, ...]
    options: dict
    train: tuple[str, ...]
    val: tuple[str, ...]
    test: tuple[str, ...]
    sha256: str
    params: dict = field(default_factory=dict)  # how the split was drawn; recorded, not hashed
    fit: str = "stretch"  # how pairs meet `size`: "stretch" (resize) or "crop" (to its aspect)

    def ids(self, split: str) -> tuple[str, ...]:
        """The ordered ids of `split` ("train", "val" or "test")."""
        if split not in SPLITS:
            raise UserError(f"unknown split '{split}' (expected one of {', '.join(SPLITS)})")
        return getattr(self, split)

    @property
    def num_label_channels(self) -> int:
        """Channels of the one-hot label input: one per class plus the void channel (last)."""
        return len(self.classes) + 1


def split_hash(source, size, classes, options, train, val, test, fit="stretch") -> str:
    """sha256 over the canonical JSON of everything that defines the split except the root.

    `fit` enters only when it is not "stretch", so splits made before it existed keep their hash.
    """
    payload = {
        "source": source,
        "size": [int(size[0]), int(size[1])],
        "classes": [[c.name, [int(v) for v in c.color]] for c in classes],
        "options": options,
        "train": list(train),
        "val": list(val),
        "test": list(test),
    }
    if fit != "stretch":
        payload["fit"] = fit
    text = json.dumps(payload, sort_keys=True, separators=(",", ":"), ensure_ascii=True)
    return sha256_bytes(text.encode("ascii"))


def parse_size(text: str | tuple[int, int] | list[int]) -> tuple[int, int]:
    """Parse "HxW" (or a pair) into (H, W), both positive."""
    if isinstance(text, str):
        parts = text.lower().split("x")
        if len(parts) != 2 or not all(p.strip().isdigit() for p in parts):
            raise UserError(f"size '{text}' is not HxW (e.g. 256x512)")
        h, w = int(parts[0]), int(parts[1])
    else:
        h, w = int(text[0]), int(text[1])
    if h < 8 or w < 8 or h > 8192 or w > 8192:
        raise UserError(f"size {h}x{w} is out of range (each side 8..8192)")
    return h, w


def _draw(ids: list[str], val: int, test: int, seed: int) -> tuple[list, list, list]:
    """Seeded random (train, val, test), each sorted."""
    if val < 0 or test < 0:
        raise UserError(f"--val and --test must be >= 0, got {val} and {test}")
    if val + test >= len(ids):
        raise UserError(
            f"--val {val} + --test {test} leaves no training ids (the source has {len(ids)})"
        )
    order = np.random.default_rng(seed).permutation(len(ids))
    picked_test = sorted(ids[i] for i in order[:test])
    picked_val = sorted(ids[i] for i in order[test : test + val])
    train = sorted(ids[i] for i in order[test + val :])
    return train, picked_val, picked_test


def _assign(src: Source, val: int | None, test: int | None, seed: int) -> tuple[list, list, list]:
    if src.subsets:
        # Official split (CRN's setting): the official evaluation subset is the test split;
        # val is a seeded part of the official training subset (empty by default).
        train_subset, eval_subset = src.subsets
        if test is not None:
            raise UserError(
                f"{src.name} uses its official '{eval_subset}' subset as the test split; "
                "--test does not apply"
            )
        train, picked_val, _ = _draw(src.ids(train_subset), val or 0, 0, seed)
        return train, picked_val, src.ids(eval_subset)
    ids = src.ids()
    if test is None:
        test = max(1, round(DEFAULT_TEST_FRACTION * len(ids))) if len(ids) > 1 else 0
    return _draw(ids, val or 0, test, seed)


def _assign_fixed(
    src: Source, path: Path, val: int | None, test: int | None, seed: int
) -> tuple[list, list, list]:
    """The splits an id list names; --val draws a seeded val split from its train ids."""
    if test is not None:
        raise UserError("--test does not apply with --ids-from (the list names the test ids)")
    lists = read_id_lists(path, src.name)
    seen: dict[str, str] = {}
    for split in SPLITS:
        for image_id in lists[split]:
            if image_id in seen:
                raise UserError(
                    f"{path}: id '{image_id}' is listed twice ({seen[image_id]}, {split})"
                )
            seen[image_id] = split
    known = set(src.ids())
    unknown = [image_id for image_id in seen if image_id not in known]
    if unknown:
        raise UserError(
            f"{path}: {len(unknown)} listed id(s) are not in the {src.name} source at "
            f"{src.root}, e.g. '{unknown[0]}'"
        )
    train, picked_val, picked_test = (sorted(lists[split]) for split in SPLITS)
    if val:
        if picked_val:
            raise UserError(f"{path}: the list names val ids; --val does not apply")
        train, picked_val, _ = _draw(train, val, 0, seed)
    return train, picked_val, picked_test


def make_splits(
    source: str,
    root: str | Path,
    *,
    options: dict[str, Any] | None = None,
    size: tuple[int, int] | str | None = None,
    val: int | None = None,
    test: int | None = None,
    seed: int = 0,
    fit: str | None = None,
    ids_from: str | Path | None = None,
) -> Splits:
    """Open `source` at `root` and split its ids (see docs/data.md for the rules).

    `ids_from` names a fixed id list (see crn.data.idlists) instead of drawing the split.
    """
    src = open_source(source, root, **(options or {}))
    problems = src.missing_pairs()
    if problems:
        more = f" (and {len(problems) - 1} more)" if len(problems) > 1 else ""
        raise UserError(problems[0] + more)
    if not src.ids():
        raise UserError(f"{root}: the {source} source has no images")
    params: dict[str, Any] = {"seed": seed}
    if ids_from is None:
        train, picked_val, picked_test = _assign(src, val, test, seed)
    else:
        train, picked_val, picked_test = _assign_fixed(src, Path(ids_from), val, test, seed)
        left_out = len(src.ids()) - len(train) - len(picked_val) - len(picked_test)
        params.update(ids_from=str(ids_from), ids_sha256=sha256_file(ids_from), left_out=left_out)
    for image_id in (*train, *picked_val, *picked_test):
        check_image_id(image_id)
    hw = parse_size(size) if size is not None else parse_size(src.default_size())
    fit = check_fit(fit if fit is not None else src.default_fit(), "--fit")
    opts = src.options
    params.update(val=len(picked_val), test=len(picked_test))
    return Splits(
        source=source,
        root=str(Path(root).resolve()),
        size=hw,
        classes=tuple(src.classes),
        options=opts,
        train=tuple(train),
        val=tuple(picked_val),
        test=tuple(picked_test),
        sha256=split_hash(source, hw, src.classes, opts, train, picked_val, picked_test, fit),
        params=params,
        fit=fit,
    )


def check_fit(fit: Any, where: str) -> str:
    """`fit` if it is one of FITS, else a UserError naming `where`."""
    if fit not in FITS:
        raise UserError(f"{where}: fit {fit!r} is not one of {', '.join(FITS)}")
    return fit


def save_splits(splits: Splits, path: str | Path) -> None:
    """Write `splits` to `path` as JSON, atomically."""
    data = {
        "format": FORMAT,
        "source": splits.source,
        "root": splits.root,
        "size": list(splits.size),
        "fit": splits.fit,
        "classes": classes_to_json(splits.classes),
        "options": splits.options,
        "params": splits.params,
        "sha256": splits.sha256,
        "train": list(splits.train),
        "val": list(splits.val),
        "test": list(splits.test),
    }
    atomic_write_text(path, json.dumps(data, indent=1) + "\n")


def _read_json(path: Path) -> dict[str, Any]:
    data = read_json_file(path, "splits file not found (make one with `crnkit data split`)")
    if not isinstance(data, dict) or data.get("format") != FORMAT:
        raise UserError(f'{path}: not a splits file (expected "format": "{FORMAT}")')
    keys = ("source", "root", "size", "classes", "options", "sha256", *SPLITS)
    missing = [k for k in keys if k not in data]
    if missing:
        raise UserError(f"{path}: missing key(s) {', '.join(missing)}")
    return data


def _id_lists(data: dict[str, Any], path: Path) -> dict[str, tuple[str, ...]]:
    lists: dict[str, tuple[str, ...]] = {}
    seen: dict[str, str] = {}
    for split in SPLITS:
        ids = data[split]
        if not isinstance(ids, list) or not all(isinstance(i, str) for i in ids):
            raise UserError(f"{path}: '{split}' must be a list of image id strings")
        for image_id in ids:
            check_image_id(image_id)
            if image_id in seen:
                raise UserError(f"{path}: id '{image_id}' is in both {seen[image_id]} and {split}")
            seen[image_id] = split
        lists[split] = tuple(ids)
    return lists


def load_splits(path: str | Path) -> Splits:
    """Read and validate a `splits.json`, recomputing its hash."""
    path = Path(path)
    data = _read_json(path)
    if data["source"] not in SOURCES:
        raise UserError(f"{path}: unknown source '{data['source']}' ({', '.join(SOURCES)})")
    if not isinstance(data["options"], dict) or not isinstance(data["root"], str):
        raise UserError(f"{path}: 'options' must be an object and 'root' a string")
    try:
        size = parse_size(data["size"])
    except (TypeError, ValueError, IndexError, UserError):
        raise UserError(f"{path}: size must be [height, width], got {data['size']!r}") from None
    classes = classes_from_json(data["classes"], f"{path}: classes")
    fit = check_fit(data.get("fit", "stretch"), str(path))  # absent in files made before it
    lists = _id_lists(data, path)
    digest = split_hash(data["source"], size, classes, data["options"], *lists.values(), fit)
    if digest != data["sha256"]:
        raise UserError(
            f"{path}: sha256 does not match the contents (the file was edited; "
            "make a new split with `crnkit data split`)"
        )
    root = Path(data["root"])
    if not root.is_absolute():
        root = (path.parent / root).resolve()
    params = data.get("params", {})
    return Splits(
        source=data["source"],
        root=str(root),
        size=size,
        classes=classes,
        options=data["options"],
        sha256=digest,
        params=params if isinstance(params, dict) else {},
        fit=fit,
        **lists,
    )


def open_split_source(splits: Splits) -> Source:
    """Open the source a split was made from (its classes checked), pairs fitted as recorded."""
    src = open_source(splits.source, splits.root, **splits.options)
    if not src.accepts_classes(splits.classes):
        raise UserError(
            f"{splits.root}: the {splits.source} source's classes differ from the split's "
            f"({len(src.classes)} vs {len(splits.classes)}); make a new split"
        )
    return CroppedSource(src, splits.size) if splits.fit == "crop" else src
