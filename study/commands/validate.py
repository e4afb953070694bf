"""`crnkit study validate`: check a study.toml and its image sets; print a summary or problems."""

from __future__ import annotations

import argparse
import sys
from typing import Any

# Rough seconds per trial beyond the exposure itself, for the duration estimate.
FIXATION_S = 0.5
RESPONSE_S = 1.5
UNLIMITED_S = 3.0
INSTRUCTIONS_S = 60.0


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """Declare the options of `crnkit study validate`."""
    parser.add_argument("spec", help="the study.toml to check")
    parser.add_argument(
        "--no-verify", action="store_true", help="skip re-hashing every image (faster on big sets)"
    )


def run(ns: argparse.Namespace) -> int:
    """Validate; print the summary and return 0, or list every problem and return 1."""
    from study.imagesets import study_set_problems
    from study.spec import SpecError, load_spec

    try:
        spec = load_spec(ns.spec)
    except SpecError as err:
        return _report(ns.spec, err.problems)
    sets, problems = study_set_problems(spec, verify=not ns.no_verify)
    if problems:
        return _report(ns.spec, problems)
    print("\n".join(summary_lines(spec, sets)))
    return 0


def _report(path: str, problems: list[str]) -> int:
    print(f"{path}: {len(problems)} problem(s):", file=sys.stderr)
    for problem in problems:
        print(f"  - {problem}", file=sys.stderr)
    return 1


def estimated_seconds(spec: Any) -> float:
    """Rough duration of one participant's session, in seconds."""
    from study.spec import exposure_ms

    def trial_s(exposure: str) -> float:
        ms = exposure_ms(exposure)
        return FIXATION_S + RESPONSE_S + (UNLIMITED_S if ms is None else ms / 1000)

    cells = spec.cells()
    test = sum(trial_s(exposure) for _, exposure in cells) / len(cells)
    total = INSTRUCTIONS_S + spec.trials_per_participant * test
    if spec.practice:
        total += spec.practice.trials * trial_s(spec.practice.exposure)
    if spec.catch:
        total += spec.catch.trials * trial_s(spec.catch.exposure)
    return total


def warnings(spec: Any, sets: Any) -> list[str]:
    """Things that are allowed but probably unintended."""
    from study.imagesets import used_pairs

    used = {name for pair in used_pairs(spec).values() for name in pair}
    notes = [
        f"set {name} is listed in [sets] but never shown" for name in spec.sets if name not in used
    ]
    for name, iset in sets.sets.items():
        if name in used and iset.dataset != spec.dataset:
            notes.append(
                f"set {name} is from dataset '{iset.dataset}', the study says '{spec.dataset}'"
            )
    union = {i for comp in spec.comparisons for i in sets.ids_for(comp)}
    if spec.trials_per_participant > len(union):
        notes.append(
            f"{spec.trials_per_participant} test trials but only {len(union)} layouts: "
            "participants will see some layouts twice"
        )
    return notes


def summary_lines(spec: Any, sets: Any) -> list[str]:
    """The human-readable summary `validate` prints for a valid study."""
    lines = [
        f"study {spec.id}: {spec.title} (dataset {spec.dataset}, platform {spec.platform.kind})"
    ]
    lines.append("sets:")
    for name, iset in sets.sets.items():
        height, width = iset.size
        lines.append(
            f"  {name}: {iset.kind}, {len(iset.images)} images, {height}x{width}, "
            f"digest {sets.digest(name)[:12]}"
        )
    lines.append("comparisons:")
    for comp in spec.comparisons:
        exposures = ", ".join(comp.exposures)
        lines.append(
            f"  {comp.id}: {comp.a} vs {comp.b}, {len(sets.ids_for(comp))} shared ids, "
            f"exposures {exposures}"
        )
    cells = spec.cells()
    per_cell = spec.trials_per_participant / len(cells)
    lines.append(
        f"cells: {len(cells)} (comparison × exposure), "
        f"{per_cell:.3g} test trials each per participant"
    )
    lines.append(
        f"trials per participant: {spec.total_trials} = {spec.practice_trials} practice + "
        f"{spec.trials_per_participant} test + {spec.catch_trials} catch"
    )
    image_cells = sum(len(sets.ids_for(comp)) * len(comp.exposures) for comp in spec.comparisons)
    full = -(-image_cells // spec.trials_per_participant)
    lines.append(f"participants for one judgment per (cell, image): {full}")
    lines.append(f"estimated duration: {estimated_seconds(spec) / 60:.1f} min per participant")
    lines += [f"warning: {note}" for note in warnings(spec, sets)]
    lines.append("ok")
    return lines
