"""`crnkit imageset …`: import another code base's outputs, or degrade a set for catch trials."""

from __future__ import annotations

import argparse
from pathlib import Path

IMPORT_EXAMPLE = """example:
  crnkit imageset import theirs/results --name spade --splits splits.json --out sets/spade
  crnkit imageset import pix2pixHD/results/images --name pix2pixhd --splits splits.json \\
      --out sets/pix2pixhd --suffix _synthesized_image
  crnkit imageset import theirs/results --name p2p --splits splits.json --out sets/p2p \\
      --suffix _fake_B --resize --allow-missing
"""
DEGRADE_EXAMPLE = """example:
  crnkit imageset degrade --from sets/real --how blur --out sets/real-blur
  crnkit imageset degrade --from sets/real --how shuffle --strength 1.5 --out sets/real-shuffle
"""


def build_parser(prog: str) -> argparse.ArgumentParser:
    """The `crnkit imageset` parser with its two subcommands."""
    parser = argparse.ArgumentParser(prog=prog, description="Make image sets for studies.")
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    imp = sub.add_parser(
        "import",
        help="bring image files named by image id in as an image set",
        description="Import another code base's outputs (files <image_id>.png/.jpg) as an "
        "image set, checking ids and sizes against a split.",
        epilog=IMPORT_EXAMPLE,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    imp.add_argument("folder", help="folder of image files named by image id")
    imp.add_argument("--name", required=True, help="name of the new set (used in study.toml)")
    imp.add_argument("--splits", required=True, help="the splits.json the images were made from")
    imp.add_argument("--out", required=True, help="folder to write the image set into")
    imp.add_argument("--split", default="test", choices=("train", "val", "test"))
    imp.add_argument("--kind", default="imported", choices=("imported", "generated", "real"))
    imp.add_argument(
        "--suffix",
        default="",
        help="take only files whose stem ends with this, and strip it to get the id "
        "(e.g. _synthesized_image, _fake_B)",
    )
    imp.add_argument(
        "--glob", default="", help="take only files whose name matches this (e.g. '*_fake_B.png')"
    )
    imp.add_argument("--allow-missing", action="store_true", help="accept a subset of the split")
    imp.add_argument("--resize", action="store_true", help="resize (antialiased) to the split size")
    imp.add_argument("--force", action="store_true", help="replace an existing set at --out")
    deg = sub.add_parser(
        "degrade",
        help="write obviously bad images (a catch set) from a set",
        description="Degrade every image of a set (blur, noise or block shuffle) into a set of "
        "kind 'catch', deterministically for a given seed.",
        epilog=DEGRADE_EXAMPLE,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    deg.add_argument("--from", dest="source", required=True, help="image set to degrade")
    deg.add_argument("--how", required=True, choices=("blur", "noise", "shuffle"))
    deg.add_argument("--out", required=True, help="folder to write the catch set into")
    deg.add_argument("--strength", type=float, default=1.0, help="1 = clearly bad (default)")
    deg.add_argument("--name", default=None, help='set name (default "<set>-<how>")')
    deg.add_argument("--seed", type=int, default=0, help="seed of noise and shuffles")
    deg.add_argument("--force", action="store_true", help="replace an existing set at --out")
    return parser


def _check_name(name: str) -> None:
    from crn.errors import UserError
    from study.spec_schema import SAFE_NAME

    if not SAFE_NAME.match(name):
        raise UserError(f"--name {name!r}: expected letters, digits, '.', '_' or '-'")


def main(argv: list[str], prog: str = "crnkit imageset") -> int:
    """Run `crnkit imageset import|degrade`."""
    ns = build_parser(prog).parse_args(argv)
    from crn.imageset import load_imageset
    from study.imageset_tools import degrade_set, import_outputs, read_split

    if ns.command == "import":
        _check_name(ns.name)
        split = read_split(ns.splits, ns.split)
        iset, missing, skipped = import_outputs(
            Path(ns.folder),
            Path(ns.out),
            name=ns.name,
            split=split,
            kind=ns.kind,
            allow_missing=ns.allow_missing,
            resize=ns.resize,
            suffix=ns.suffix,
            pattern=ns.glob,
            force=ns.force,
        )
        note = f"; {len(missing)} id(s) of the split have no image" if missing else ""
        if skipped:
            shown = ", ".join(skipped[:3]) + (", …" if len(skipped) > 3 else "")
            note += f"; skipped {len(skipped)} other file(s) ({shown})"
        print(f"imported {len(iset.images)} images as set '{iset.name}' into {ns.out}{note}")
        return 0
    if ns.name is not None:
        _check_name(ns.name)
    source = load_imageset(ns.source)
    iset = degrade_set(
        source,
        Path(ns.out),
        how=ns.how,
        strength=ns.strength,
        seed=ns.seed,
        name=ns.name,
        force=ns.force,
    )
    print(f"wrote catch set '{iset.name}' ({len(iset.images)} images, {ns.how}) into {ns.out}")
    return 0
