"""`synthetic`: the procedural street scenes that `crnkit data synth` writes, and reads back.

Layout written: DIR/images/<id>.png, DIR/labels/<id>.png (class indices), DIR/classes.json,
DIR/meta.json ({"seed", "size", "n", ...}, written last: a folder without it is incomplete).
"""

from __future__ import annotations

import io
import json
import multiprocessing
import zlib
from collections.abc import Iterator
from pathlib import Path

import numpy as np
from PIL import Image
from tqdm import tqdm

from crn.data.classes import classes_to_json
from crn.data.render.labels import SYNTH_CLASSES
from crn.data.render.scene import render_scene
from crn.data.sources.folders import FoldersSource
from crn.errors import UserError
from crn.fsutil import atomic_write_text

__all__ = ["SYNTH_CLASSES", "SyntheticSource", "image_id", "render_scene", "write_synthetic"]

META_VERSION = 1
MAX_N = 1_000_000


def image_id(index: int) -> str:
    """The id of the `index`-th synthetic image."""
    return f"synth_{index:06d}"


def scene_seed(seed: int, index: int) -> int:
    """The render seed of image `index` of a data set made with `seed` (independent streams)."""
    state = np.random.SeedSequence([seed, index]).generate_state(2, np.uint32)
    return int(state[0]) << 32 | int(state[1])


def _png(array: np.ndarray, **options: int) -> bytes:
    buf = io.BytesIO()
    Image.fromarray(array).save(buf, format="PNG", **options)
    return buf.getvalue()


def encode_pair(seed: int, index: int, size: tuple[int, int]) -> tuple[bytes, bytes]:
    """PNG bytes of (label, photo) of one scene.

    Sensor noise defeats LZ77 matching, so the photo uses zlib's fast run-length strategy:
    as small as the default level and about 2x faster to write.
    """
    label, photo = render_scene(scene_seed(seed, index), size)
    photo_png = _png(photo, compress_level=1, compress_type=zlib.Z_RLE)
    return _png(label.astype(np.uint8)), photo_png


def _encode_task(args: tuple[int, int, tuple[int, int]]) -> tuple[bytes, bytes]:
    return encode_pair(*args)


def _check_out(out: Path, overwrite: bool) -> None:
    """Refuse to write into a non-empty folder unless it is a synthetic set and `overwrite`."""
    if out.exists() and not out.is_dir():
        raise UserError(f"{out}: exists and is not a folder")
    if out.is_dir() and any(out.iterdir()):
        if not overwrite:
            raise UserError(f"{out}: folder is not empty (choose a new folder or pass --overwrite)")
        if not (out / "meta.json").is_file():
            raise UserError(
                f"{out}: not a synthetic data set (no meta.json); refusing to overwrite"
            )


def _pairs(n: int, seed: int, size: tuple[int, int], workers: int) -> Iterator[tuple[bytes, bytes]]:
    tasks = ((seed, i, size) for i in range(n))
    if workers <= 1:
        yield from map(_encode_task, tasks)
        return
    with multiprocessing.get_context("spawn").Pool(workers) as pool:
        yield from pool.imap(_encode_task, tasks, chunksize=8)


def write_synthetic(
    out: str | Path,
    n: int,
    size: tuple[int, int],
    seed: int,
    workers: int = 1,
    overwrite: bool = False,
    progress: bool = True,
) -> Path:
    """Render `n` scenes at `size` with `seed` into `out`; return the folder.

    The bytes written depend only on (n, size, seed), never on `workers`.
    """
    if not 1 <= n <= MAX_N:
        raise UserError(f"--n must be between 1 and {MAX_N}, got {n}")
    out = Path(out)
    _check_out(out, overwrite)
    (out / "meta.json").unlink(missing_ok=True)  # the set is incomplete until rewritten
    for sub in ("images", "labels"):
        (out / sub).mkdir(parents=True, exist_ok=True)
        for stale in (out / sub).glob("synth_*.png"):
            stale.unlink()
    pairs = _pairs(n, seed, size, workers)
    for index, (label_png, photo_png) in enumerate(
        tqdm(pairs, total=n, desc="synth", unit="img", disable=not progress)
    ):
        (out / "labels" / f"{image_id(index)}.png").write_bytes(label_png)
        (out / "images" / f"{image_id(index)}.png").write_bytes(photo_png)
    atomic_write_text(out / "classes.json", json.dumps(classes_to_json(SYNTH_CLASSES)) + "\n")
    meta = {"version": META_VERSION, "seed": seed, "size": [size[0], size[1]], "n": n}
    atomic_write_text(out / "meta.json", json.dumps(meta) + "\n")
    return out


class SyntheticSource(FoldersSource):
    """A folder written by `crnkit data synth`."""

    name = "synthetic"

    def __init__(self, root: str | Path) -> None:
        meta_path = Path(root) / "meta.json"
        if not meta_path.is_file():
            raise UserError(
                f"{meta_path}: not found (make the data set with `crnkit data synth --out {root}`;"
                " a folder without meta.json is incomplete)"
            )
        try:
            meta = json.loads(meta_path.read_text(encoding="utf-8"))
            self.meta = {
                "seed": int(meta["seed"]),
                "size": (int(meta["size"][0]), int(meta["size"][1])),
                "n": int(meta["n"]),
            }
        except (json.JSONDecodeError, UnicodeDecodeError, KeyError, TypeError, ValueError):
            raise UserError(f"{meta_path}: expected JSON with seed, size [H, W] and n") from None
        super().__init__(root)

    def default_size(self) -> tuple[int, int]:
        """The size the scenes were rendered at."""
        return self.meta["size"]
