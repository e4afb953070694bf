"""Each participant's trial list, built server-side: pure and seeded (same inputs, same list).

Paired test trials are spread evenly over the cells (comparison × exposure); each real-or-fake
task gets its own number of trials, exactly half showing the real set and half the generated one
(a cell each). Images are assigned by a
minimum-cost matching (scipy) whose costs rank, in this order: no layout shown twice to the
participant, even coverage of every (comparison, exposure, image) across participants (from the
`coverage` counts, least covered first), a per-cell preferred order that keeps cells from
competing for the same images later, distinct layouts for catch and then practice trials, and
last a seeded random tie-break.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import numpy as np
from scipy.optimize import linear_sum_assignment

from crnkit_common.responses import PAIRED, REAL_FAKE
from study.imagesets import StudySets
from study.spec import StudySpec

Coverage = Mapping[tuple[str, str, str], int]
_MAX_DEFICIT = 10
_KINDS = ("test", "catch", "practice")  # in order of priority for distinct layouts


@dataclass(frozen=True)
class PlannedTrial:
    """One trial of a participant's list; `position` is 0-based over all trials."""

    position: int
    kind: str
    comparison: str
    image_id: str
    method_a: str
    method_b: str
    left_method: str
    right_method: str
    exposure: str
    task: str = PAIRED

    @property
    def coverage_key(self) -> tuple[str, str, str]:
        """(cell, exposure, image id) counted in the `coverage` table for test trials."""
        shown = None if self.task == PAIRED else self.left_method
        return (_cell_name(self.comparison, shown), self.exposure, self.image_id)


def _cell_name(comparison: str, shown: str | None) -> str:
    # Single-image cells are "<task id>:<set shown>"; ids cannot contain ":" (SAFE_NAME).
    return comparison if shown is None else f"{comparison}:{shown}"


@dataclass(frozen=True)
class _Slot:
    """A trial still without an image: its kind, cell, the pair of sets and the set shown."""

    kind: str
    comparison: str
    exposure: str
    method_a: str
    method_b: str
    shown: str | None = None  # single-image trials: the set whose image is shown
    task: str = PAIRED

    @property
    def cell(self) -> tuple[str, str]:
        """The key of this slot's cell: (comparison or "<task>:<shown>", exposure)."""
        return (_cell_name(self.comparison, self.shown), self.exposure)


def plan_participant(
    spec: StudySpec,
    sets: StudySets,
    coverage: Coverage,
    seed: int,
    condition: str | None = None,
) -> list[PlannedTrial]:
    """Plan practice, test and catch trials for one participant (seeded by spec.seed and seed).

    With a `condition`, only that condition's comparisons and real-or-fake tasks are planned.
    """
    if seed < 0:
        raise ValueError(f"participant seed must be non-negative, got {seed}")
    spec = spec.for_condition(condition)
    rng = np.random.default_rng([spec.seed, seed])
    test = _test_slots(spec, sets, coverage, rng) + _real_fake_slots(spec)
    catch = _extra_slots(spec, "catch")
    practice = _extra_slots(spec, "practice")
    slots = test + catch + practice
    images = _assign_images(slots, spec, sets, coverage, rng)
    trials = list(zip(slots, images, _sides(slots, rng), strict=True))
    test_trials, catch_trials = trials[: len(test)], trials[len(test) : len(test) + len(catch)]
    practice_trials = trials[len(test) + len(catch) :]
    order = practice_trials + _interleave(test_trials, catch_trials, rng)
    return [_planned(i, slot, image, a_left) for i, (slot, image, a_left) in enumerate(order)]


def trials_per_cell(
    spec: StudySpec, sets: StudySets, coverage: Coverage, rng: np.random.Generator
) -> dict[tuple[str, str], int]:
    """Test trials per cell: an equal share each, the remainder to the least-covered cells."""
    cells = spec.cells()
    if not cells:
        return {}
    base, extra = divmod(spec.trials_per_participant, len(cells))
    counts = {cell: base for cell in cells}
    if extra:
        means = []
        for comp_id, exposure in cells:
            ids = sets.ids_for(spec.comparison(comp_id))
            total = sum(coverage.get((comp_id, exposure, i), 0) for i in ids)
            means.append(total / len(ids))
        ties = rng.random(len(cells))
        for index in np.lexsort((ties, np.asarray(means)))[:extra]:
            counts[cells[index]] += 1
    return counts


def _test_slots(spec, sets, coverage, rng) -> list[_Slot]:
    counts = trials_per_cell(spec, sets, coverage, rng)
    slots = []
    for comp in spec.comparisons:
        for exposure in comp.exposures:
            slot = _Slot("test", comp.id, exposure, comp.a, comp.b)
            slots += [slot] * counts[(comp.id, exposure)]
    return slots


