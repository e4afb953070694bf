"""Trial scheduling: balance across participants, within a participant, and determinism."""

from __future__ import annotations

from collections import Counter

import pytest
from study_helpers import make_image_sets, study_document, write_study_toml

from study.imagesets import load_study_sets
from study.scheduler import plan_participant
from study.spec import load_spec


def _study(tmp_path, n_ids=12, trials=12, exposures=(125, 1000, "unlimited"), extra=2):
    sets = make_image_sets(tmp_path / "sets", n_ids)
    doc = study_document(sets, tmp_path, trials_per_participant=trials)
    for comp in doc["comparisons"]:
        comp["exposures"] = list(exposures)
    doc["practice"]["trials"] = doc["catch"]["trials"] = extra
    spec = load_spec(write_study_toml(tmp_path / "study.toml", doc))
    return spec, load_study_sets(spec)


def _simulate(spec, sets, participants):
    coverage: Counter = Counter()
    plans = []
    for seed in range(participants):
        plan = plan_participant(spec, sets, coverage, seed)
        for trial in plan:
            if trial.kind == "test":
                coverage[(trial.comparison, trial.exposure, trial.image_id)] += 1
        plans.append(plan)
    return coverage, plans


def _spread(spec, sets, coverage) -> int:
    counts = [
        coverage[(comp.id, exposure, image_id)]
        for comp in spec.comparisons
        for exposure in comp.exposures
        for image_id in sets.ids_for(comp)
    ]
    return max(counts) - min(counts)


@pytest.mark.parametrize(
    ("n_ids", "trials", "exposures"),
    [(12, 12, (125, 1000, "unlimited")), (12, 10, (125, 1000, "unlimited")), (20, 14, (250, 500))],
)
def test_every_cell_and_image_is_covered_evenly(tmp_path, n_ids, trials, exposures):
    spec, sets = _study(tmp_path, n_ids, trials, exposures)
    coverage: Counter = Counter()
    for seed in range(60):
        for trial in plan_participant(spec, sets, coverage, seed):
            if trial.kind == "test":
                coverage[(trial.comparison, trial.exposure, trial.image_id)] += 1
        assert _spread(spec, sets, coverage) <= 1, f"after participant {seed}"
    assert sum(coverage.values()) == 60 * trials


def test_trial_list_shape_and_positions(tmp_path):
    spec, sets = _study(tmp_path)
    plan = plan_participant(spec, sets, {}, 3)
    assert [t.position for t in plan] == list(range(16))
    assert [t.kind for t in plan[:2]] == ["practice", "practice"]
    assert Counter(t.kind for t in plan) == {"test": 12, "catch": 2, "practice": 2}
    assert plan[2].kind == "test", "a catch trial never comes first among the test trials"
    cells = Counter((t.comparison, t.exposure) for t in plan if t.kind == "test")
    assert cells == {cell: 2 for cell in spec.cells()}
    for trial in plan:
        assert {trial.left_method, trial.right_method} == {trial.method_a, trial.method_b}
        if trial.kind == "catch":
            assert (trial.comparison, trial.method_a, trial.method_b) == (
                "catch",
                "real",
                "blurred",
            )
        if trial.kind == "practice":
            assert (trial.method_a, trial.method_b, trial.exposure) == (
                "real",
                "blurred",
                "unlimited",
            )
        if trial.kind == "test":
            comp = spec.comparison(trial.comparison)
            assert (trial.method_a, trial.method_b) == (comp.a, comp.b)
            assert trial.image_id in sets.ids_for(comp)


def test_no_layout_is_shown_twice_when_the_sets_allow(tmp_path):
    spec, sets = _study(tmp_path, n_ids=20, trials=12)
    _, plans = _simulate(spec, sets, 30)
    for plan in plans:
        ids = [t.image_id for t in plan]
        assert len(ids) == len(set(ids)) == 16


def test_test_layouts_stay_distinct_before_catch_and_practice(tmp_path):
    spec, sets = _study(tmp_path, n_ids=12, trials=12)
    _, plans = _simulate(spec, sets, 20)
    for plan in plans:
        test_ids = [t.image_id for t in plan if t.kind == "test"]
        assert len(set(test_ids)) == 12
        assert len({t.image_id for t in plan}) == 12, "16 trials over 12 layouts: 4 repeats"


def test_left_right_balanced_per_comparison(tmp_path):
    spec, sets = _study(tmp_path, n_ids=20, trials=18, exposures=(125, 1000, "unlimited"))
    _, plans = _simulate(spec, sets, 20)
    a_left_total = Counter()
    for plan in plans:
        per_comp: Counter = Counter()
        totals: Counter = Counter()
        for trial in plan:
            totals[trial.comparison] += 1
            per_comp[trial.comparison] += trial.left_method == trial.method_a
        for comparison, n in totals.items():
            assert per_comp[comparison] in (n // 2, (n + 1) // 2), comparison
        a_left_total.update(per_comp)
    # 9 test trials per comparison (3 per cell): odd, so the extra side alternates by participant
    assert 20 * 9 // 2 - 20 <= a_left_total["crn_vs_pix2pix"] <= 20 * 9 // 2 + 20


def test_exactly_balanced_when_parity_allows(tmp_path):
    spec, sets = _study(tmp_path, n_ids=20, trials=12)
    plan = plan_participant(spec, sets, {}, 11)
    for cell in spec.cells():
        trials = [t for t in plan if (t.comparison, t.exposure) == cell]
        assert sum(t.left_method == t.method_a for t in trials) == 1 == len(trials) // 2


def test_catch_positions_vary_and_never_come_first(tmp_path):
    spec, sets = _study(tmp_path, n_ids=20, trials=12, extra=3)
    _, plans = _simulate(spec, sets, 40)
    positions = Counter()
    for plan in plans:
        block = plan[3:]
        assert block[0].kind == "test"
        positions.update(k for k, t in enumerate(block) if t.kind == "catch")
    assert len(positions) >= 8, "catch trials land at many different positions"


def test_same_inputs_same_list_and_seeds_differ(tmp_path):
    spec, sets = _study(tmp_path)
    coverage = {("crn_vs_real", "125", "img03"): 2}
    first = plan_participant(spec, sets, coverage, 5)
    assert plan_participant(spec, sets, dict(coverage), 5) == first
    assert plan_participant(spec, sets, coverage, 6) != first


def test_least_covered_images_come_first(tmp_path):
    spec, sets = _study(tmp_path, n_ids=12, trials=6, exposures=("unlimited",))
    ids = sets.ids_for(spec.comparisons[0])
    coverage = {("crn_vs_pix2pix", "unlimited", i): 5 for i in ids}
    coverage.update({("crn_vs_pix2pix", "unlimited", i): 4 for i in ids[:3]})
    plan = plan_participant(spec, sets, coverage, 0)
    chosen = {t.image_id for t in plan if t.comparison == "crn_vs_pix2pix"}
    assert chosen == set(ids[:3])


def test_few_layouts_repeat_but_never_within_a_cell(tmp_path):
    spec, sets = _study(tmp_path, n_ids=3, trials=12, exposures=("unlimited",))
    plan = plan_participant(spec, sets, {}, 0)
    for comparison in ("crn_vs_pix2pix", "crn_vs_real"):
        ids = Counter(t.image_id for t in plan if t.comparison == comparison)
        assert sorted(ids.values()) == [2, 2, 2], "6 trials over 3 layouts: each twice"


def test_negative_participant_seed_is_refused(tmp_path):
    spec, sets = _study(tmp_path)
    with pytest.raises(ValueError, match="non-negative"):
        plan_participant(spec, sets, {}, -1)
