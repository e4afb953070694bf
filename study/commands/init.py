"""`crnkit study init`: scaffold a study.toml from image sets.

Designs: `focal` (the focal set against every other at the given exposures), `crn-paper` (the
CRN paper's: focal vs every baseline at unlimited time, focal and its strongest baseline vs the
real photos at 125-8000 ms), `hype` (each generated set judged real or fake, HYPE∞) and
`hype-time` (the same with adaptive exposure, HYPE_time).
"""

from __future__ import annotations

import argparse
import os
import re
from pathlib import Path
from typing import Any

from crnkit_common.responses import PAPER_EXPOSURES_MS

DEFAULT_TITLE = "Which image looks more real?"
EXTRA_TRIALS = 4  # practice and catch trials each, when a real and a catch set are given
DESIGNS = ("focal", "crn-paper", "hype", "hype-time")
# Images are shown at least this wide (CSS px), enlarged by a whole factor when smaller.
MIN_DISPLAY_WIDTH, MAX_DISPLAY_WIDTH = 384, 640


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
        "--trials",
        type=int,
        default=None,
        help="test trials per participant (per real-or-fake task for hype designs; default ≈40)",
    )
    parser.add_argument(
        "--design",
        choices=DESIGNS,
        default="focal",
        help="focal: focal vs every other set at --exposures; crn-paper: the CRN paper's design; "
        "hype / hype-time: single images judged real or fake (unlimited / staircase)",
    )
    parser.add_argument(
        "--strongest",
        default=None,
        help="crn-paper: the baseline also compared with real photos over time "
        "(default: pix2pix if given, else the first other generated set)",
    )
    parser.add_argument("--force", action="store_true", help="overwrite an existing --out file")


