"""Segmentation score (pix2pix's "FCN-score", SPADE's mIoU protocol) with a user's model.

A TorchScript segmentation model labels every image of a set; its labels are compared with
the split's label maps (crn.data), resized to the set's size by nearest neighbour. The model
takes (N, 3, H, W) RGB in [0, 1] at the set's size (its own normalisation inside) and returns
(N, K, h, w) class scores for the K classes of the split, in the split's order (a dict's
"out" entry, or a tuple's first element, also works); scores are resized bilinearly to H×W
before the argmax. Void pixels of the label maps are left out of every count.
"""

from __future__ import annotations

import warnings
import zlib
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import torch
import torch.nn.functional as F

from crn.data.classes import IGNORE_INDEX
from crn.data.resize import resize_label
from crn.data.splits import Splits, open_split_source
from crn.errors import UserError
from crn.imageset import ImageSet
from crn.statedict import first_line
from metrics.cache import ResultCache
from metrics.extract import RunOptions, compute_cached, image_items
from metrics.networks import Weights, file_weights
from metrics.output import MetricRow, image_rows, row_for

PREDICTIONS = "segmentation/v1"


@dataclass(frozen=True)
class Segmenter:
    """A loaded TorchScript model and the record of its file."""

    module: torch.jit.ScriptModule
    weights: Weights


def load_segmenter(path: str, device: torch.device) -> Segmenter:
    """Load a TorchScript file; a clear one-line error when it is not one."""
    weights = file_weights("torchscript", path)
    try:
        # torch 2.13 deprecates TorchScript; it is still the documented input format here.
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", DeprecationWarning)
            module = torch.jit.load(path, map_location=device)
    except Exception as err:
        raise UserError(
            f"{path}: not a TorchScript model (save one with torch.jit.save(torch.jit.script("
            f"model), PATH)): {first_line(err)}"
        ) from None
    module.eval()
    return Segmenter(module, weights)


def _scores(out: object, path: str) -> torch.Tensor:
    if isinstance(out, dict):
        out = out.get("out")
    elif isinstance(out, tuple | list):
        out = out[0] if out else None
    if not isinstance(out, torch.Tensor) or out.dim() != 4:
        raise UserError(f"{path}: the model must return (N, K, h, w) class scores")
    return out


def predict_fn(seg: Segmenter, size: tuple[int, int], num_classes: int):
    """The per-batch function: images (B, 1, 3, H, W) -> zlib'd uint8 label maps."""

    def compute(x: torch.Tensor) -> list[bytes]:
        """Argmax labels of a batch, resized to the set's size."""
        scores = _scores(seg.module(x[:, 0]), str(seg.weights.path))
        if scores.shape[1] != num_classes:
            raise UserError(
                f"{seg.weights.path}: the model scores {scores.shape[1]} classes, the split has "
                f"{num_classes} (expected one channel per class, in the split's order)"
            )
        if tuple(scores.shape[-2:]) != tuple(size):
            scores = F.interpolate(scores.float(), size=size, mode="bilinear", align_corners=False)
        labels = scores.argmax(dim=1).to(torch.uint8).cpu().numpy()
        return [zlib.compress(label.tobytes(), 1) for label in labels]

    return compute


def confusion(label: np.ndarray, pred: np.ndarray, num_classes: int) -> np.ndarray:
    """(K, K) counts of (true class, predicted class) over the non-void pixels."""
    keep = label != IGNORE_INDEX
    flat = label[keep].astype(np.int64) * num_classes + pred[keep].astype(np.int64)
    return np.bincount(flat, minlength=num_classes * num_classes).reshape(num_classes, -1)


def scores_of(conf: np.ndarray) -> dict[str, object]:
    """IoU per class (NaN where a class is in neither map), mIoU, pixel and class accuracy."""
    tp = np.diag(conf).astype(np.float64)
    truth, predicted = conf.sum(axis=1), conf.sum(axis=0)
    union = truth + predicted - tp
    with np.errstate(invalid="ignore", divide="ignore"):
        iou = np.where(union > 0, tp / union, np.nan)
        class_acc = np.where(truth > 0, tp / truth, np.nan)
    total = conf.sum()
    return {
        "iou": iou,
        "miou": float(np.nanmean(iou)) if np.isfinite(iou).any() else float("nan"),
        "pixel_acc": float(tp.sum() / total) if total else float("nan"),
        "class_acc": float(np.nanmean(class_acc)) if np.isfinite(class_acc).any() else np.nan,
    }


def _labels(splits: Splits, iset: ImageSet, store: dict[str, np.ndarray]) -> None:
    """Fill `store` with the label map of every id of `iset` at the set's size."""
    if iset.split_sha256 != splits.sha256:
        raise UserError(
            f"image set '{iset.name}' comes from splits {iset.split_sha256[:12]}…, --splits is "
            f"{splits.sha256[:12]}… (give the splits.json the set was made from)"
        )
    known = set(splits.ids(iset.split))
    outside = [i for i in iset.ids if i not in known]
    if outside:
        raise UserError(f"image set '{iset.name}': id '{outside[0]}' is not in split {iset.split}")
    source = None
    for image_id in iset.ids:
        if (image_id, *iset.size) not in store:
            source = source or open_split_source(splits)
            label, _ = source.load(image_id)
            store[(image_id, *iset.size)] = resize_label(label, iset.size)


def segmentation_rows(
    sets: Sequence[ImageSet],
    splits: Splits,
    seg: Segmenter,
    cache: ResultCache,
    opts: RunOptions,
    device: torch.device,
) -> tuple[list[MetricRow], list[dict[str, object]]]:
    """Rows seg_miou, seg_pixel_acc, seg_class_acc, seg_iou:<class> per set, and per image."""
    names = [c.name for c in splits.classes]
    labels: dict = {}
    rows, per_image = [], []
    namespace = seg.weights.namespace(PREDICTIONS)
    for iset in sets:
        _labels(splits, iset, labels)
        items = image_items(iset, iset.ids)
        fn = predict_fn(seg, tuple(iset.size), len(names))
        preds = compute_cached(items, fn, namespace, cache, opts, device, f"segment {iset.name}")
        total = np.zeros((len(names), len(names)), np.int64)
        acc, miou = {}, {}
        for image_id, item in zip(iset.ids, items, strict=True):
            pred = np.frombuffer(zlib.decompress(preds[item.key]), np.uint8).reshape(iset.size)
            conf = confusion(labels[(image_id, *iset.size)], pred, len(names))
            total += conf
            one = scores_of(conf)
            acc[image_id], miou[image_id] = one["pixel_acc"], one["miou"]
        result = scores_of(total)
        extra = {"reference": "labels", "reference_digest": splits.sha256}
        for metric in ("miou", "pixel_acc", "class_acc"):
            rows.append(row_for(iset, f"seg_{metric}", result[metric], seg.weights, **extra))
        for name, value in zip(names, result["iou"], strict=True):
            if np.isfinite(value):
                rows.append(row_for(iset, f"seg_iou:{name}", value, seg.weights, **extra))
        per_image += image_rows(iset, "seg_pixel_acc", acc)
        per_image += image_rows(iset, "seg_miou", miou)
    return rows, per_image
