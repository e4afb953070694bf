"""`crnkit data`: make the synthetic set, split a source, check a split, export real photos."""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

from crn.errors import UserError

SYNTH_EXAMPLE = """example:
  crnkit data synth --out data/synth --n 200 --size 64x128 --seed 0
"""
SPLIT_EXAMPLE = """examples:
  crnkit data split --source synthetic --root data/synth --out splits.json
  crnkit data split --source cityscapes --root /data/cityscapes --labels authors --out cs.json
  crnkit data split --source cityscapes --root /data/cityscapes --labels ids --out cs35.json
  crnkit data split --source nyu --root nyu_depth_v2_labeled.mat --mapping nyu40 \\
      --ids-from splits.mat --out nyu.json

Cityscapes and ADE20K use their official evaluation subset as the test split and draw --val
(default 0) from the official training subset; other sources draw --test (default 10%) and
--val (default 0) at random with --seed. --ids-from takes the splits from a fixed list
instead (NYU's splits.mat, a JSON {"train": [...], "val": [...], "test": [...]}, or text
lines "<split> <id>"); --val then draws from its train ids.
"""
CHECK_EXAMPLE = """example:
  crnkit data check splits.json
"""
EXPORT_EXAMPLE = """example:
  crnkit data export-real --splits splits.json --split test --out sets/real
"""


def _formatter(prog: str) -> argparse.HelpFormatter:
    return argparse.RawDescriptionHelpFormatter(prog, max_help_position=32)


def _add(sub, name: str, help_text: str, epilog: str) -> argparse.ArgumentParser:
    return sub.add_parser(name, help=help_text, epilog=epilog, formatter_class=_formatter)


def _parser(prog: str) -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog=prog, description="Data sources, splits and checks.")
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    p = _add(sub, "synth", "render the procedural street data set", SYNTH_EXAMPLE)
    p.add_argument("--out", required=True, help="folder to write (must be new or empty)")
    p.add_argument("--n", type=int, required=True, help="number of images")
    p.add_argument("--size", default="256x512", help="HxW (default 256x512)")
    p.add_argument("--seed", type=int, default=0, help="data set seed (default 0)")
    p.add_argument("--workers", type=int, default=1, help="render processes (same bytes)")
    p.add_argument("--overwrite", action="store_true", help="replace a synthetic set in --out")
    _split_arguments(_add(sub, "split", "write splits.json for a source", SPLIT_EXAMPLE))
    p = _add(sub, "check", "verify every pair of a split", CHECK_EXAMPLE)
    p.add_argument("splits", help="splits.json")
    p = _add(sub, "export-real", "write a split's photos as the image set 'real'", EXPORT_EXAMPLE)
    p.add_argument("--splits", required=True, help="splits.json")
    p.add_argument("--split", default="test", choices=("train", "val", "test"))
    p.add_argument("--out", required=True, help="image set folder to write")
    return parser


def _split_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("--source", required=True, help="synthetic, cityscapes, ade20k, nyu, folders")
    p.add_argument("--root", required=True, help="the source's root folder (nyu: the .mat file)")
    p.add_argument("--out", required=True, help="splits.json to write")
    p.add_argument("--size", help="HxW every pair is resized to (default: per source)")
    p.add_argument(
        "--fit",
        choices=("stretch", "crop"),
        help="resize whole frames to --size, or centre-crop them to its aspect first "
        "(default: crop for nyu, stretch otherwise)",
    )
    p.add_argument("--val", type=int, help="number of validation ids (default 0)")
    p.add_argument("--test", type=int, help="number of test ids (random-split sources only)")
    p.add_argument("--seed", type=int, default=0, help="seed of the random draws (default 0)")
    p.add_argument(
        "--ids-from",
        metavar="FILE",
        help="fixed splits: NYU splits.mat, JSON {train, val, test} or '<split> <id>' lines",
    )
    p.add_argument(
        "--labels",
        choices=("train", "authors", "ids"),
        help="cityscapes: 19 trainId classes + void (default), the same 19 by the CRN "
        "authors' colour lookup (polegroup -> pole, license plate -> car), or the 35 label ids "
        "(pix2pixHD/SPADE)",
    )
    p.add_argument(
        "--mapping",
        help="nyu: nyu40 (Gupta et al.), nyu13 (Couprie et al.), classMapping40.mat or a "
        "JSON mapping (see docs/data.md)",
    )


def _synth(args: argparse.Namespace) -> int:
    from crn.data.sources.synthetic import write_synthetic
    from crn.data.splits import parse_size

    if args.workers < 1:
        raise UserError(f"--workers must be >= 1, got {args.workers}")
    out = write_synthetic(
        args.out,
        args.n,
        parse_size(args.size),
        args.seed,
        workers=args.workers,
        overwrite=args.overwrite,
    )
    print(f"wrote {args.n} pairs to {out}")
    return 0


def _source_options(args: argparse.Namespace) -> dict:
    options: dict = {}
    if args.labels is not None:
        if args.source != "cityscapes":
            raise UserError("--labels applies to the cityscapes source only")
        options["labels"] = args.labels
    if args.mapping is not None:
        from crn.data.sources.nyu_maps import BUILTIN

        if args.source != "nyu":
            raise UserError("--mapping applies to the nyu source only")
        if args.mapping not in BUILTIN and not Path(args.mapping).is_file():
            raise UserError(
                f"{args.mapping}: mapping file not found (built-in: {', '.join(BUILTIN)})"
            )
        options["mapping"] = args.mapping
    return options


def _split(args: argparse.Namespace) -> int:
    from crn.data.splits import make_splits, save_splits

    splits = make_splits(
        args.source,
        args.root,
        options=_source_options(args),
        size=args.size,
        val=args.val,
        test=args.test,
        seed=args.seed,
        fit=args.fit,
        ids_from=args.ids_from,
    )
    save_splits(splits, args.out)
    counts = {name: len(splits.ids(name)) for name in ("train", "val", "test")}
    if "left_out" in splits.params:
        counts["left_out"] = splits.params["left_out"]
    print(json.dumps({"out": args.out, "sha256": splits.sha256, **counts}))
    return 0


def _check(args: argparse.Namespace) -> int:
    from crn.data.check import check_splits
    from crn.data.splits import load_splits

    splits = load_splits(args.splits)
    problems, checked = check_splits(splits)
    for problem in problems:
        print(problem, file=sys.stderr)
    print(f"checked {checked} pairs of {args.splits}: {len(problems)} problem(s)")
    return 1 if problems else 0


def _export_real(args: argparse.Namespace) -> int:
    from crn.data.export import export_real
    from crn.data.splits import load_splits

    splits = load_splits(args.splits)
    imageset = export_real(splits, args.split, args.out, source_path=args.splits)
    print(f"wrote {len(imageset.images)} photos to {imageset.root} (image set 'real')")
    return 0


HANDLERS = {"synth": _synth, "split": _split, "check": _check, "export-real": _export_real}


def main(argv: list[str], prog: str = "crnkit data") -> int:
    """Run `crnkit data COMMAND ...`; return the exit status."""
    args = _parser(prog).parse_args(argv)
    return HANDLERS[args.command](args)
