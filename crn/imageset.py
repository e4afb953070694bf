"""Contract 3 (docs/contracts.md): image sets, folders of `imageset.json` and PNGs keyed by id.

Torch-free so that the study server can read sets without importing the model code.
"""

from __future__ import annotations

import io
import json
import re
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
from PIL import Image

from crn.errors import UserError
from crn.fsutil import (
    atomic_write_bytes,
    atomic_write_text,
    read_json_file,
    sha256_bytes,
    sha256_file,
)

KINDS = ("generated", "real", "imported", "catch")
MANIFEST = "imageset.json"
_SAFE_ID = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]*$")


@dataclass(frozen=True)
class ImageSet:
    """An image set as stored on disk; `root` is the folder holding `imageset.json`."""

    root: Path
    name: str
    kind: str
    source: str
    dataset: str
    split_sha256: str
    split: str
    size: tuple[int, int]
    images: dict[str, str]
    sha256: dict[str, str]
    extra: dict[str, Any] = field(default_factory=dict)

    @property
    def ids(self) -> list[str]:
        """The image ids of the set, sorted."""
        return sorted(self.images)

    def path(self, image_id: str) -> Path:
        """Absolute path of the image stored for `image_id`."""
        if image_id not in self.images:
            raise UserError(f"image set '{self.name}' has no image id '{image_id}'")
        return self.root / self.images[image_id]

    def verify(self) -> list[str]:
        """Check every file against its recorded sha256; return one message per problem."""
        problems = []
        for image_id in self.ids:
            path = self.path(image_id)
            if not path.is_file():
                problems.append(f"{self.name}: missing file {path} for id '{image_id}'")
            elif sha256_file(path) != self.sha256.get(image_id):
                problems.append(f"{self.name}: {path} does not match its recorded sha256")
        return problems


def check_image_id(image_id: str) -> str:
    """Return `image_id` if it is safe as a file name, else raise UserError."""
    if not _SAFE_ID.match(image_id) or ".." in image_id:
        raise UserError(
            f"image id '{image_id}' is not usable as a file name "
            "(expected letters, digits, '.', '_' or '-', not starting with a symbol)"
        )
    return image_id


def encode_png(image: np.ndarray) -> bytes:
    """PNG bytes of an H×W×3 uint8 RGB array."""
    if image.dtype != np.uint8 or image.ndim != 3 or image.shape[2] != 3:
        raise UserError(f"expected an H×W×3 uint8 image, got {image.dtype} {image.shape}")
    buf = io.BytesIO()
    Image.fromarray(image, "RGB").save(buf, format="PNG")
    return buf.getvalue()


def write_imageset(
    out: str | Path,
    *,
    name: str,
    kind: str,
    source: str,
    dataset: str,
    split_sha256: str,
    split: str,
    size: tuple[int, int],
    images: Iterable[tuple[str, np.ndarray]],
    extra: dict[str, Any] | None = None,
) -> ImageSet:
    """Write PNGs and `imageset.json` (last, atomically) into `out`; return the loaded set."""
    if kind not in KINDS:
        raise UserError(f"image set kind '{kind}' is not one of {', '.join(KINDS)}")
    root = Path(out)
    (root / "images").mkdir(parents=True, exist_ok=True)
    paths: dict[str, str] = {}
    hashes: dict[str, str] = {}
    for image_id, array in images:
        check_image_id(image_id)
        if tuple(array.shape[:2]) != tuple(size):
            raise UserError(f"image '{image_id}' is {array.shape[:2]}, expected size {size}")
        data = encode_png(array)
        rel = f"images/{image_id}.png"
        atomic_write_bytes(root / rel, data)
        paths[image_id] = rel
        hashes[image_id] = sha256_bytes(data)
    manifest = {
        "name": name,
        "kind": kind,
        "source": source,
        "dataset": dataset,
        "split_sha256": split_sha256,
        "split": split,
        "size": [int(size[0]), int(size[1])],
        "images": paths,
        "sha256": hashes,
        **(extra or {}),
    }
    atomic_write_text(root / MANIFEST, json.dumps(manifest, indent=1, sort_keys=False) + "\n")
    return load_imageset(root)


_REQUIRED = ("name", "kind", "source", "dataset", "split_sha256", "split", "size", "images")


def load_imageset(path: str | Path) -> ImageSet:
    """Read and validate an image set from its folder (or its `imageset.json`)."""
    root = Path(path)
    manifest_path = root if root.name == MANIFEST else root / MANIFEST
    meta = read_json_file(manifest_path, f"not found (an image set folder holds {MANIFEST})")
    missing = [key for key in _REQUIRED if key not in meta]
    if missing:
        raise UserError(f"{manifest_path}: missing key(s) {', '.join(missing)}")
    if meta["kind"] not in KINDS:
        raise UserError(f"{manifest_path}: kind '{meta['kind']}' is not one of {', '.join(KINDS)}")
    size = meta["size"]
    if not (isinstance(size, list) and len(size) == 2 and all(isinstance(v, int) for v in size)):
        raise UserError(f"{manifest_path}: size must be [height, width], got {size!r}")
    images = meta["images"]
    if not isinstance(images, dict):
        raise UserError(f"{manifest_path}: images must map image ids to relative paths")
    for image_id, rel in images.items():
        check_image_id(image_id)
        if Path(rel).is_absolute() or ".." in Path(rel).parts:
            raise UserError(f"{manifest_path}: path '{rel}' of '{image_id}' leaves the set folder")
    extra = {k: v for k, v in meta.items() if k not in (*_REQUIRED, "sha256")}
    return ImageSet(
        root=manifest_path.parent.resolve(),
        name=str(meta["name"]),
        kind=meta["kind"],
        source=str(meta["source"]),
        dataset=str(meta["dataset"]),
        split_sha256=str(meta["split_sha256"]),
        split=str(meta["split"]),
        size=(size[0], size[1]),
        images=dict(images),
        sha256=dict(meta.get("sha256", {})),
        extra=extra,
    )


def read_image(path: str | Path) -> np.ndarray:
    """Decode an image file to an H×W×3 uint8 RGB array, with a clear error if it cannot."""
    try:
        with Image.open(path) as img:
            return np.asarray(img.convert("RGB"))
    except (OSError, ValueError) as err:
        raise UserError(f"{path}: cannot decode image ({err})") from None
