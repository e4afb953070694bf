"""FID and KID of image sets against their real counterpart, from cached Inception features."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import torch

from crn.imageset import ImageSet, set_digest
from metrics.cache import ResultCache, array_bytes, bytes_array
from metrics.extract import RunOptions, compute_cached, image_items
from metrics.fid import DEFAULT_KID_SUBSETS, fid, kid
from metrics.networks import Weights, load_inception
from metrics.output import MetricRow, row_for
from metrics.sets import check_comparable

FEATURES = "inception-pool3/v1"


@dataclass(frozen=True)
class FidKidConfig:
    """Which of FID/KID to compute, the Inception weights, and KID's subset design."""

    weights: Weights
    metrics: tuple[str, ...] = ("fid", "kid")
    kid_subsets: int = DEFAULT_KID_SUBSETS
    kid_subset_size: int | None = None


def inception_features(
    sets: Sequence[ImageSet],
    weights: Weights,
    cache: ResultCache,
    opts: RunOptions,
    device: torch.device,
) -> dict[str, np.ndarray]:
    """{set name: (n, 2048) pool3 features in sorted-id order}, computed once per image."""
    items = {iset.name: image_items(iset, iset.ids) for iset in sets}
    everything = [item for group in items.values() for item in group]
    namespace = weights.namespace(FEATURES)
    cached = cache.get_many(namespace, [item.key for item in everything])
    net = None
    if any(item.key not in cached for item in everything):
        net = load_inception(weights, device)

    def compute(x: torch.Tensor) -> list[bytes]:
        """Pool3 features of the first (only) image of each item."""
        feats = net(x[:, 0]).float().cpu().numpy()
        return [array_bytes(f) for f in feats]

    values = compute_cached(everything, compute, namespace, cache, opts, device, "inception")
    return {
        name: np.stack([bytes_array(values[item.key]) for item in group])
        for name, group in items.items()
    }


def fid_kid_rows(
    real: ImageSet,
    sets: Sequence[ImageSet],
    cfg: FidKidConfig,
    cache: ResultCache,
    opts: RunOptions,
    device: torch.device,
) -> list[MetricRow]:
    """FID and/or KID rows of every set in `sets` against `real`."""
    for iset in sets:
        check_comparable(iset, real)
    feats = inception_features([real, *sets], cfg.weights, cache, opts, device)
    ref = {"reference": real.name, "reference_digest": set_digest(real)}
    rows = []
    for iset in sets:
        if "fid" in cfg.metrics:
            value = fid(feats[iset.name], feats[real.name])
            rows.append(row_for(iset, "fid", value, cfg.weights, params="features=pool3", **ref))
        if "kid" in cfg.metrics:
            result = kid(
                feats[iset.name],
                feats[real.name],
                cfg.kid_subsets,
                cfg.kid_subset_size,
                opts.seed,
            )
            params = f"subsets={result.subsets};subset_size={result.subset_size};seed={opts.seed}"
            rows.append(
                row_for(iset, "kid", result.value, cfg.weights, se=result.std, params=params, **ref)
            )
    return rows
