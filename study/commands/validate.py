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
    total = INSTRUCTIONS_S
    if cells:
        total += spec.paired_trials * sum(trial_s(exp) for _, exp in cells) / len(cells)
    for task in spec.real_fake:
        exposure = str(round(spec.staircase.start_ms)) if task.adaptive else task.exposure
        total += task.trials * trial_s(exposure)
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
    union |= {i for t in spec.real_fake for i in sets.ids_for((t.method, t.real))}
    if spec.test_trials > len(union):
        notes.append(
            f"{spec.test_trials} test trials but only {len(union)} layouts: "
            "participants will see some layouts twice"
        )
    for task in spec.real_fake:
        if sets.sets[task.real].kind != "real":
            notes.append(f"{task.id}: set {task.real} has kind '{sets.sets[task.real].kind}'")
        if task.adaptive and task.trials < 40:
            notes.append(
                f"{task.id}: {task.trials} staircase trials give few reversals (40 or more "
                "are usual; benchmarks/bench_staircase.py measured 60)"
            )
    return notes


def _task_lines(spec: Any, sets: Any) -> list[str]:
    """Summary lines of real-or-fake tasks, the staircase, timing, questions and conditions."""
    lines = []
    if spec.real_fake:
        lines.append("real-or-fake tasks:")
    for t in spec.real_fake:
        lines.append(
            f"  {t.id}: {t.method} judged real or fake against {t.real}, {t.exposure}, "
            f"{t.trials} trials ({t.trials // 2} real + {t.trials // 2} generated), "
            f"{len(sets.ids_for((t.method, t.real)))} shared ids"
        )
    if any(t.adaptive for t in spec.real_fake):
        r = spec.staircase
        lines.append(
            f"staircase: start {r.start_ms:g} ms in [{r.min_ms:g}, {r.max_ms:g}], "
            f"{r.correct_to_shorten} correct shorten / {r.wrong_to_lengthen} wrong lengthen, "
            f"×{r.initial_step_factor:g} then ×{r.step_factor:g}, threshold from the last "
            f"{r.threshold_reversals} reversals; quantised to whole display frames"
        )
    timing = spec.timing
    lines.append(
        f"timing: fixation {timing.fixation_ms} ms, mask "
        f"{f'{timing.mask_ms} ms' if timing.mask_ms else 'until the answer'}, deadline "
        f"{f'{timing.response_deadline_ms} ms' if timing.response_deadline_ms else 'none'}"
    )
    asked = [n for n in ("age_band", "vision", "comment") if getattr(spec.questions, n)]
    if asked:
        lines.append(f"questions after the last trial: {', '.join(asked)}")
    for cond in spec.conditions:
        lines.append(f"condition {cond.id}: {', '.join(cond.tasks)}")
    return lines


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
    lines += _task_lines(spec, sets)
    cells = spec.cells()
    if cells:
        per_cell = spec.trials_per_participant / len(cells)
        lines.append(
            f"cells: {len(cells)} (comparison × exposure), "
            f"{per_cell:.3g} test trials each per participant"
        )
    lines.append(
        f"trials per participant: {spec.total_trials} = {spec.practice_trials} practice + "
        f"{spec.total_trials - spec.practice_trials - spec.catch_trials} test + "
        f"{spec.catch_trials} catch"
    )
    if cells:
        image_cells = sum(len(sets.ids_for(c)) * len(c.exposures) for c in spec.comparisons)
        full = -(-image_cells // spec.trials_per_participant)
        lines.append(f"participants for one judgment per (cell, image): {full}")
    lines.append(f"estimated duration: {estimated_seconds(spec) / 60:.1f} min per participant")
    lines += [f"warning: {note}" for note in warnings(spec, sets)]
    lines.append("ok")
    return lines
