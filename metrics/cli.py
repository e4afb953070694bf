"""`crnkit metrics`: FID, KID, segmentation score and diversity of image sets -> metrics.csv."""

from __future__ import annotations

import argparse

EPILOG = """examples:
  crnkit metrics --real sets/real --sets sets/crn sets/pix2pix --out results/metrics.csv
  crnkit metrics --real sets/real --sets sets/crn sets/pix2pix --seg-model fcn.pt \\
      --splits cs.json --out results/metrics.csv
  crnkit metrics --variants sets/crn-v* --vgg-weights vgg19.pth --out results/metrics.csv
  crnkit analyze results/responses.csv --metrics results/metrics.csv --out report/

FID/KID need pytorch-fid's pt_inception-2015-12-05-6726825d.pth in torch hub's cache
(~/.cache/torch/hub/checkpoints/) or --inception-weights PATH; nothing is downloaded.
metrics.csv gets one row per set x metric (rows of other runs are kept); per-image values
go to <out stem>_images.csv beside it. See docs/metrics.md.
"""


def build_parser(prog: str) -> argparse.ArgumentParser:
    """Options of `crnkit metrics`."""
    parser = argparse.ArgumentParser(
        prog=prog,
        description="Automatic metrics of image sets: FID, KID, segmentation score, diversity.",
        epilog=EPILOG,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    sets = parser.add_argument_group("image sets")
    sets.add_argument("--real", help="the real set: FID/KID reference (and segmentation row)")
    sets.add_argument("--sets", nargs="+", default=[], metavar="DIR", help="sets to score")
    sets.add_argument(
        "--variants", nargs="+", default=[], metavar="DIR", help="NAME-v0 … NAME-vK sets"
    )
    parser.add_argument("--out", required=True, help="metrics.csv to write (merged if present)")
    parser.add_argument(
        "--metrics", default="auto", help="auto (what the inputs allow) or fid,kid,seg,diversity"
    )
    nets = parser.add_argument_group("networks (local files only)")
    nets.add_argument("--inception-weights", help="FID Inception file, or 'random' (recorded)")
    nets.add_argument("--vgg-weights", help="VGG-19 file for diversity, or 'random' (recorded)")
    nets.add_argument("--seg-model", help="TorchScript segmentation model")
    nets.add_argument("--splits", help="splits.json of the sets (label maps for segmentation)")
    kid = parser.add_argument_group("KID")
    kid.add_argument("--kid-subsets", type=int, default=100, help="random subsets (default 100)")
    kid.add_argument("--kid-subset-size", type=int, help="default min(1000, n/2)")
    run = parser.add_argument_group("running")
    run.add_argument("--device", default="auto", help="auto, cpu, cuda, mps (default auto)")
    run.add_argument("--batch-size", type=int, default=32, help="images per batch (default 32)")
    run.add_argument("--workers", type=int, default=2, help="image-decoding threads")
    run.add_argument("--cache", help="feature cache file (default ~/.cache/crnkit/…)")
    run.add_argument("--no-cache", action="store_true", help="keep features in memory only")
    run.add_argument("--seed", type=int, default=0, help="KID subsets and random weights")
    run.add_argument("--no-progress", action="store_true")
    return parser


def main(argv: list[str], prog: str = "crnkit metrics") -> int:
    """Entry point of `crnkit metrics`."""
    ns = build_parser(prog).parse_args(argv)
    from metrics.cache import default_cache_path
    from metrics.extract import RunOptions
    from metrics.output import write_metrics
    from metrics.run import MetricsRequest, parse_metrics, run_metrics

    has = {
        "fid": bool(ns.real and ns.sets),
        "kid": bool(ns.real and ns.sets),
        "seg": bool(ns.seg_model and ns.splits and (ns.sets or ns.real)),
        "diversity": bool(ns.variants),
    }
    request = MetricsRequest(
        metrics=parse_metrics(ns.metrics, has),
        real=ns.real,
        sets=ns.sets,
        variants=ns.variants,
        inception_weights=ns.inception_weights,
        vgg_weights=ns.vgg_weights,
        seg_model=ns.seg_model,
        splits=ns.splits,
        kid_subsets=ns.kid_subsets,
        kid_subset_size=ns.kid_subset_size,
        cache=None if ns.no_cache else (ns.cache or default_cache_path()),
        options=RunOptions(ns.device, ns.batch_size, ns.workers, not ns.no_progress, ns.seed),
    )
    rows, per_image = run_metrics(request)
    out, images = write_metrics(ns.out, rows, per_image)
    for row in rows:
        se = f" ± {row.se:.4g}" if row.se is not None else ""
        print(f"{row.set:<16} {row.metric:<20} {row.value:.6g}{se}  [{row.weights}]")
    if any(row.weights == "random" for row in rows):
        print("note: random network weights were used (recorded in metrics.csv); not comparable")
    extra = f" and {images}" if per_image else ""
    print(f"wrote {len(rows)} rows to {out}{extra}")
    return 0
