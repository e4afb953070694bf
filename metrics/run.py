"""One `crnkit metrics` run: which metrics, on which sets, with which networks; rows out."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

from crn.errors import UserError
from metrics.cache import ResultCache
from metrics.extract import RunOptions
from metrics.fid import DEFAULT_KID_SUBSETS
from metrics.output import MetricRow

METRICS = ("fid", "kid", "seg", "diversity")


@dataclass(frozen=True)
class MetricsRequest:
    """Inputs and settings of a run (built by the CLI or a caller)."""

    metrics: tuple[str, ...]
    real: str | None = None
    sets: Sequence[str] = ()
    variants: Sequence[str] = ()
    inception_weights: str | None = None
    vgg_weights: str | None = None
    seg_model: str | None = None
    splits: str | None = None
    kid_subsets: int = DEFAULT_KID_SUBSETS
    kid_subset_size: int | None = None
    cache: str | Path | None = None
    options: RunOptions = field(default_factory=RunOptions)


def parse_metrics(text: str, request_has: dict[str, bool]) -> tuple[str, ...]:
    """`--metrics` ("auto" or a comma list) to the metrics to compute, inputs checked."""
    if text == "auto":
        wanted = [m for m in METRICS if request_has[m]]
        if not wanted:
            raise UserError("nothing to compute: give --real and --sets, --variants, or both")
        return tuple(wanted)
    wanted = [m.strip() for m in text.split(",") if m.strip()]
    unknown = [m for m in wanted if m not in METRICS]
    if unknown or not wanted:
        raise UserError(f"--metrics {text}: expected 'auto' or a list of {', '.join(METRICS)}")
    needs = {
        "fid": "--real and --sets",
        "kid": "--real and --sets",
        "seg": "--seg-model, --splits and --sets (or --real)",
        "diversity": "--variants",
    }
    for metric in wanted:
        if not request_has[metric]:
            raise UserError(f"--metrics {metric} needs {needs[metric]}")
    return tuple(dict.fromkeys(wanted))


def run_metrics(req: MetricsRequest) -> tuple[list[MetricRow], list[dict[str, object]]]:
    """Compute the requested metrics; return metrics.csv rows and per-image rows."""
    from crn.engine.distributed import pick_device
    from metrics.sets import load_sets, variant_groups

    real = load_sets([req.real])[0] if req.real else None
    sets = load_sets(req.sets)
    groups = variant_groups(load_sets(req.variants)) if req.variants else {}
    device = pick_device(req.options.device)
    cache = ResultCache(req.cache)
    rows: list[MetricRow] = []
    per_image: list[dict[str, object]] = []
    try:
        fid_kid = tuple(m for m in req.metrics if m in ("fid", "kid"))
        if fid_kid:
            rows += _fid_kid(req, real, sets, fid_kid, cache, device)
        if "seg" in req.metrics:
            scored = [
                *([real] if real else []),
                *(s for s in sets if not real or s.root != real.root),
            ]
            more, images = _segmentation(req, scored, cache, device)
            rows, per_image = rows + more, per_image + images
        if "diversity" in req.metrics:
            from metrics.diversity import diversity_rows, resolve_vgg

            weights = resolve_vgg(req.vgg_weights, req.options.seed)
            more, images = diversity_rows(groups, weights, cache, req.options, device)
            rows, per_image = rows + more, per_image + images
    finally:
        cache.close()
    return rows, per_image


def _fid_kid(req, real, sets, which, cache, device) -> list[MetricRow]:
    from metrics.fidkid import FidKidConfig, fid_kid_rows
    from metrics.networks import resolve_inception
    from metrics.sets import check_comparable

    for iset in sets:  # bad sets are reported before a missing weights file
        check_comparable(iset, real)
    cfg = FidKidConfig(
        weights=resolve_inception(req.inception_weights, req.options.seed),
        metrics=which,
        kid_subsets=req.kid_subsets,
        kid_subset_size=req.kid_subset_size,
    )
    return fid_kid_rows(real, sets, cfg, cache, req.options, device)


def _segmentation(req, sets, cache, device):
    from crn.data.splits import load_splits
    from metrics.segmentation import load_segmenter, segmentation_rows

    model = Path(req.seg_model).expanduser()
    if not model.is_file():
        raise UserError(f"--seg-model {req.seg_model}: no such file (expected a TorchScript model)")
    segmenter = load_segmenter(str(model.resolve()), device)
    return segmentation_rows(sets, load_splits(req.splits), segmenter, cache, req.options, device)
