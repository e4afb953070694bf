"""Parsing of the study.toml tables beyond paired comparisons: real-or-fake tasks (HYPE∞ and
HYPE_time), the staircase rule, timing, post-task questions, conditions and Markdown files.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from crnkit_common.responses import STAIRCASE
from study import spec_schema as sc
from study.spec_extra import TASK_TABLES

# Exposures shorter than two frames of a 60 Hz display cannot be shown reliably.
MIN_STAIRCASE_MS = 34.0
MAX_CELL_KEY = 120  # trial.comparison holds "<task id>:<set name>" in the coverage table


@dataclass(frozen=True)
class RealFakeTask:
    """Single images judged real or fake: `method`'s images mixed 50/50 with `real`'s."""

    id: str
    method: str
    real: str
    exposure: str  # an exposure key, or "staircase"
    trials: int

    @property
    def adaptive(self) -> bool:
        """True for HYPE_time: the exposure follows the staircase."""
        return self.exposure == STAIRCASE

    @property
    def task(self) -> str:
        """The export's `task` value of this task's test rows."""
        return STAIRCASE if self.adaptive else "real_fake"


@dataclass(frozen=True)
class StaircaseSpec:
    """The adaptive rule of HYPE_time tasks (see study.staircase)."""

    start_ms: float
    min_ms: float
    max_ms: float
    correct_to_shorten: int
    wrong_to_lengthen: int
    step_factor: float
    initial_step_factor: float
    threshold_reversals: int


@dataclass(frozen=True)
class TimingSpec:
    """Fixation, mask and answer deadline of every trial."""

    fixation_ms: int
    mask_ms: int
    response_deadline_ms: int


@dataclass(frozen=True)
class QuestionsSpec:
    """Optional questions asked after the last trial."""

    age_band: bool
    vision: bool
    comment: bool

    @property
    def any(self) -> bool:
        """Whether any question is asked."""
        return self.age_band or self.vision or self.comment


@dataclass(frozen=True)
class Condition:
    """A between-participant condition: the comparisons and tasks its participants do."""

    id: str
    tasks: tuple[str, ...]


def read_real_fake(ctx: sc.Context, doc: dict, sets: dict, taken: set[str]) -> tuple:
    """The [[real_fake]] tasks; ids must differ from each other and from comparison ids."""
    raw = doc.get("real_fake")
    if raw is None:
        return ()
    if not isinstance(raw, list) or not all(isinstance(t, dict) for t in raw):
        ctx.add("real_fake", f"expected [[real_fake]] tables, got {sc.show(raw)}")
        return ()
    out = []
    for index, table in enumerate(raw):
        where = f"real_fake[{index}]"
        values = sc.read_values(ctx, table, where, "real_fake", TASK_TABLES["real_fake"])
        if "method" not in values or "real" not in values:
            continue
        for name in ("method", "real"):
            if sets and values[name] not in sets:
                choices = ", ".join(sets)
                ctx.add(
                    f"{where}.{name}",
                    f"expected the name of a set in [sets] ({choices}), got "
                    f"{sc.show(values[name])}",
                )
        if values["method"] == values["real"]:
            ctx.add(where, f'method and real are both "{values["real"]}", expected two sets')
        values.setdefault("id", f"{values['method']}_real_fake")
        task_id = values["id"]
        if task_id in ("catch", "practice"):
            ctx.add(f"{where}.id", f'"{task_id}" is reserved, expected another id')
        elif task_id in taken:
            ctx.add(f"{where}.id", f'duplicate comparison or task id "{task_id}"')
        elif len(task_id) + max(len(values["method"]), len(values["real"])) > MAX_CELL_KEY:
            ctx.add(f"{where}.id", f"expected an id of at most {MAX_CELL_KEY // 2} characters")
        taken.add(task_id)
        if "exposure" in values and "trials" in values:
            out.append(RealFakeTask(**values))
    return tuple(out)


def read_staircase(ctx: sc.Context, doc: dict) -> StaircaseSpec:
    """The [staircase] rule (every key has a default); its range must make sense."""
    values = sc.read_table(ctx, doc, "staircase", TASK_TABLES["staircase"])
    if len(values) < len(TASK_TABLES["staircase"]):
        return StaircaseSpec(**{k.name: k.default for k in TASK_TABLES["staircase"]})
    low, start, high = values["min_ms"], values["start_ms"], values["max_ms"]
    if low < MIN_STAIRCASE_MS:
        ctx.add(
            "staircase.min_ms",
            f"expected at least {MIN_STAIRCASE_MS:g} ms (two frames at 60 Hz), got {low:g}",
        )
    if not low <= start <= high:
        ctx.add(
            "staircase",
            f"expected min_ms ≤ start_ms ≤ max_ms, got {low:g}, {start:g}, {high:g}",
        )
    return StaircaseSpec(**values)


def read_simple(ctx: sc.Context, doc: dict, section: str, cls: type):
    """A table whose keys all have defaults, as dataclass `cls` (defaults when invalid)."""
    values = sc.read_table(ctx, doc, section, TASK_TABLES[section])
    if len(values) < len(TASK_TABLES[section]):
        values = {k.name: k.default for k in TASK_TABLES[section]}
    return cls(**values)


def read_conditions(ctx: sc.Context, doc: dict, task_ids: list[str]) -> tuple[Condition, ...]:
    """The [[conditions]]: each names known tasks, and every task is in some condition."""
    raw = doc.get("conditions")
    if raw is None:
        return ()
    if not isinstance(raw, list) or not raw or not all(isinstance(t, dict) for t in raw):
        ctx.add("conditions", f"expected one or more [[conditions]] tables, got {sc.show(raw)}")
        return ()
    out: list[Condition] = []
    for index, table in enumerate(raw):
        where = f"conditions[{index}]"
        values = sc.read_values(ctx, table, where, "conditions", TASK_TABLES["conditions"])
        if len(values) < 2:
            continue
        if values["id"] in {c.id for c in out}:
            ctx.add(f"{where}.id", f'duplicate condition id "{values["id"]}"')
        for k, task in enumerate(values["tasks"]):
            if task_ids and task not in task_ids:
                known = ", ".join(task_ids)
                ctx.add(
                    f"{where}.tasks[{k}]",
                    f"expected a comparison or real_fake id ({known}), got {sc.show(task)}",
                )
        out.append(Condition(**values))
    used = {task for c in out for task in c.tasks}
    for task in task_ids:
        if out and task not in used:
            ctx.add("conditions", f'"{task}" is in no condition, expected every task in one')
    return tuple(out)


def read_markdown(ctx: sc.Context, where: str, name: str, base_dir: Path) -> str:
    """The text of a Markdown file named in the spec ("" when none is named)."""
    if not name:
        return ""
    path = (base_dir / name).resolve()
    if not path.is_file():
        ctx.add(where, f"file {name} not found (expected a Markdown file beside study.toml)")
        return ""
    try:
        return path.read_text(encoding="utf-8")
    except UnicodeDecodeError:
        ctx.add(where, f"file {name} is not UTF-8 text (expected Markdown)")
        return ""


def default_task_kind(doc: dict) -> str:
    """Practice and catch trials look like the study's test trials unless told otherwise."""
    return "paired" if doc.get("comparisons") else "real_fake"
