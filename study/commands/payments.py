"""`crnkit study payments`: approve, reject or bonus submissions from the study data."""

from __future__ import annotations

import argparse
import json
from pathlib import Path

DEFAULT_MIN_CATCH = 0.75


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """Declare the options of `crnkit study payments`."""
    parser.add_argument(
        "--participants", required=True, help="participants.csv from crnkit study export"
    )
    parser.add_argument(
        "--submissions", required=True, help="Prolific export CSV or MTurk batch results CSV"
    )
    parser.add_argument(
        "--key-file",
        default=None,
        help="the key for worker-id hashes (default: the key in the secrets folder, where "
        "serve created it)",
    )
    parser.add_argument(
        "--out", default=None, help="decisions CSV to write (default: decisions.csv beside it)"
    )
    parser.add_argument("--platform", choices=("prolific", "mturk"), default=None)
    parser.add_argument(
        "--min-catch-accuracy",
        type=float,
        default=None,
        help="approve at or above this (default: study.json beside participants.csv, else 0.75)",
    )
    parser.add_argument(
        "--no-reject", action="store_true", help="approve finished participants who failed catches"
    )
    parser.add_argument(
        "--bonus-for-complete", default=None, metavar="AMOUNT", help="bonus for approved workers"
    )


def _key_path(ns: argparse.Namespace, participants: Path) -> Path:
    """--key-file, else the key in the secrets folder (or one an older version left beside)."""
    from study.secretstore import find_key_file

    if ns.key_file:
        return Path(ns.key_file)
    return find_key_file((participants.parent,))


def _read_key(path: Path) -> bytes:
    from crn.errors import UserError

    if not path.is_file():
        raise UserError(
            f"key file {path} not found; pass --key-file with the key the server used "
            "(serve prints its path)"
        )
    key = path.read_bytes()
    if not key:
        raise UserError(f"key file {path} is empty")
    return key


def _threshold(ns: argparse.Namespace, participants: Path) -> float:
    from crn.errors import UserError

    if ns.min_catch_accuracy is not None:
        value = ns.min_catch_accuracy
    else:
        study_json = participants.parent / "study.json"
        value = DEFAULT_MIN_CATCH
        if study_json.is_file():
            doc = json.loads(study_json.read_text(encoding="utf-8"))
            value = doc.get("exclusions", {}).get("min_catch_accuracy", DEFAULT_MIN_CATCH)
    if not 0 <= value <= 1:
        raise UserError(f"--min-catch-accuracy: expected a number from 0 to 1, got {value}")
    return float(value)


def _bonus(text: str | None) -> str:
    from crn.errors import UserError

    if text is None:
        return ""
    try:
        amount = float(text)
    except ValueError:
        amount = -1.0
    if not amount > 0:
        raise UserError(f"--bonus-for-complete: expected a positive amount, got '{text}'")
    return f"{amount:.2f}"


def run(ns: argparse.Namespace) -> int:
    """Write the decisions CSV and print a one-line JSON summary."""
    from study.payments import (
        PaymentRules,
        decide_all,
        read_participants,
        read_submissions,
        write_decisions,
    )

    participants_path = Path(ns.participants)
    participants = read_participants(participants_path)
    platform, submissions = read_submissions(ns.submissions, ns.platform)
    key = _read_key(_key_path(ns, participants_path))
    rules = PaymentRules(
        min_catch_accuracy=_threshold(ns, participants_path),
        no_reject=ns.no_reject,
        bonus_for_complete=_bonus(ns.bonus_for_complete),
    )
    rows, summary = decide_all(platform, submissions, participants, key, rules)
    out = Path(ns.out) if ns.out else participants_path.parent / "decisions.csv"
    write_decisions(out, rows)
    print(json.dumps({**summary, "out": str(out)}))
    return 0
