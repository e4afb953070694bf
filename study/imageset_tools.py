"""Making image sets for studies: import another code base's outputs, degrade a set for catches.

Torch-free. Every check runs before anything is written, and a set is written into a temporary
sibling folder that replaces the destination only once complete.
"""

from __future__ import annotations

import hashlib
import shutil
import tempfile
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
from PIL import Image, ImageFilter

from crn.errors import UserError
from crn.fsutil import read_json_file
from crn.imageset import (
    MANIFEST,
    ImageSet,
    check_image_id,
    load_imageset,
    read_image,
    write_imageset,
)

IMAGE_SUFFIXES = (".png", ".jpg", ".jpeg")
DEGRADATIONS = ("blur", "noise", "shuffle")
SPLITS = ("train", "val", "test")
_SHOWN = 5


@dataclass(frozen=True)
class SplitInfo:
    """What an import needs from splits.json: the split's ids, image size, dataset and hash."""

    ids: tuple[str, ...]
    size: tuple[int, int]
    dataset: str
    sha256: str
    split: str


def _parse_size(value: Any) -> tuple[int, int] | None:
    if isinstance(value, dict):
        value = [value.get("height"), value.get("width")]
    if isinstance(value, str) and "x" in value:
        value = value.split("x")
    try:
        height, width = (int(v) for v in value)
    except (TypeError, ValueError):
        return None
    return (height, width) if height > 0 and width > 0 else None


def read_split(path: str | Path, split: str) -> SplitInfo:
    """The ids and size of one split, read from splits.json as plain JSON (contract 1)."""
    path = Path(path)
    meta = read_json_file(path, "not found (expected a splits.json)")
    if not isinstance(meta, dict):
        raise UserError(f"{path}: expected a JSON object with {', '.join(SPLITS)} id lists")
    ids = meta.get(split)
    if split not in SPLITS or not isinstance(ids, list) or not all(isinstance(i, str) for i in ids):
        raise UserError(
            f"{path}: no id list for split '{split}' (expected one of {', '.join(SPLITS)})"
        )
    size = _parse_size(meta.get("size"))
    if size is None:
        raise UserError(f"{path}: size must be [height, width], got {meta.get('size')!r}")
    return SplitInfo(
        tuple(ids), size, str(meta.get("source", "")), str(meta.get("sha256", "")), split
    )


def _examples(items: list[str]) -> str:
    shown = ", ".join(items[:_SHOWN])
    return shown + (", …" if len(items) > _SHOWN else "")


def scan_outputs(folder: Path, suffix: str = "") -> dict[str, Path]:
    """Image files of `folder` keyed by image id (file stem, minus `suffix` if given)."""
    if not folder.is_dir():
        raise UserError(f"{folder}: not a folder")
    found: dict[str, Path] = {}
    for path in sorted(folder.iterdir()):
        if not path.is_file() or path.suffix.lower() not in IMAGE_SUFFIXES:
            continue
        image_id = path.stem[: -len(suffix)] if suffix and path.stem.endswith(suffix) else path.stem
        if image_id in found:
            raise UserError(
                f"{folder}: two files for image id '{image_id}': "
                f"{found[image_id].name} and {path.name}"
            )
        found[image_id] = path
    if not found:
        raise UserError(f"{folder}: no {'/'.join(IMAGE_SUFFIXES)} files")
    return found


def check_outputs(
    files: dict[str, Path], split: SplitInfo, allow_missing: bool, resize: bool
) -> list[str]:
    """Check ids and sizes against the split; return the missing ids (or raise UserError)."""
    known = set(split.ids)
    unknown = sorted(i for i in files if i not in known)
    if unknown:
        raise UserError(
            f"{len(unknown)} file(s) are not ids of the '{split.split}' split "
            f"(e.g. {_examples(unknown)}); check --split, --splits or --suffix"
        )
    for image_id in files:
        check_image_id(image_id)
    missing = [i for i in split.ids if i not in files]
    if missing and not allow_missing:
        raise UserError(
            f"{len(missing)} of {len(split.ids)} '{split.split}' ids have no image "
            f"(e.g. {_examples(missing)}); pass --allow-missing to import a subset"
        )
    if not resize:
        want = (split.size[1], split.size[0])
        for path in files.values():
            got = _image_size(path)
            if got != want:
                raise UserError(
                    f"{path}: {got[1]}x{got[0]} (HxW), the split's size is "
                    f"{split.size[0]}x{split.size[1]}; pass --resize to resize with antialiasing"
                )
    return missing


def _image_size(path: Path) -> tuple[int, int]:
    try:
        with Image.open(path) as img:
            return img.size
    except (OSError, ValueError) as err:
        raise UserError(f"{path}: cannot decode image ({err})") from None


def _fitted(path: Path, size: tuple[int, int]) -> np.ndarray:
    image = read_image(path)
    if image.shape[:2] == size:
        return image
    resized = Image.fromarray(image).resize((size[1], size[0]), Image.Resampling.LANCZOS)
    return np.asarray(resized)


