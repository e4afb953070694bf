"""The `crnkit` entry point: dispatches to per-package subcommand modules, imported lazily."""

from __future__ import annotations

import argparse
import importlib
import sys

from crn.errors import UserError

# group name -> (module implementing `main(argv, prog) -> int`, one-line help)
COMMANDS: dict[str, tuple[str, str]] = {
    "data": ("crn.commands.data", "data sources, splits, checks and the `real` image set"),
    "train": ("crn.commands.train", "train a registered model (crn, pix2pix, encdec, ...)"),
    "calibrate": ("crn.commands.calibrate", "recompute CRN loss-layer weights from a checkpoint"),
    "generate": ("crn.commands.generate", "write an image set from a checkpoint"),
    "runs": ("crn.commands.runs", "list training runs and the splits they used"),
    "imageset": ("study.cli_imageset", "import outside outputs or degrade a set for catch trials"),
    "study": ("study.cli", "write, validate, serve, simulate and export realism studies"),
    "metrics": ("metrics.cli", "FID, KID, segmentation score and diversity of image sets"),
    "analyze": ("analysis.cli", "preference rates, tests, rankings, tables, plots, report"),
    "demo": ("crn.commands.demo", "the whole pipeline end to end on synthetic data"),
}

EPILOG = """example:
  crnkit data synth --out data/synth --n 200 --size 64x128 --seed 0
  crnkit data split --source synthetic --root data/synth --out splits.json
  crnkit train crn --splits splits.json --out runs/crn --size 64x128 --width 0.25
  crnkit demo --out demo-out
"""


def _top_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="crnkit",
        description="Photographic image synthesis with CRNs, and human realism studies.",
        epilog=EPILOG,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("group", choices=sorted(COMMANDS), metavar="COMMAND", help=_groups_help())
    parser.add_argument("args", nargs=argparse.REMAINDER, help="arguments of the command")
    return parser


def _groups_help() -> str:
    return "; ".join(f"{name}: {text}" for name, (_, text) in COMMANDS.items())


def main(argv: list[str] | None = None) -> int:
    """Run `crnkit` with `argv` (default: sys.argv); return the process exit status."""
    argv = list(sys.argv[1:] if argv is None else argv)
    parsed = _top_parser().parse_args(argv[:1] if argv else ["--help"])
    module = importlib.import_module(COMMANDS[parsed.group][0])
    try:
        return int(module.main(argv[1:], prog=f"crnkit {parsed.group}") or 0)
    except UserError as err:
        print(f"crnkit {parsed.group}: error: {err}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print(f"crnkit {parsed.group}: interrupted", file=sys.stderr)
        return 130


if __name__ == "__main__":
    sys.exit(main())
