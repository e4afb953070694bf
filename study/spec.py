"""Contract 4: `study.toml` parsed into frozen dataclasses, with errors naming key and expectation.

Every table's keys are declared once in `SCHEMA` (type, default, documentation): the parser and
`spec_reference_markdown()` (which writes docs/study-spec.md) both read it, so they cannot drift.
"""

from __future__ import annotations

import dataclasses
import hashlib
import tomllib
from dataclasses import asdict, dataclass, field, fields
from pathlib import Path
from typing import Any

from crn.errors import UserError
from study import spec_schema as sc
from study import spec_tasks as st
from study.spec_extra import EXTRA_KEYS, TASK_TABLES
from study.spec_tasks import Condition, QuestionsSpec, RealFakeTask, StaircaseSpec, TimingSpec

UNLIMITED = sc.UNLIMITED
PLATFORMS = ("local", "prolific", "mturk")
RESERVED_COMPARISONS = ("catch", "practice")


class SpecError(UserError):
    """One or more problems in a study spec; `problems` lists them all, one line each."""

    def __init__(self, problems: list[str]):
        self.problems = list(problems)
        if len(self.problems) == 1:
            message = self.problems[0]
        else:
            message = f"{len(self.problems)} problems: " + "; ".join(self.problems)
        super().__init__(message)


def exposure_ms(key: str) -> int | None:
    """Milliseconds of an exposure key ("125" -> 125), None for "unlimited"."""
    return None if key == UNLIMITED else int(key)


@dataclass(frozen=True)
class Comparison:
    """A pair of image sets compared at some exposures; `a` is the method whose rate is reported."""

    id: str
    a: str
    b: str
    exposures: tuple[str, ...]

    @property
    def pair(self) -> tuple[str, str]:
        """The two set names, `a` first."""
        return (self.a, self.b)


@dataclass(frozen=True)
class PracticeSpec:
    """Practice trials shown first, with feedback; `a` is the correct answer."""

    trials: int
    a: str
    b: str
    exposure: str
    feedback: bool
    task: str = "paired"


@dataclass(frozen=True)
class CatchSpec:
    """Sentinel trials: a real photo against an obviously bad image."""

    trials: int
    real: str
    bad: str
    exposure: str
    task: str = "paired"


@dataclass(frozen=True)
class ExclusionSpec:
    """The exclusion rule analysis applies by default (exported in study.json)."""

    min_catch_accuracy: float
    min_response_ms: int
    exclude_timing_failures: bool
    exclude_focus_lost: bool
    require_complete: bool


@dataclass(frozen=True)
class PlatformSpec:
    """Where participants come from and how they are sent back."""

    kind: str
    completion_code: str
    mturk_sandbox: bool
    exclude_studies: tuple[str, ...]


@dataclass(frozen=True)
class DisplaySpec:
    """How images are shown: CSS size per image, minimum window, fullscreen, breaks."""

    width: int
    height: int
    min_window_width: int
    min_window_height: int
    fullscreen: bool
    break_every: int
    max_scale: float = 1.0
    allow_mobile: bool = False


