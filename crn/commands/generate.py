"""`crnkit generate`: an image set (contract 3, docs/contracts.md) from any model's checkpoint."""

from __future__ import annotations

import argparse

EXAMPLES = """examples:
  crnkit generate --checkpoint runs/crn/last.pt --splits splits.json --split test --out sets/crn
  crnkit generate --checkpoint runs/crn/last.pt --splits splits.json --out sets/crn --variant all
      (one set per diversity output: sets/crn-v0 … sets/crn-v8)
"""


def build_parser(prog: str) -> argparse.ArgumentParser:
    """Options of `crnkit generate`."""
    parser = argparse.ArgumentParser(
        prog=prog,
        description="Run a checkpoint on every id of a split and write an image set.",
        epilog=EXAMPLES,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("--checkpoint", required=True, help="a run's last.pt")
    parser.add_argument("--splits", required=True, help="the splits.json it was trained on")
    parser.add_argument("--split", default="test", choices=("train", "val", "test"))
    parser.add_argument("--out", required=True, help="image set folder; its name is the set's")
    parser.add_argument(
        "--variant", default="0", help="which of the k outputs (0..k-1), or 'all' (NAME-vI sets)"
    )
    parser.add_argument(
        "--dropout",
        choices=("model", "on", "off"),
        default="model",
        help="dropout while generating: the model's default (pix2pix: on, as its reference "
        "test script; models without dropout: off), or on/off; recorded in imageset.json",
    )
    parser.add_argument(
        "--seed", type=int, default=0, help="seed of the dropout masks when dropout is on"
    )
    parser.add_argument("--batch-size", type=int, default=1)
    parser.add_argument("--device", default="auto", help="auto, cpu, cuda, mps")
    parser.add_argument("--overwrite", action="store_true", help="replace an existing set")
    parser.add_argument("--no-progress", action="store_true")
    return parser


def main(argv: list[str], prog: str) -> int:
    """Entry point of `crnkit generate`."""
    ns = build_parser(prog).parse_args(argv)
    from crn.data.splits import load_splits
    from crn.errors import UserError
    from crn.generate import generate_imagesets, parse_variant

    if ns.batch_size < 1:
        raise UserError(f"--batch-size {ns.batch_size}: expected a positive number")
    sets = generate_imagesets(
        ns.checkpoint,
        load_splits(ns.splits),
        ns.split,
        ns.out,
        variant=parse_variant(ns.variant),
        batch_size=ns.batch_size,
        device=ns.device,
        overwrite=ns.overwrite,
        progress=not ns.no_progress,
        dropout=ns.dropout,
        seed=ns.seed,
    )
    for imageset in sets:
        print(
            f"wrote image set '{imageset.name}' ({len(imageset.images)} images) to {imageset.root}"
        )
    return 0