def run(ns: argparse.Namespace) -> int:
    """Write the scaffolded study.toml after checking that it parses."""
    import tomli_w

    from crn.errors import UserError
    from crn.fsutil import atomic_write_text
    from study.spec import parse_spec

    out = Path(ns.out)
    if ns.trials is not None and ns.trials < 1:
        raise UserError(f"--trials {ns.trials}: expected a positive number of test trials")
    exposures = parse_exposures(ns.exposures)
    doc = scaffold_document(
        [Path(p) for p in ns.sets],
        out.parent,
        study_id=ns.id,
        title=ns.title,
        exposures=exposures,
        focal=ns.focal,
        trials=ns.trials,
        design=ns.design,
        strongest=ns.strongest,
    )
    text = tomli_w.dumps(doc)
    spec = parse_spec(text, out.parent.resolve(), source_name=str(out))
    if out.exists() and not ns.force:
        raise UserError(f"{out} exists; pass --force to overwrite it")
    atomic_write_text(out, text)
    tasks = [f"{c.id} ({', '.join(c.exposures)})" for c in spec.comparisons]
    tasks += [f"{t.id} ({t.exposure}, {t.trials} trials)" for t in spec.real_fake]
    print(
        f"wrote {out} ({ns.design} design): {len(spec.sets)} sets; {'; '.join(tasks)}; "
        f"{spec.test_trials} test trials per participant; next: crnkit study validate {out}"
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


def _practice_and_catch(sets: dict[str, Any], task: str) -> dict[str, Any]:
    """[practice] and [catch] tables when a real set and a catch set are both given."""
    real = next((n for n, s in sets.items() if s.kind == "real"), None)
    bad = next((n for n, s in sets.items() if s.kind == "catch"), None)
    if not (real and bad):
        return {}
    return {
        "practice": {"trials": EXTRA_TRIALS, "a": real, "b": bad, "exposure": "unlimited"}
        | {"task": task},
        "catch": {"trials": EXTRA_TRIALS, "real": real, "bad": bad, "exposure": "unlimited"}
        | {"task": task},
    }


def display_size(height: int, width: int) -> tuple[int, int]:
    """CSS size of an image: native size enlarged by a whole factor to at least 384 px wide,
    or reduced to 640 px wide, aspect kept (native 64×128 would show tiny)."""
    if width < MIN_DISPLAY_WIDTH:
        factor = -(-MIN_DISPLAY_WIDTH // width)
        return height * factor, width * factor
    if width > MAX_DISPLAY_WIDTH:
        return max(1, round(height * MAX_DISPLAY_WIDTH / width)), MAX_DISPLAY_WIDTH
    return height, width


def _strongest(sets: dict[str, Any], focal: str, strongest: str | None) -> str:
    from crn.errors import UserError

    baselines = [n for n, s in sets.items() if n != focal and s.kind in ("generated", "imported")]
    if strongest is not None:
        if strongest not in baselines:
            raise UserError(
                f"--strongest {strongest}: not a generated set ({', '.join(baselines)})"
            )
        return strongest
    if not baselines:
        raise UserError("the crn-paper design needs at least one baseline (a generated set)")
    return "pix2pix" if "pix2pix" in baselines else baselines[0]


def _tasks(sets, focal, design, exposures, strongest) -> dict[str, Any]:
    """The [[comparisons]] or [[real_fake]] tables of a design."""
    from crn.errors import UserError

    real = next((n for n, s in sets.items() if s.kind == "real"), None)
    others = [n for n, s in sets.items() if n != focal and s.kind != "catch"]
    if design == "focal":
        if not others:
            raise UserError(
                f"nothing to compare {focal} with: give at least one more non-catch set"
            )
        return {"comparisons": [{"a": focal, "b": o, "exposures": exposures} for o in others]}
    if real is None:
        raise UserError(f"the {design} design needs a set of real photos among --sets")
    if design == "crn-paper":
        best = _strongest(sets, focal, strongest)
        baselines = [o for o in others if o != real]
        pairs = [{"a": focal, "b": b, "exposures": ["unlimited"]} for b in baselines]
        pairs += [{"a": m, "b": real, "exposures": list(PAPER_EXPOSURES_MS)} for m in (focal, best)]
        return {"comparisons": pairs}
    generated = [n for n, s in sets.items() if s.kind in ("generated", "imported")]
    exposure = "staircase" if design == "hype-time" else "unlimited"
    return {"real_fake": [{"method": m, "real": real, "exposure": exposure} for m in generated]}


def _trial_count(doc: dict, trials: int | None, n_ids: int) -> None:
    """Set the test trial counts: --trials, or a default from the cells and images."""
    if "real_fake" in doc:
        default = 60 if doc["real_fake"][0]["exposure"] == "staircase" else 20
        count = trials if trials is not None else default
        for task in doc["real_fake"]:
            task["trials"] = count + count % 2  # exactly half real, half generated
        doc["study"]["trials_per_participant"] = 40
        return
    cells = sum(len(c["exposures"]) for c in doc["comparisons"])
    doc["study"]["trials_per_participant"] = (
        trials if trials is not None else _default_trials(cells, n_ids)
    )


def scaffold_document(
    folders: list[Path],
    base: Path,
    *,
    study_id: str | None,
    title: str,
    exposures: list[int | str],
    focal: str | None,
    trials: int | None,
    design: str = "focal",
    strongest: str | None = None,
) -> dict[str, Any]:
    """The TOML document of a new study over `folders` (paths written relative to `base`)."""
    from study.spec_schema import SCHEMA

    sets = _load_sets(folders)
    focal = _pick_focal(sets, focal)
    defaults = {key.name: key.default for key in SCHEMA["study"]}
    focal_set = sets[focal]
    height, width = display_size(*focal_set.size)
    study_id = study_id or re.sub(r"[^A-Za-z0-9._-]+", "-", f"{focal_set.dataset}-{focal}")
    others = [n for n, s in sets.items() if n != focal and s.kind != "catch"]
    n_ids = max((len(set(focal_set.images) & set(sets[o].images)) for o in others), default=0)
    doc: dict[str, Any] = {
        "study": {
            "id": study_id,
            "title": title,
            "dataset": focal_set.dataset,
            "instructions": defaults["instructions"],
            "question": defaults["question"],
            "seed": 0,
        },
        "sets": {
            n: Path(os.path.relpath(s.root, base.resolve())).as_posix() for n, s in sets.items()
        },
        **_tasks(sets, focal, design, exposures, strongest),
    }
    _trial_count(doc, trials, n_ids)
    single = "real_fake" in doc
    doc.update(_practice_and_catch(sets, "real_fake" if single else "paired"))
    doc["exclusion"] = {key.name: key.default for key in SCHEMA["exclusion"]}
    doc["platform"] = {"kind": "local", "completion_code": ""}
    doc["display"] = {
        "width": width,
        "height": height,
        "min_window_width": (width if single else 2 * width) + 100,
        "min_window_height": height + 150,
        "max_scale": 2.0,
    }
    return doc