@dataclass(frozen=True)
class StudySpec:
    """A validated study spec; `sets` holds absolute folders, `sha256` hashes the file's bytes."""

    id: str
    title: str
    dataset: str
    instructions: str
    question: str
    trials_per_participant: int
    seed: int
    instructions_file: str
    consent_file: str
    sets: dict[str, Path]
    comparisons: tuple[Comparison, ...]
    practice: PracticeSpec | None
    catch: CatchSpec | None
    exclusion: ExclusionSpec
    platform: PlatformSpec
    display: DisplaySpec
    real_fake: tuple[RealFakeTask, ...]
    staircase: StaircaseSpec
    timing: TimingSpec
    questions: QuestionsSpec
    conditions: tuple[Condition, ...]
    instructions_markdown: str
    consent_markdown: str
    sha256: str
    source_text: str
    labels: dict[str, str] = field(default_factory=dict)
    report_order: tuple[str, ...] = ()

    def comparison(self, comparison_id: str) -> Comparison:
        """The comparison with id `comparison_id` (KeyError if there is none)."""
        for comp in self.comparisons:
            if comp.id == comparison_id:
                return comp
        raise KeyError(comparison_id)

    def cells(self) -> list[tuple[str, str]]:
        """Every (comparison id, exposure key) cell, in spec order."""
        return [(comp.id, exp) for comp in self.comparisons for exp in comp.exposures]

    def condition(self, condition_id: str | None) -> Condition | None:
        """The condition with this id; None for None (a study without conditions)."""
        if condition_id is None:
            return None
        for cond in self.conditions:
            if cond.id == condition_id:
                return cond
        raise KeyError(condition_id)

    def for_condition(self, condition_id: str | None) -> StudySpec:
        """This spec reduced to one condition's comparisons and tasks (itself without one)."""
        cond = self.condition(condition_id)
        if cond is None:
            return self
        return dataclasses.replace(
            self,
            comparisons=tuple(c for c in self.comparisons if c.id in cond.tasks),
            real_fake=tuple(t for t in self.real_fake if t.id in cond.tasks),
        )

    @property
    def practice_trials(self) -> int:
        """Number of practice trials per participant."""
        return self.practice.trials if self.practice else 0

    @property
    def catch_trials(self) -> int:
        """Number of catch trials per participant."""
        return self.catch.trials if self.catch else 0

    @property
    def paired_trials(self) -> int:
        """Test trials of the paired comparisons per participant (none without comparisons)."""
        return self.trials_per_participant if self.comparisons else 0

    @property
    def test_trials(self) -> int:
        """Paired plus real-or-fake test trials per participant."""
        return self.paired_trials + sum(t.trials for t in self.real_fake)

    @property
    def total_trials(self) -> int:
        """Practice + test + catch trials per participant (largest over conditions)."""
        tests = [self.for_condition(c.id).test_trials for c in self.conditions]
        return self.practice_trials + max(tests or [self.test_trials]) + self.catch_trials

    def to_dict(self) -> dict[str, Any]:
        """A JSON-able dict of the spec (set paths as strings), for study.json."""
        out: dict[str, Any] = {f.name: getattr(self, f.name) for f in fields(self)}
        del out["source_text"], out["sha256"], out["report_order"]
        out["sets"] = {name: str(path) for name, path in self.sets.items()}
        out["report"] = {"order": list(self.report_order)}
        out["comparisons"] = [
            {**asdict(c), "exposures": list(c.exposures)} for c in self.comparisons
        ]
        for key in ("practice", "catch", "exclusion", "display", "staircase", "timing"):
            value = getattr(self, key)
            out[key] = None if value is None else asdict(value)
        out["questions"] = asdict(self.questions)
        out["real_fake"] = [asdict(t) for t in self.real_fake]
        out["conditions"] = [{"id": c.id, "tasks": list(c.tasks)} for c in self.conditions]
        out["platform"] = {
            **asdict(self.platform),
            "exclude_studies": list(self.platform.exclude_studies),
        }
        return out


# Which dataclass each table builds, so tests can check SCHEMA against the dataclasses.
TABLE_CLASSES: dict[str, type] = {
    "comparisons": Comparison,
    "practice": PracticeSpec,
    "catch": CatchSpec,
    "exclusion": ExclusionSpec,
    "platform": PlatformSpec,
    "display": DisplaySpec,
    "real_fake": RealFakeTask,
    "staircase": StaircaseSpec,
    "timing": TimingSpec,
    "questions": QuestionsSpec,
    "conditions": Condition,
}

# Every table's keys: the original ones, the keys added to them, then the new tables.
SCHEMA: dict[str, tuple[sc.Key, ...]] = {
    **{name: keys + EXTRA_KEYS.get(name, ()) for name, keys in sc.SCHEMA.items()},
    **TASK_TABLES,
}
TOP_LEVEL = (*sc.TOP_LEVEL, *TASK_TABLES)