def _real_fake_slots(spec: StudySpec) -> list[_Slot]:
    """Half of each task's trials show a real photo, half a generated image."""
    slots = []
    for task in spec.real_fake:
        for shown in (task.real, task.method):
            slot = _Slot("test", task.id, task.exposure, task.method, task.real, shown, task.task)
            slots += [slot] * (task.trials // 2)
    return slots


def _extra_slots(spec: StudySpec, kind: str) -> list[_Slot]:
    part = spec.catch if kind == "catch" else spec.practice
    if part is None:
        return []
    a, b = (part.real, part.bad) if kind == "catch" else (part.a, part.b)
    if part.task == PAIRED:
        return [_Slot(kind, kind, part.exposure, a, b)] * part.trials
    if kind == "catch":  # a single catch image is an obviously bad one: the answer is "fake"
        return [_Slot(kind, kind, part.exposure, a, b, b, REAL_FAKE)] * part.trials
    first = [_Slot(kind, kind, part.exposure, a, b, a, REAL_FAKE)] * (
        part.trials - part.trials // 2
    )
    return first + [_Slot(kind, kind, part.exposure, a, b, b, REAL_FAKE)] * (part.trials // 2)


@dataclass
class _Cell:
    """Per-plan state of one cell (or the catch/practice block): its pool as column indices."""

    cols: np.ndarray
    where: dict[int, int]  # column -> index in the pool
    coverage: np.ndarray  # test trials already assigned in the database, per pool image
    rank: np.ndarray  # preferred order, per pool image
    own: np.ndarray  # times this participant already got each pool image here


def _cells(slots, spec, sets, coverage, column) -> dict[tuple[str, str], _Cell]:
    ranks = _cell_ranks(spec, sets)
    cells = {}
    for slot in slots:
        key = slot.cell
        if key in cells:
            continue
        pool = sets.ids_for((slot.method_a, slot.method_b))
        cols = np.array([column[i] for i in pool], dtype=np.intp)
        test = slot.kind == "test"
        cov = [coverage.get((*key, i), 0) for i in pool] if test else [0] * len(pool)
        rank = [ranks[key][i] for i in pool] if test else [0] * len(pool)
        cells[key] = _Cell(
            cols,
            {int(c): p for p, c in enumerate(cols)},
            np.array(cov, dtype=float),
            np.array(rank, dtype=float),
            np.zeros(len(pool)),
        )
    return cells


def _assign_images(
    slots: Sequence[_Slot], spec: StudySpec, sets: StudySets, coverage: Coverage, rng
) -> list[str]:
    """Choose an image id per slot by repeated minimum-cost matchings (one id once per round)."""
    all_ids = sorted({i for s in slots for i in sets.ids_for((s.method_a, s.method_b))})
    n_ids = len(all_ids)
    cells = _cells(slots, spec, sets, coverage, {i: j for j, i in enumerate(all_ids)})
    weights = _weights(slots, n_ids)
    chosen: list[str | None] = [None] * len(slots)
    uses = np.zeros(n_ids)
    while remaining := [k for k, image in enumerate(chosen) if image is None]:
        cost = np.full((len(remaining), n_ids + len(remaining)), np.inf)
        per_cell: dict[tuple[str, str], np.ndarray] = {}
        for row, k in enumerate(remaining):
            slot = slots[k]
            key = slot.cell
            if key not in per_cell:
                per_cell[key] = _cell_costs(cells[key], slot.kind, uses, weights)
            cost[row, cells[key].cols] = per_cell[key]
            cost[row, n_ids + row] = weights["defer"][_KINDS.index(slot.kind)]
        cost[:, :n_ids] += rng.random((len(remaining), n_ids))
        for row, col in zip(*linear_sum_assignment(cost), strict=True):
            if col < n_ids:
                k = remaining[row]
                cell = cells[slots[k].cell]
                chosen[k] = all_ids[col]
                uses[col] += 1
                cell.own[cell.where[int(col)]] += 1
    return [image for image in chosen if image is not None]


def _cell_ranks(spec: StudySpec, sets: StudySets) -> dict[tuple[str, str], dict[str, int]]:
    """Per cell, a preferred order of its images: one study-wide permutation, rotated per cell.

    Cells that walk through their images in orders offset from each other keep wanting different
    images at the same time, so later participants can still get unseen layouts in every cell.
    """
    cells = cell_pools(spec, sets)
    union = sorted({i for pool in cells.values() for i in pool})
    order = [union[k] for k in np.random.default_rng([spec.seed]).permutation(len(union))]
    step = max(1, len(union) // len(cells))
    ranks = {}
    for index, (key, pool) in enumerate(cells.items()):
        members = set(pool)
        rotated = order[index * step :] + order[: index * step]
        ranks[key] = {i: r for r, i in enumerate(x for x in rotated if x in members)}
    return ranks


def cell_pools(spec: StudySpec, sets: StudySets) -> dict[tuple[str, str], list[str]]:
    """Every test cell (paired comparison × exposure, real-or-fake task × set shown): its pool."""
    cells = {
        (comp_id, exp): sets.ids_for(spec.comparison(comp_id)) for comp_id, exp in spec.cells()
    }
    for task in spec.real_fake:
        pool = sets.ids_for((task.method, task.real))
        for shown in (task.real, task.method):
            cells[(_cell_name(task.id, shown), task.exposure)] = pool
    return cells


def _weights(slots: Sequence[_Slot], n_ids: int) -> dict:
    """Cost units that make the matching rank its goals lexicographically (see module doc).

    Each unit exceeds the largest total the lower goals can reach over all slots; the random
    tie-break adds less than 1 per slot.
    """
    kinds = Counter(slot.kind for slot in slots)
    n_slots, n_test = len(slots), kinds["test"]
    practice = n_slots + 1.0
    catch = kinds["practice"] * practice + n_slots + 1.0
    rank = kinds["catch"] * catch + kinds["practice"] * practice + n_slots + 1.0
    gap = n_test * n_ids * rank + 1.0
    repeat = _MAX_DEFICIT**2 * n_test * gap + 1.0
    return {
        "rank": rank,
        "gap": gap,
        "same_cell": repeat * (n_slots + 1),
        "repeat": repeat,
        "defer": (repeat, catch, practice),
        "scale": (1.0, catch / repeat, practice / repeat),
    }


def _cell_costs(cell: _Cell, kind: str, uses: np.ndarray, weights: dict) -> np.ndarray:
    """Costs of each pool image for a slot of this cell: repeats; for tests, coverage and rank."""
    penalty = weights["repeat"] * uses[cell.cols] + weights["same_cell"] * cell.own
    penalty -= penalty.min()  # relative to the best this slot can do, so a round always progresses
    cost = penalty * weights["scale"][_KINDS.index(kind)]
    if kind == "test":
        cov = cell.own + cell.coverage
        cost += weights["gap"] * np.minimum(cov - cov.min(), _MAX_DEFICIT) ** 2
        cost += weights["rank"] * cell.rank
    return cost


def _sides(slots: Sequence[_Slot], rng) -> list[bool]:
    """Whether method_a goes left, per slot: halves per cell, odd ones alternated per comparison."""
    a_left = [False] * len(slots)
    by_cell: dict[tuple[str, str], list[int]] = {}
    for k, slot in enumerate(slots):
        if slot.shown is None:
            by_cell.setdefault(slot.cell, []).append(k)
    odd: dict[str, list[int]] = {}
    for (comparison, _), members in by_cell.items():
        members = list(rng.permutation(members))
        for k in members[: len(members) // 2]:
            a_left[k] = True
        if len(members) % 2:
            odd.setdefault(comparison, []).append(int(members[-1]))
    for members in odd.values():
        start = bool(rng.integers(2))
        for n, k in enumerate(rng.permutation(members)):
            a_left[int(k)] = start ^ bool(n % 2)
    return a_left


def _interleave(test: list, catch: list, rng) -> list:
    """Test trials in random order, catch trials inserted at random gaps after the first test."""
    test = [test[int(k)] for k in rng.permutation(len(test))]
    if not catch:
        return test
    gaps = np.arange(1, len(test) + 1)
    picked = rng.choice(gaps, size=len(catch), replace=len(catch) > len(gaps))
    out = list(test)
    for gap, trial in sorted(zip(picked.tolist(), catch, strict=True), key=lambda p: -p[0]):
        out.insert(gap, trial)
    return out


def _planned(position: int, slot: _Slot, image_id: str, a_left: bool) -> PlannedTrial:
    left, right = (slot.method_a, slot.method_b) if a_left else (slot.method_b, slot.method_a)
    if slot.shown is not None:
        left = right = slot.shown
    return PlannedTrial(
        position=position,
        kind=slot.kind,
        comparison=slot.comparison,
        image_id=image_id,
        method_a=slot.method_a,
        method_b=slot.method_b,
        left_method=left,
        right_method=right,
        exposure=slot.exposure,
        task=slot.task,
    )
