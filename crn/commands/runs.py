"""`crnkit runs`: list training runs with their model, progress, losses and split hash."""

from __future__ import annotations

import argparse
import json
from collections import Counter
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

from crn.errors import UserError

CHECKPOINT_NAME = "last.pt"
SHORT_HASH = 12

LIST_EPILOG = """example:
  crnkit runs list runs/
  crnkit runs list runs/ --splits splits.json      # flag runs trained on other splits
  crnkit runs list runs/ --json > runs.json

A row is flagged (!) when its split sha256 differs from that of --splits or, without
--splits, from the hash most runs share.
"""


@dataclass(frozen=True)
class RunRow:
    """One run as listed: where it is, what it trained, and on which split."""

    run: str
    checkpoint: str
    model: str
    step: int | None
    losses: dict[str, float]
    split_sha256: str
    vgg_weights: str
    flags: tuple[str, ...] = ()
    error: str = ""


def find_checkpoints(root: Path) -> list[Path]:
    """Every `last.pt` under `root` (the folder itself included), sorted by path."""
    if not root.is_dir():
        raise UserError(f"{root}: not a folder (expected a folder of training runs)")
    return sorted(root.rglob(CHECKPOINT_NAME))


def read_row(root: Path, path: Path) -> RunRow:
    """The row of one checkpoint; an unreadable file gives a row carrying the error."""
    from crn.engine.checkpoint import load_checkpoint

    run = str(path.parent.relative_to(root)) if path.parent != root else "."
    try:
        ckpt = load_checkpoint(path)
    except UserError as err:
        return RunRow(run, str(path), "?", None, {}, "", "", ("unreadable",), str(err))
    vgg = str(ckpt.metadata.get("vgg_weights", "-"))
    losses = {k: float(v) for k, v in ckpt.last_losses.items()}
    return RunRow(run, str(path), ckpt.model, ckpt.step, losses, ckpt.split_sha256, vgg)


def expected_sha256(splits: str | None) -> str | None:
    """The `sha256` recorded in a splits.json file, or None without --splits."""
    if splits is None:
        return None
    path = Path(splits)
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as err:
        raise UserError(f"--splits {path}: cannot read it as JSON ({err})") from None
    sha = data.get("sha256") if isinstance(data, dict) else None
    if not isinstance(sha, str) or not sha:
        raise UserError(f"--splits {path}: no 'sha256' field (expected a `crnkit data split` file)")
    return sha


def flag_rows(rows: list[RunRow], expected: str | None) -> list[RunRow]:
    """Mark rows whose split differs from `expected`, or without it from the most common split."""
    hashes = Counter(r.split_sha256 for r in rows if not r.error)
    reference, reason = expected, "differs from --splits"
    if expected is None and len(hashes) > 1:
        (top, top_count), (_, second_count) = hashes.most_common(2)
        if top_count > second_count:
            reference, reason = top, "differs from the majority"
        else:
            reference, reason = "", "no majority split"
    flagged = []
    for row in rows:
        flags = row.flags
        if not row.error and reference is not None and row.split_sha256 != reference:
            flags = (*flags, reason)
        flagged.append(RunRow(**{**asdict(row), "flags": flags}))
    return flagged


LOSSES_WIDTH = 48


def format_losses(losses: dict[str, float], width: int = LOSSES_WIDTH) -> str:
    """Totals first, then the other named losses (4 significant digits), within `width` chars.

    What does not fit (pix2pix logs a dozen terms per optimizer, the perceptual loss one per
    layer) is counted, and `--json` lists it all: a table row must stay readable.
    """
    keys = sorted(losses, key=lambda k: (not k.endswith("total"), k.count("."), k))
    shown: list[str] = []
    for key in keys:
        item = f"{key}={losses[key]:.4g}"
        if shown and len(" ".join([*shown, item])) > width:
            break
        shown.append(item)
    rest = len(keys) - len(shown)
    return " ".join(shown) + (f" (+{rest} more)" if rest else "") if shown else "-"


def format_table(rows: list[RunRow]) -> str:
    """A fixed-width text table with a header, one line per run."""
    header = ("", "RUN", "MODEL", "STEP", "SPLIT", "VGG", "LOSSES", "FLAGS")
    lines = [header]
    for r in rows:
        mark = "!" if r.flags else ""
        step = "-" if r.step is None else str(r.step)
        split = r.split_sha256[:SHORT_HASH] or "-"
        detail = "; ".join(r.flags) + (f": {r.error}" if r.error else "")
        losses = format_losses(r.losses)
        lines.append((mark, r.run, r.model, step, split, r.vgg_weights or "-", losses, detail))
    widths = [max(len(line[i]) for line in lines) for i in range(len(header) - 1)]
    return "\n".join(
        (
            "  ".join(cell.ljust(w) for cell, w in zip(line, widths, strict=False))
            + "  "
            + line[-1]
        ).rstrip()
        for line in lines
    )


def list_runs(root: str, splits: str | None) -> list[RunRow]:
    """Rows for every run under `root`, flagged against --splits and the majority."""
    base = Path(root)
    expected = expected_sha256(splits)
    rows = [read_row(base, path) for path in find_checkpoints(base)]
    return flag_rows(rows, expected)


def _cmd_list(ns: argparse.Namespace) -> int:
    rows = list_runs(ns.dir, ns.splits)
    if ns.json:
        print(json.dumps([_row_json(r) for r in rows], indent=2))
        return 0
    if not rows:
        print(f"no runs under {ns.dir} (no {CHECKPOINT_NAME} found)")
        return 0
    print(format_table(rows))
    flagged = sum(1 for r in rows if r.flags)
    summary = f"{len(rows)} run(s)"
    if flagged:
        summary += f"; {flagged} flagged (!): trained on other splits or unreadable"
    print(summary)
    return 0


def _row_json(row: RunRow) -> dict[str, Any]:
    data = asdict(row)
    data["flags"] = list(row.flags)
    return data


def _parser(prog: str) -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog=prog, description="Training runs and the splits they were trained on."
    )
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    lister = sub.add_parser(
        "list",
        help="a table of the runs in a folder",
        description="A table of the runs (folders with last.pt) under DIR: model, steps, "
        "final losses, split sha256 and VGG weights.",
        epilog=LIST_EPILOG,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    lister.add_argument(
        "dir",
        nargs="?",
        default="runs",
        metavar="DIR",
        help="folder searched for runs (default: runs)",
    )
    lister.add_argument(
        "--splits",
        metavar="SPLITS_JSON",
        help="flag runs whose split sha256 differs from this file's",
    )
    lister.add_argument("--json", action="store_true", help="print JSON instead of a table")
    lister.set_defaults(func=_cmd_list)
    return parser


def main(argv: list[str], prog: str) -> int:
    """Entry point of `crnkit runs`."""
    ns = _parser(prog).parse_args(argv)
    return int(ns.func(ns))