def load_spec(path: str | Path) -> StudySpec:
    """Read and validate a study.toml; set paths are resolved against its folder."""
    path = Path(path)
    if not path.is_file():
        raise SpecError([f"{path}: not found (expected a study.toml file)"])
    data = path.read_bytes()
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError as err:
        raise SpecError([f"{path}: not UTF-8 text ({err})"]) from None
    return parse_spec(text, path.parent, source_name=str(path))


def parse_spec(text: str, base_dir: str | Path, source_name: str = "study.toml") -> StudySpec:
    """Validate TOML `text` into a StudySpec; raise SpecError listing every problem found."""
    try:
        doc = tomllib.loads(text)
    except tomllib.TOMLDecodeError as err:
        raise SpecError([f"{source_name}: not valid TOML ({err})"]) from None
    base = Path(base_dir)
    ctx = sc.Context(source_name)
    sc.check_unknown(ctx, doc, "", TOP_LEVEL)
    study = sc.read_table(ctx, doc, "study", SCHEMA["study"])
    sets, labels = _read_sets(ctx, doc, base)
    comparisons = _read_comparisons(ctx, doc, sets)
    report = sc.read_table(ctx, doc, "report", SCHEMA["report"])
    _check_order(ctx, report.get("order", ()), sets)
    taken = {c.id for c in comparisons}
    real_fake = st.read_real_fake(ctx, doc, sets, taken)
    if not comparisons and not real_fake and "comparisons" not in doc:
        ctx.add("comparisons", "expected one or more [[comparisons]] or [[real_fake]] tables")
    parts = {
        "practice": _read_optional(ctx, doc, "practice", sets, ("a", "b")),
        "catch": _read_optional(ctx, doc, "catch", sets, ("real", "bad")),
    }
    for values in filter(None, parts.values()):
        values.setdefault("task", st.default_task_kind(doc))
    tables = {name: sc.read_table(ctx, doc, name, SCHEMA[name]) for name in _PLAIN_TABLES}
    task_ids = [c.id for c in comparisons] + [t.id for t in real_fake]
    extra = {"real_fake": real_fake, **_read_extras(ctx, doc, study, base, task_ids)}
    _cross_checks(ctx, tables["platform"])
    if ctx.problems:
        raise SpecError(ctx.problems)
    return StudySpec(
        **study,
        sets=sets,
        comparisons=comparisons,
        practice=PracticeSpec(**parts["practice"]) if parts["practice"] else None,
        catch=CatchSpec(**parts["catch"]) if parts["catch"] else None,
        exclusion=ExclusionSpec(**tables["exclusion"]),
        platform=PlatformSpec(**tables["platform"]),
        display=DisplaySpec(**tables["display"]),
        **extra,
        sha256=hashlib.sha256(text.encode("utf-8")).hexdigest(),
        source_text=text,
        labels=labels,
        report_order=tuple(report.get("order", ())),
    )


_PLAIN_TABLES = ("exclusion", "platform", "display")


def _read_extras(
    ctx: sc.Context, doc: dict, study: dict, base: Path, task_ids: list[str]
) -> dict[str, Any]:
    """The optional sections: staircase, timing, questions, conditions and the Markdown pages."""
    return {
        "staircase": st.read_staircase(ctx, doc),
        "timing": st.read_simple(ctx, doc, "timing", TimingSpec),
        "questions": st.read_simple(ctx, doc, "questions", QuestionsSpec),
        "conditions": st.read_conditions(ctx, doc, task_ids),
        "instructions_markdown": st.read_markdown(
            ctx, "study.instructions_file", study.get("instructions_file", ""), base
        ),
        "consent_markdown": st.read_markdown(
            ctx, "study.consent_file", study.get("consent_file", ""), base
        ),
    }