def replace_set(out: Path, force: bool, write) -> ImageSet:
    """Run `write(tmp_folder)` then move the result to `out` (refusing to replace without force)."""
    if (out / MANIFEST).exists() and not force:
        raise UserError(f"{out} already holds an image set; pass --force to replace it")
    if out.exists() and not (out / MANIFEST).exists() and any(out.iterdir()):
        raise UserError(f"{out} exists and is not an image set; choose another --out")
    out.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(dir=out.parent, prefix=f".{out.name}.tmp-"))
    try:
        write(tmp)
        old = None
        if out.exists():
            old = out.with_name(f".{out.name}.old-{tmp.name[-8:]}")
            out.rename(old)
        tmp.rename(out)
        if old is not None:
            shutil.rmtree(old)
    finally:
        if tmp.exists():
            shutil.rmtree(tmp)
    return load_imageset(out)


def import_outputs(
    folder: Path,
    out: Path,
    *,
    name: str,
    split: SplitInfo,
    kind: str = "imported",
    allow_missing: bool = False,
    resize: bool = False,
    suffix: str = "",
    force: bool = False,
) -> tuple[ImageSet, list[str]]:
    """Import image files named by id as an image set; return it and the split's missing ids."""
    files = scan_outputs(folder, suffix)
    missing = check_outputs(files, split, allow_missing, resize)

    def write(tmp: Path) -> None:
        write_imageset(
            tmp,
            name=name,
            kind=kind,
            source=str(folder.resolve()),
            dataset=split.dataset,
            split_sha256=split.sha256,
            split=split.split,
            size=split.size,
            images=((i, _fitted(files[i], split.size)) for i in sorted(files)),
            extra={"imported_from": str(folder.resolve()), "missing_ids": len(missing)},
        )

    return replace_set(out, force, write), missing


def _image_rng(seed: int, image_id: str) -> np.random.Generator:
    digest = hashlib.sha256(image_id.encode("utf-8")).digest()
    return np.random.default_rng([seed, int.from_bytes(digest[:8], "little")])


def degrade_image(
    image: np.ndarray, how: str, strength: float, rng: np.random.Generator
) -> np.ndarray:
    """An obviously bad version of `image`: blurred, noisy, or with its blocks shuffled."""
    height, width = image.shape[:2]
    if how == "blur":
        radius = strength * max(1.0, min(height, width) / 16)
        return np.asarray(Image.fromarray(image).filter(ImageFilter.GaussianBlur(radius)))
    if how == "noise":
        noisy = image.astype(np.float64) + rng.normal(0.0, 64.0 * strength, image.shape)
        return np.clip(np.rint(noisy), 0, 255).astype(np.uint8)
    if how == "shuffle":
        n = max(2, min(round(4 * strength), height, width))
        bh, bw = height // n, width // n
        blocks = [
            image[r * bh : (r + 1) * bh, c * bw : (c + 1) * bw] for r in range(n) for c in range(n)
        ]
        order = rng.permutation(len(blocks))
        if np.array_equal(order, np.arange(len(blocks))):
            order = np.roll(order, 1)
        out = image.copy()
        for k, src in enumerate(order):
            r, c = divmod(k, n)
            out[r * bh : (r + 1) * bh, c * bw : (c + 1) * bw] = blocks[src]
        return out
    raise UserError(f"--how {how}: expected one of {', '.join(DEGRADATIONS)}")


def _degraded(
    source: ImageSet, how: str, strength: float, seed: int
) -> Iterator[tuple[str, np.ndarray]]:
    for image_id in source.ids:
        image = read_image(source.path(image_id))
        yield image_id, degrade_image(image, how, strength, _image_rng(seed, image_id))


def degrade_set(
    source: ImageSet,
    out: Path,
    *,
    how: str,
    strength: float = 1.0,
    seed: int = 0,
    name: str | None = None,
    force: bool = False,
) -> ImageSet:
    """Write a catch set: every image of `source` degraded (deterministic for a given seed)."""
    if how not in DEGRADATIONS:
        raise UserError(f"--how {how}: expected one of {', '.join(DEGRADATIONS)}")
    if not strength > 0:
        raise UserError(f"--strength: expected a positive number, got {strength}")
    if out.resolve() == source.root:
        raise UserError(f"--out {out} is the set being degraded; choose another folder")

    def write(tmp: Path) -> None:
        write_imageset(
            tmp,
            name=name or f"{source.name}-{how}",
            kind="catch",
            source=str(source.root),
            dataset=source.dataset,
            split_sha256=source.split_sha256,
            split=source.split,
            size=source.size,
            images=_degraded(source, how, strength, seed),
            extra={
                "degraded_from": source.name,
                "degradation": {"how": how, "strength": strength, "seed": seed},
            },
        )

    return replace_set(out, force, write)
