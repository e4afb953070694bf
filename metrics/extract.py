"""Batched, cached, resumable computation over the images of image sets.

An item is one image (or, for diversity, the k variants of one label map), keyed by its
sha256. Items already in the cache are skipped; the rest are decoded on worker threads one
batch ahead of the network, run in batches on the chosen device, and each batch's results
are committed to the cache before the next starts.
"""

from __future__ import annotations

import io
from collections.abc import Callable, Iterator, Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch
from PIL import Image
from tqdm import tqdm

from crn.errors import UserError
from crn.fsutil import sha256_bytes
from crn.imageset import ImageSet
from metrics.cache import ResultCache


@dataclass(frozen=True)
class RunOptions:
    """How to run: device, batch size, decoding threads, progress bar, seed."""

    device: str = "auto"
    batch_size: int = 32
    workers: int = 2
    progress: bool = True
    seed: int = 0

    def __post_init__(self) -> None:
        if self.batch_size < 1:
            raise UserError(f"--batch-size {self.batch_size}: expected a positive number")
        if self.workers < 1:
            raise UserError(f"--workers {self.workers}: expected a positive number")


@dataclass(frozen=True)
class ImageRef:
    """One stored image: its recorded sha256 and its file."""

    sha256: str
    path: Path


@dataclass(frozen=True)
class Item:
    """A unit of work: a cache key and the image(s) it is computed from."""

    key: str
    images: tuple[ImageRef, ...]


def image_items(iset: ImageSet, ids: Sequence[str]) -> list[Item]:
    """One item per id of `iset`, keyed by the image's recorded sha256."""
    items = []
    for image_id in ids:
        digest = iset.sha256.get(image_id)
        if not digest:
            raise UserError(f"image set '{iset.name}': no sha256 recorded for '{image_id}'")
        items.append(Item(digest, (ImageRef(digest, iset.path(image_id)),)))
    return items


def decode(ref: ImageRef) -> np.ndarray:
    """Read, check against the recorded sha256, and decode one image to H×W×3 uint8."""
    try:
        data = ref.path.read_bytes()
    except OSError as err:
        raise UserError(f"{ref.path}: cannot read image ({err.strerror})") from None
    if sha256_bytes(data) != ref.sha256:
        raise UserError(f"{ref.path}: does not match the sha256 its image set records")
    try:
        with Image.open(io.BytesIO(data)) as img:
            return np.asarray(img.convert("RGB"))
    except (OSError, ValueError) as err:
        raise UserError(f"{ref.path}: cannot decode image ({err})") from None


def _decode_batch(items: Sequence[Item]) -> np.ndarray:
    """(B, k, H, W, 3) uint8 of a batch of items."""
    return np.stack([np.stack([decode(ref) for ref in item.images]) for item in items])


def _batches(items: Sequence[Item], size: int) -> list[Sequence[Item]]:
    return [items[i : i + size] for i in range(0, len(items), size)]


def _prefetched(pool: ThreadPoolExecutor, batches: list, workers: int) -> Iterator[np.ndarray]:
    """Decoded batches in order, with up to `workers` batches decoding ahead."""
    pending: list[Future] = []
    for batch in batches:
        pending.append(pool.submit(_decode_batch, batch))
        if len(pending) > workers:
            yield pending.pop(0).result()
    for future in pending:
        yield future.result()


def compute_cached(
    items: Sequence[Item],
    compute: Callable[[torch.Tensor], list[bytes]],
    namespace: str,
    cache: ResultCache,
    opts: RunOptions,
    device: torch.device,
    desc: str,
) -> dict[str, bytes]:
    """{key: value} for every item: from the cache, else computed in batches and stored.

    `compute` gets a float tensor (B, k, 3, H, W) in [0, 1] on `device` and returns one
    byte string per item.
    """
    unique = list({item.key: item for item in items}.values())
    values = cache.get_many(namespace, [item.key for item in unique])
    todo = [item for item in unique if item.key not in values]
    if not todo:
        return values
    batches = _batches(todo, opts.batch_size)
    bar = tqdm(total=len(todo), desc=desc, unit="img", disable=not opts.progress)
    with ThreadPoolExecutor(opts.workers) as pool, bar, torch.inference_mode():
        for batch, pixels in zip(batches, _prefetched(pool, batches, opts.workers), strict=True):
            x = torch.from_numpy(pixels).to(device).permute(0, 1, 4, 2, 3).float().div_(255.0)
            outputs = compute(x)
            stored = [(item.key, out) for item, out in zip(batch, outputs, strict=True)]
            cache.put_many(namespace, stored)
            values.update(stored)
            bar.update(len(batch))
    return values