def _read_sets(ctx: sc.Context, doc: dict, base_dir: Path) -> tuple[dict[str, Path], dict]:
    """Set folders by name, and display labels of sets written as tables."""
    raw = doc.get("sets")
    if raw is None:
        ctx.add("sets", "required table is missing (expected [sets] naming image-set folders)")
        return {}, {}
    if not isinstance(raw, dict):
        ctx.add("sets", f'expected a table of name = "folder", got {sc.show(raw)}')
        return {}, {}
    sets: dict[str, Path] = {}
    labels: dict[str, str] = {}
    for name, value in raw.items():
        where = f"sets.{name}"
        if not sc.SAFE_NAME.match(name):
            ctx.add(where, "expected a set name of letters, digits, '.', '_' or '-'")
            continue
        if isinstance(value, dict):
            entry = sc.read_values(ctx, value, where, "sets", SCHEMA["sets"])
            value = entry.get("path")
            if "label" in entry:
                labels[name] = entry["label"]
        if isinstance(value, str) and value:
            sets[name] = (base_dir / value).resolve()
        elif not isinstance(raw[name], dict):
            expected = 'a folder path as a string, or a table with path = "folder"'
            ctx.add(where, f"expected {expected}, got {sc.show(value)}")
    if len(raw) < 2:
        ctx.add("sets", f"expected at least two image sets, got {len(raw)}")
    return sets, labels


def _check_order(ctx: sc.Context, order: tuple[str, ...], sets: dict) -> None:
    for index, name in enumerate(order):
        if sets and name not in sets:
            choices = ", ".join(sets)
            ctx.add(f"report.order[{index}]", f"expected a set in [sets] ({choices}), got {name!r}")
    if len(set(order)) < len(order):
        ctx.add("report.order", "expected each set once")


def _read_comparisons(ctx: sc.Context, doc: dict, sets: dict) -> tuple[Comparison, ...]:
    raw = doc.get("comparisons")
    if raw is None:
        return ()
    if not isinstance(raw, list) or not raw or not all(isinstance(t, dict) for t in raw):
        got = "nothing" if raw is None else sc.show(raw)
        ctx.add("comparisons", f"expected one or more [[comparisons]] tables, got {got}")
        return ()
    out: list[Comparison] = []
    seen_ids: set[str] = set()
    seen_pairs: set[frozenset[str]] = set()
    for index, table in enumerate(raw):
        where = f"comparisons[{index}]"
        values = sc.read_values(ctx, table, where, "comparisons", SCHEMA["comparisons"])
        if "a" not in values or "b" not in values:
            continue
        _check_pair(ctx, where, values, sets, ("a", "b"))
        values.setdefault("id", f"{values['a']}_vs_{values['b']}")
        if values["id"] in RESERVED_COMPARISONS:
            ctx.add(f"{where}.id", f'"{values["id"]}" is reserved, expected another id')
        elif values["id"] in seen_ids:
            ctx.add(f"{where}.id", f'duplicate comparison id "{values["id"]}"')
        elif frozenset((values["a"], values["b"])) in seen_pairs:
            ctx.add(where, f"duplicate comparison of {values['a']} and {values['b']}")
        seen_ids.add(values["id"])
        seen_pairs.add(frozenset((values["a"], values["b"])))
        if "exposures" in values:
            out.append(Comparison(**values))
    return tuple(out)


def _read_optional(ctx: sc.Context, doc: dict, table: str, sets: dict, names: tuple[str, str]):
    if table not in doc:
        return None
    values = sc.read_table(ctx, doc, table, SCHEMA[table])
    if all(name in values for name in names):
        _check_pair(ctx, table, values, sets, names)
    return values


def _check_pair(ctx: sc.Context, where: str, values: dict, sets: dict, names: tuple[str, str]):
    for name in names:
        if sets and values[name] not in sets:
            choices = ", ".join(sets)
            ctx.add(
                f"{where}.{name}",
                f"expected the name of a set in [sets] ({choices}), got {sc.show(values[name])}",
            )
    if values[names[0]] == values[names[1]]:
        ctx.add(
            where, f'{names[0]} and {names[1]} are both "{values[names[0]]}", expected two sets'
        )


def _cross_checks(ctx: sc.Context, platform: dict) -> None:
    if platform.get("kind") == "prolific" and not platform.get("completion_code"):
        ctx.add("platform.completion_code", 'required for kind = "prolific" (expected a code)')


def spec_reference_markdown() -> str:
    """The reference of every study.toml key, generated from SCHEMA (docs/study-spec.md)."""
    from study.spec_docs import reference_markdown

    return reference_markdown(SCHEMA)
