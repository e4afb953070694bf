"""The image sets a study uses: loaded once, checked together (ids, sizes, kinds, hashes)."""

from __future__ import annotations

from dataclasses import dataclass, field

from crn.errors import UserError
from crn.imageset import ImageSet, load_imageset, set_digest
from study.spec import Comparison, StudySpec

Pair = tuple[str, str]


@dataclass(frozen=True)
class StudySets:
    """The loaded image sets of a study, keyed by their name in [sets]."""

    sets: dict[str, ImageSet]
    _shared: dict[Pair, list[str]] = field(default_factory=dict, repr=False, compare=False)

    def ids_for(self, comparison_or_pair: Comparison | Pair) -> list[str]:
        """Sorted image ids shared by the two sets of a comparison (or a pair of set names)."""
        pair = _pair(comparison_or_pair)
        if pair not in self._shared:
            first, second = (self.sets[name] for name in pair)
            self._shared[pair] = sorted(set(first.images) & set(second.images))
        return list(self._shared[pair])

    def digest(self, name: str) -> str:
        """Content digest of set `name` (see `set_digest`)."""
        return set_digest(self.sets[name])


def _pair(comparison_or_pair: Comparison | Pair) -> Pair:
    if isinstance(comparison_or_pair, Comparison):
        return comparison_or_pair.pair
    first, second = comparison_or_pair
    return (first, second)


def used_pairs(spec: StudySpec) -> dict[str, Pair]:
    """Every pair of sets the study shows together, keyed by where the spec names it."""
    pairs = {f"comparison {c.id}": c.pair for c in spec.comparisons}
    pairs |= {f"real_fake {t.id}": (t.method, t.real) for t in spec.real_fake}
    if spec.practice:
        pairs["practice"] = (spec.practice.a, spec.practice.b)
    if spec.catch:
        pairs["catch"] = (spec.catch.real, spec.catch.bad)
    return pairs


def study_set_problems(spec: StudySpec, verify: bool = True) -> tuple[StudySets, list[str]]:
    """Load the study's sets and list every problem (unloadable, ids, sizes, kinds, hashes)."""
    sets: dict[str, ImageSet] = {}
    problems: list[str] = []
    for name, folder in spec.sets.items():
        try:
            sets[name] = load_imageset(folder)
        except UserError as err:
            problems.append(f"set {name}: {err}")
    study_sets = StudySets(sets)
    for where, (first, second) in used_pairs(spec).items():
        if first not in sets or second not in sets:
            continue
        size_a, size_b = sets[first].size, sets[second].size
        if size_a != size_b:
            problems.append(
                f"{where}: sets {first} and {second} differ in size "
                f"({size_a[0]}x{size_a[1]} vs {size_b[0]}x{size_b[1]}), expected the same"
            )
        if not study_sets.ids_for((first, second)):
            problems.append(f"{where}: sets {first} and {second} share no image ids")
    if spec.catch and spec.catch.bad in sets and sets[spec.catch.bad].kind != "catch":
        kind = sets[spec.catch.bad].kind
        problems.append(f"catch.bad: set {spec.catch.bad} has kind '{kind}', expected 'catch'")
    if verify:
        for name, iset in sets.items():
            problems += [f"set {name}: {msg}" for msg in iset.verify()]
    return study_sets, problems


def load_study_sets(spec: StudySpec, verify: bool = True) -> StudySets:
    """Load and check the study's image sets; raise UserError listing every problem."""
    study_sets, problems = study_set_problems(spec, verify=verify)
    if problems:
        if len(problems) == 1:
            raise UserError(problems[0])
        raise UserError(f"{len(problems)} problems with the image sets: " + "; ".join(problems))
    return study_sets
