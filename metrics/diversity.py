"""Diversity of a model's k outputs per label map: mean pairwise LPIPS-style distance.

"LPIPS-style" here is LPIPS's distance without its learned linear heads (Zhang et al. 2018,
the "baseline" variant), on the project's VGG-19: for each of relu1_2 … relu5_2, every
pixel's channel vector is scaled to unit length, the squared difference of two images'
vectors is summed over channels and averaged over pixels, and the five layers are added
(so a distance lies in [0, 20]). LPIPS's released heads were fitted to VGG-16's relu*_3
features and do not apply to these layers, so none are used.
"""

from __future__ import annotations

import dataclasses
import hashlib
import itertools
from collections.abc import Sequence

import numpy as np
import torch

from crn.imageset import ImageSet, set_digest
from crn.vgg import FEATURE_LAYERS, load_vgg19, resolve_weights
from metrics.cache import ResultCache, array_bytes, bytes_array
from metrics.extract import ImageRef, Item, RunOptions, compute_cached
from metrics.networks import Weights, file_weights, random_weights
from metrics.output import MetricRow, image_rows, row_for

DISTANCES = "lpips-style-vgg19/v1"
EPS = 1e-10


def resolve_vgg(spec: str | None, seed: int = 0) -> Weights:
    """`--vgg-weights` (path, "random" or None for torch hub's cache) to a Weights record."""
    resolved = resolve_weights(spec)
    if resolved == "random":
        return random_weights("vgg19", seed)
    return file_weights("vgg19", resolved)


def unit_features(net: torch.nn.Module, images: torch.Tensor) -> list[torch.Tensor]:
    """relu1_2 … relu5_2 of images in [0, 1], each pixel's channel vector of unit length."""
    feats = net(images)
    out = []
    for name in FEATURE_LAYERS:
        f = feats[name].float()
        out.append(f / (f.pow(2).sum(dim=1, keepdim=True).sqrt() + EPS))
    return out


def lpips_style(a: list[torch.Tensor], b: list[torch.Tensor]) -> torch.Tensor:
    """Distance per image pair from unit features: sum over layers of mean_hw sum_c (a-b)^2."""
    return sum((fa - fb).pow(2).sum(dim=1).mean(dim=(1, 2)) for fa, fb in zip(a, b, strict=True))


def pairwise_fn(net: torch.nn.Module, k: int):
    """Per batch of items (B, k, 3, H, W): the k(k-1)/2 pairwise distances of each item."""
    pairs = list(itertools.combinations(range(k), 2))

    def compute(x: torch.Tensor) -> list[bytes]:
        """Distances of every pair of variants, per item, in itertools.combinations order."""
        b = x.shape[0]
        feats = unit_features(net, x.flatten(0, 1))
        per_variant = [f.unflatten(0, (b, k)) for f in feats]
        cols = [
            lpips_style([f[:, i] for f in per_variant], [f[:, j] for f in per_variant])
            for i, j in pairs
        ]
        dist = torch.stack(cols, dim=1).cpu().numpy()
        return [array_bytes(row) for row in dist]

    return compute


def variant_items(variants: Sequence[ImageSet]) -> list[Item]:
    """One item per id: the k variants' images, keyed by their ordered sha256s."""
    items = []
    for image_id in variants[0].ids:
        refs = tuple(ImageRef(v.sha256[image_id], v.path(image_id)) for v in variants)
        key = hashlib.sha256("|".join(r.sha256 for r in refs).encode("ascii")).hexdigest()
        items.append(Item(key, refs))
    return items


def group_digest(variants: Sequence[ImageSet]) -> str:
    """sha256 over the variant sets' digests, in variant order."""
    return hashlib.sha256("|".join(set_digest(v) for v in variants).encode()).hexdigest()


def diversity_rows(
    groups: dict[str, list[ImageSet]],
    weights: Weights,
    cache: ResultCache,
    opts: RunOptions,
    device: torch.device,
) -> tuple[list[MetricRow], list[dict[str, object]]]:
    """A `diversity` row per method (mean over images, se over images) and per-image rows."""
    net = None
    rows, per_image = [], []
    for base, variants in groups.items():
        k = len(variants)
        items = variant_items(variants)
        namespace = weights.namespace(f"{DISTANCES}:k{k}")
        if net is None and len(cache.get_many(namespace, [i.key for i in items])) < len(items):
            seed = int(weights.sha256.rsplit("seed", 1)[-1]) if weights.is_random else 0
            net = load_vgg19(weights.path or "random", pool="max", seed=seed).to(device)
        # A batch holds batch_size images, i.e. batch_size / k label maps.
        item_opts = dataclasses.replace(opts, batch_size=max(1, opts.batch_size // k))
        values = compute_cached(
            items, pairwise_fn(net, k), namespace, cache, item_opts, device, f"diversity {base}"
        )
        per_id = {
            image_id: float(bytes_array(values[item.key]).mean())
            for image_id, item in zip(variants[0].ids, items, strict=True)
        }
        scores = np.array(list(per_id.values()))
        se = float(scores.std(ddof=1) / np.sqrt(len(scores))) if len(scores) > 1 else None
        row = row_for(
            variants[0], "diversity", scores.mean(), weights, se=se, params=f"k={k};pairs=all"
        )
        rows.append(dataclasses.replace(row, set=base, set_digest=group_digest(variants)))
        per_image += [dict(r, set=base) for r in image_rows(variants[0], "diversity", per_id)]
    return rows, per_image
