"""Generation: a checkpoint on every id of a split, written as image sets (contract 3).

The image-set format is described in docs/contracts.md.
"""

from __future__ import annotations

import queue
import threading
from collections.abc import Callable, Iterable, Iterator
from pathlib import Path
from typing import Any

import numpy as np
import torch
from tqdm import tqdm

from crn.engine.checkpoint import build_model_from_checkpoint
from crn.engine.distributed import pick_device, seeded_rng
from crn.engine.samples import to_uint8
from crn.errors import UserError
from crn.imageset import MANIFEST, ImageSet, write_imageset

_END, _ABORT = object(), object()
DROPOUT_CHOICES = ("model", "on", "off")


class GenerationAbortedError(RuntimeError):
    """Raised inside a writer when generation failed, so no manifest is written."""


def parse_variant(text: str) -> str | int:
    """`--variant` value: "all" or a non-negative output index."""
    if text == "all":
        return "all"
    if not text.isdigit():
        raise UserError(f"--variant {text}: expected an output index (0, 1, …) or 'all'")
    return int(text)


def set_targets(out: str | Path, variant: str | int, k: int) -> list[tuple[int, Path]]:
    """(output index, folder) of each set to write; `all` gives NAME-v0 … NAME-v{k-1}."""
    out = Path(out)
    if variant == "all":
        return [(i, out.parent / f"{out.name}-v{i}") for i in range(k)]
    if variant >= k:
        raise UserError(f"--variant {variant}: the model makes {k} output(s) (0..{k - 1})")
    return [(variant, out)]


def generate_imagesets(
    checkpoint: str | Path,
    splits: Any,
    split: str,
    out: str | Path,
    *,
    variant: str | int = 0,
    batch_size: int = 1,
    device: str = "auto",
    overwrite: bool = False,
    progress: bool = True,
    dropout: str = "model",
    seed: int = 0,
) -> list[ImageSet]:
    """Write one image set per requested output of `checkpoint` for every id of `split`.

    `dropout` "model" keeps the model's own choice (pix2pix: on, as its reference), "on" or
    "off" override it; dropout masks are drawn from `seed`, image by image in split order.
    """
    from crn.data.dataset import PairedDataset

    model, ckpt = build_model_from_checkpoint(checkpoint, pick_device(device))
    if dropout not in DROPOUT_CHOICES:
        raise UserError(f"dropout '{dropout}': expected one of {', '.join(DROPOUT_CHOICES)}")
    if dropout != "model":
        model.set_generation_dropout(dropout == "on")
    if ckpt.split_sha256 != splits.sha256:
        raise UserError(
            f"{checkpoint} was trained on splits {ckpt.split_sha256[:12]}…, but "
            f"{splits.sha256[:12]}… was given: generate with the splits.json it was trained on"
        )
    targets = set_targets(out, variant, model.num_outputs)
    for _, folder in targets:
        if (folder / MANIFEST).exists() and not overwrite:
            raise UserError(f"{folder} already holds an image set (pass --overwrite to replace)")
    dataset = PairedDataset(splits, split, size=model.image_size)
    outputs = _outputs(model, dataset, batch_size, progress, seed)
    noise = _noise_record(model, seed)
    writers = [
        _writer(folder, index, ckpt, splits, split, model, noise) for index, folder in targets
    ]
    indices = [index for index, _ in targets]
    return fan_out(((i, imgs[indices]) for i, imgs in outputs), writers)


def _noise_record(model: Any, seed: int) -> dict[str, Any]:
    """What an image set records about noise at generation: dropout on/off and its seed."""
    dropout = model.generation_dropout()
    if dropout is None:
        return {}
    return {"test_dropout": dropout, **({"seed": seed} if dropout else {})}


def _outputs(
    model: Any, dataset: Any, batch_size: int, progress: bool, seed: int
) -> Iterator[tuple]:
    """(image id, uint8 outputs [k,H,W,3]) for every item, in split order."""
    loader = torch.utils.data.DataLoader(dataset, batch_size=batch_size, shuffle=False)
    device = next(model.parameters()).device
    with torch.no_grad(), seeded_rng(seed, device):
        for batch in tqdm(loader, disable=not progress, unit="batch", desc="generate"):
            images = to_uint8(model.generate(batch["label"].to(device)).float())
            yield from zip(batch["id"], images, strict=True)


def _writer(
    folder: Path, index: int, ckpt: Any, splits: Any, split: str, model: Any, noise: dict
) -> Callable:
    """A function writing one image set from an iterable of (id, image)."""
    extra = {
        "model": ckpt.model,
        "checkpoint_step": ckpt.step,
        "variant": index,
        "num_outputs": model.num_outputs,
        **{k: v for k, v in ckpt.metadata.items() if k.startswith("vgg_")},
        **noise,
    }

    def write(images: Iterable[tuple[str, np.ndarray]]) -> ImageSet:
        """Write the set from (id, image) pairs; the manifest comes last."""
        return write_imageset(
            folder,
            name=folder.name,
            kind="generated",
            source=str(ckpt.path),
            dataset=splits.source,
            split_sha256=splits.sha256,
            split=split,
            size=tuple(model.image_size),
            images=images,
            extra=extra,
        )

    return write


def fan_out(items: Iterable[tuple[str, np.ndarray]], writers: list[Callable]) -> list[Any]:
    """Feed item i's j-th image to writer j, all writers at once (one generation pass).

    Each writer runs in its own thread over a bounded queue. If generation fails, every
    writer sees an error before finishing, so no partial set gets a manifest.
    """
    if len(writers) == 1:
        return [writers[0]((image_id, images[0]) for image_id, images in items)]
    lanes = [_Lane(writer) for writer in writers]
    end = _ABORT
    try:
        for image_id, images in items:
            if any(lane.failed for lane in lanes):
                break
            for j, lane in enumerate(lanes):
                lane.queue.put((image_id, images[j]))
        else:
            end = _END
    finally:
        for lane in lanes:
            lane.queue.put(end)
        for lane in lanes:
            lane.thread.join()
    errors = [lane.error for lane in lanes if lane.error is not None]
    real = [err for err in errors if not isinstance(err, GenerationAbortedError)]
    if real:
        raise real[0]
    return [lane.result for lane in lanes]


class _Lane:
    """One writer thread fed by a bounded queue."""

    def __init__(self, writer: Callable) -> None:
        self.writer = writer
        self.queue: queue.Queue = queue.Queue(maxsize=4)
        self.result: Any = None
        self.error: BaseException | None = None
        self.marker_seen = threading.Event()
        self.thread = threading.Thread(target=self._run, daemon=True)
        self.thread.start()

    @property
    def failed(self) -> bool:
        """True once the writer raised."""
        return self.error is not None

    def _run(self) -> None:
        try:
            self.result = self.writer(_drain(self.queue, self.marker_seen))
        except BaseException as err:
            self.error = err
        finally:
            # Keep taking items so the producer never blocks on this queue.
            while not self.marker_seen.is_set():
                if self.queue.get() in (_END, _ABORT):
                    self.marker_seen.set()


def _drain(q: queue.Queue, marker_seen: threading.Event) -> Iterator[Any]:
    """Items of a queue until the end marker; an abort marker raises."""
    while True:
        item = q.get()
        if item is _END or item is _ABORT:
            marker_seen.set()
            if item is _ABORT:
                raise GenerationAbortedError("generation failed; image set left without a manifest")
            return
        yield item
