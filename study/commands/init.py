"""`crnkit study init`: scaffold a study.toml from image sets (focal set against each other)."""

from __future__ import annotations

import argparse
import os
import re
from pathlib import Path
from typing import Any

DEFAULT_TITLE = "Which image looks more real?"
EXTRA_TRIALS = 4  # practice and catch trials each, when a real and a catch set are given


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """Declare the options of `crnkit study init`."""
    parser.add_argument("--sets", nargs="+", required=True, metavar="DIR", help="image-set folders")
    parser.add_argument("--out", required=True, help="study.toml to write")
    parser.add_argument("--id", default=None, help="study id (default: <dataset>-<focal>)")
    parser.add_argument("--title", default=DEFAULT_TITLE, help="page title")
    parser.add_argument(
        "--exposures",
        default="unlimited",
        help='comma-separated exposures in ms and/or "unlimited" (e.g. 125,250,1000,unlimited)',
    )
    parser.add_argument(
        "--focal", default=None, help="set compared against every other (default: first generated)"
    )
    parser.add_argument(
        "--trials", type=int, default=None, help="test trials per participant (default: ≈40)"
    )
    parser.add_argument("--force", action="store_true", help="overwrite an existing --out file")


def run(ns: argparse.Namespace) -> int:
    """Write the scaffolded study.toml after checking that it parses."""
    import tomli_w

    from crn.errors import UserError
    from crn.fsutil import atomic_write_text
    from study.spec import parse_spec

    out = Path(ns.out)
    exposures = parse_exposures(ns.exposures)
    doc = scaffold_document(
        [Path(p) for p in ns.sets],
        out.parent,
        study_id=ns.id,
        title=ns.title,
        exposures=exposures,
        focal=ns.focal,
        trials=ns.trials,
    )
    text = tomli_w.dumps(doc)
    spec = parse_spec(text, out.parent.resolve(), source_name=str(out))
    if out.exists() and not ns.force:
        raise UserError(f"{out} exists; pass --force to overwrite it")
    atomic_write_text(out, text)
    print(
        f"wrote {out}: {len(spec.sets)} sets, {len(spec.comparisons)} comparison(s) × "
        f"{len(spec.comparisons[0].exposures)} exposure(s), {spec.trials_per_participant} "
        f"test trials per participant; next: crnkit study validate {out}"
    )
    return 0


def parse_exposures(text: str) -> list[int | str]:
    """`"125,250,unlimited"` -> [125, 250, "unlimited"], or UserError naming the bad item."""
    from crn.errors import UserError
    from study.spec_schema import UNLIMITED, InvalidValueError, exposure_key

    items: list[int | str] = []
    for item in (part.strip() for part in text.split(",")):
        try:
            key = exposure_key(item)
        except InvalidValueError as err:
            raise UserError(f"--exposures: expected {err.expected}, got '{item}'") from None
        value = key if key == UNLIMITED else int(key)
        if value in items:
            raise UserError(f"--exposures: {item} is listed twice")
        items.append(value)
    return items


def _load_sets(folders: list[Path]) -> dict[str, Any]:
    from crn.errors import UserError
    from crn.imageset import load_imageset
    from study.spec_schema import SAFE_NAME

    sets = {}
    for folder in folders:
        iset = load_imageset(folder)
        if not SAFE_NAME.match(iset.name):
            raise UserError(f"{folder}: set name '{iset.name}' is not usable in study.toml")
        if iset.name in sets:
            raise UserError(
                f"two sets are named '{iset.name}' ({sets[iset.name].root} and {iset.root}); "
                "rename one in its imageset.json"
            )
        sets[iset.name] = iset
    return sets


def _pick_focal(sets: dict[str, Any], focal: str | None) -> str:
    from crn.errors import UserError

    if focal is not None:
        if focal not in sets:
            raise UserError(f"--focal {focal}: not one of the sets ({', '.join(sets)})")
        if sets[focal].kind == "catch":
            raise UserError(f"--focal {focal}: a catch set cannot be the focal method")
        return focal
    for kind in ("generated", "imported"):
        for name, iset in sets.items():
            if iset.kind == kind:
                return name
    raise UserError("no generated or imported set among --sets; pass --focal NAME")


def _default_trials(cells: int, n_ids: int) -> int:
    target = min(40, max(n_ids, cells))
    return max(cells, target - target % cells)


def _practice_and_catch(sets: dict[str, Any]) -> dict[str, Any]:
    """[practice] and [catch] tables when a real set and a catch set are both given."""
    real = next((n for n, s in sets.items() if s.kind == "real"), None)
    bad = next((n for n, s in sets.items() if s.kind == "catch"), None)
    if not (real and bad):
        return {}
    return {
        "practice": {"trials": EXTRA_TRIALS, "a": real, "b": bad, "exposure": "unlimited"},
        "catch": {"trials": EXTRA_TRIALS, "real": real, "bad": bad, "exposure": "unlimited"},
    }


def scaffold_document(
    folders: list[Path],
    base: Path,
    *,
    study_id: str | None,
    title: str,
    exposures: list[int | str],
    focal: str | None,
    trials: int | None,
) -> dict[str, Any]:
    """The TOML document of a new study over `folders` (paths written relative to `base`)."""
    from crn.errors import UserError
    from study.spec_schema import SCHEMA

    sets = _load_sets(folders)
    focal = _pick_focal(sets, focal)
    others = [n for n, s in sets.items() if n != focal and s.kind != "catch"]
    if not others:
        raise UserError(f"nothing to compare {focal} with: give at least one more non-catch set")
    defaults = {key.name: key.default for key in SCHEMA["study"]}
    focal_set = sets[focal]
    height, width = focal_set.size
    study_id = study_id or re.sub(r"[^A-Za-z0-9._-]+", "-", f"{focal_set.dataset}-{focal}")
    n_ids = max(len(set(focal_set.images) & set(sets[o].images)) for o in others)
    doc: dict[str, Any] = {
        "study": {
            "id": study_id,
            "title": title,
            "dataset": focal_set.dataset,
            "instructions": defaults["instructions"],
            "question": defaults["question"],
            "trials_per_participant": (
                trials
                if trials is not None
                else _default_trials(len(others) * len(exposures), n_ids)
            ),
            "seed": 0,
        },
        "sets": {
            n: Path(os.path.relpath(s.root, base.resolve())).as_posix() for n, s in sets.items()
        },
        "comparisons": [{"a": focal, "b": other, "exposures": exposures} for other in others],
    }
    doc.update(_practice_and_catch(sets))
    doc["exclusion"] = {key.name: key.default for key in SCHEMA["exclusion"]}
    doc["platform"] = {"kind": "local", "completion_code": ""}
    doc["display"] = {
        "width": width,
        "height": height,
        "min_window_width": 2 * width + 100,
        "min_window_height": height + 150,
    }
    return doc
