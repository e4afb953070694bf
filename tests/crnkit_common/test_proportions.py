"""The headline crossed interval and test: golden numbers by hand, edge cases, and coverage."""

from __future__ import annotations

import numpy as np
import pytest
from scipy import stats
from scipy.special import expit, logit

from analysis.errors import AnalysisInputError
from crnkit_common.proportions import (
    crossed_design,
    crossed_proportion,
    crossed_rates,
    effective_df,
    independent_intervals,
    two_way_variance,
    variance_components,
)

# A small unbalanced crossed design: 4 people, 3 images, one repeated pair.
PEOPLE = np.array([0, 0, 0, 1, 1, 2, 2, 2, 3, 3, 3, 3])
IMAGES = np.array([0, 1, 2, 0, 1, 0, 1, 2, 0, 1, 2, 2])
CHOICE = np.array([1, 1, 0, 1, 0, 1, 1, 1, 0, 1, 0, 1], dtype=float)


def _hand_two_way(y, people, images):
    """Two-way cluster-robust variance, each cluster's total scaled by 1 / (1 - n_g / n)."""
    n, e = len(y), y - y.mean()

    def sum_sq(keys):
        totals, sizes = {}, {}
        for key, r in zip(keys, e, strict=True):
            totals[key] = totals.get(key, 0.0) + r
            sizes[key] = sizes.get(key, 0) + 1
        return sum(t * t / (1 - sizes[k] / n) for k, t in totals.items()) / n**2

    pairs = list(zip(people.tolist(), images.tolist(), strict=True))
    return sum_sq(people.tolist()) + sum_sq(images.tolist()) - sum_sq(pairs)


def test_equal_clusters_give_the_usual_small_sample_factor():
    # With equal clusters 1 / (1 - n_g / n) is G / (G - 1), the CR1 factor.
    people, images = np.repeat(np.arange(4), 6), np.tile(np.arange(6), 4)
    y = np.array([1, 0, 1, 1, 0, 1, 1, 1, 1, 0, 1, 1, 0, 0, 1, 0, 1, 0, 1, 1, 1, 1, 1, 0.0])
    e, n = y - y.mean(), 24
    v_p = (np.bincount(people, e) ** 2).sum() / n**2 * 4 / 3
    v_i = (np.bincount(images, e) ** 2).sum() / n**2 * 6 / 5
    v_pair = (e**2).sum() / n**2 * n / (n - 1)
    assert two_way_variance(y, crossed_design(people, images))[0] == pytest.approx(
        v_p + v_i - v_pair
    )


def test_two_way_variance_matches_the_formula_by_hand():
    design = crossed_design(PEOPLE, IMAGES)
    variance, fallback = two_way_variance(CHOICE, design)
    assert fallback is None
    assert variance == pytest.approx(_hand_two_way(CHOICE, PEOPLE, IMAGES), rel=1e-12)


def test_interval_is_the_logit_t_interval_of_that_variance():
    est = crossed_proportion(CHOICE, PEOPLE, IMAGES)
    design = crossed_design(PEOPLE, IMAGES)
    df = effective_df(variance_components(CHOICE, design), design)
    rate = 8 / 12
    se = np.sqrt(_hand_two_way(CHOICE, PEOPLE, IMAGES))
    se_logit = se / (rate * (1 - rate))
    centre = logit(rate) - (2 * rate - 1) * se_logit**2 / 2  # delta-method bias removed
    half = stats.t.ppf(0.975, df) * se_logit
    assert (est.rate, est.df, est.se) == pytest.approx((rate, df, se))
    assert (est.lo, est.hi) == pytest.approx((expit(centre - half), expit(centre + half)))
    t = centre / se_logit
    assert est.p_value == pytest.approx(2 * stats.t.sf(t, df))
    assert (est.n, est.n_participants, est.n_images) == (12, 4, 3)


def test_the_test_rejects_exactly_when_the_null_is_outside_the_interval():
    rng = np.random.default_rng(3)
    for _ in range(40):
        people = rng.integers(0, 8, 120)
        images = rng.integers(0, 15, 120)
        y = (rng.random(120) < rng.uniform(0.3, 0.8)).astype(float)
        est = crossed_proportion(y, people, images)
        assert (est.p_value < 0.05) == (not est.lo <= 0.5 <= est.hi)


def test_moment_components_are_unbiased_on_a_linear_model():
    # y = mu + a_p + b_i + e with known variances: the moment equations recover them on average.
    rng = np.random.default_rng(0)
    people = np.repeat(np.arange(60), rng.integers(5, 25, 60))
    images = rng.integers(0, 40, people.size)
    design = crossed_design(people, images)
    draws = [
        variance_components(
            rng.normal(0, 0.3, 60)[people]
            + rng.normal(0, 0.2, 40)[images]
            + rng.normal(0, 0.5, people.size),
            design,
        )
        for _ in range(300)
    ]
    assert np.mean(draws, axis=0) == pytest.approx([0.09, 0.04, 0.25], rel=0.12)


def test_effective_df_falls_with_unequal_participants():
    # Participant effects only: df follows (sum n_p^2)^2 / sum n_p^4 - 1, the effective clusters.
    sizes = np.array([2, 2, 2, 2, 40, 40])
    people = np.repeat(np.arange(6), sizes)
    images = np.arange(people.size) % 50
    df = effective_df(np.array([1.0, 0.0, 0.0]), crossed_design(people, images))
    expected = (sizes**2).sum() ** 2 / (sizes**4).sum() - 1
    assert df == pytest.approx(expected, rel=0.05)
    balanced = effective_df(
        np.array([1.0, 0.0, 0.0]), crossed_design(np.arange(60) // 10, images[:60])
    )
    assert balanced == pytest.approx(5.0, rel=0.05)


def test_no_variation_gives_the_exact_interval_counting_units_once():
    est = crossed_proportion(np.ones(60), np.arange(60) % 6, np.arange(60) % 20)
    exact = stats.binomtest(6, 6).proportion_ci(method="exact")
    assert (est.lo, est.hi) == pytest.approx((exact.low, 1.0))
    assert est.p_value == pytest.approx(stats.binomtest(6, 6).pvalue)
    assert "no variation" in est.note


def test_one_participant_is_said_not_estimated():
    est = crossed_proportion(np.array([1, 0, 1.0]), np.zeros(3), np.arange(3))
    assert np.isnan(est.lo) and np.isnan(est.p_value)
    assert est.note == "only one participant: no interval"


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"level": 1.5}, "confidence level 1.5"),
        ({"null": 0.0}, "null rate 0.0"),
    ],
)
def test_bad_arguments_are_one_line_errors(kwargs, message):
    with pytest.raises(AnalysisInputError, match=message):
        crossed_proportion(CHOICE, PEOPLE, IMAGES, **kwargs)
    with pytest.raises(AnalysisInputError, match="equally long"):
        crossed_proportion(CHOICE, PEOPLE[:3], IMAGES)


def test_crossed_rates_groups_and_keys_clusters_by_several_columns():
    import pandas as pd

    frame = pd.DataFrame(
        {
            "cell": ["a"] * 12 + ["b"] * 12,
            "study": ["s"] * 24,
            "person": np.concatenate([PEOPLE, PEOPLE]),
            "image": np.concatenate([IMAGES, IMAGES]),
            "y": np.concatenate([CHOICE, 1 - CHOICE]),
        }
    )
    table = crossed_rates(frame, ["cell"], "y", ["study", "person"], "image")
    assert list(table["cell"]) == ["a", "b"]
    assert table["rate"].tolist() == pytest.approx([8 / 12, 4 / 12])
    assert table.loc[0, "se"] == pytest.approx(table.loc[1, "se"])


def test_independent_intervals_are_scipys():
    got = independent_intervals(97, 100)
    test = stats.binomtest(97, 100)
    assert got["wilson_lo"] == pytest.approx(test.proportion_ci(method="wilson").low)
    assert got["cp_hi"] == pytest.approx(test.proportion_ci(method="exact").high)
    assert got["p_binomial"] == pytest.approx(test.pvalue)


def test_coverage_holds_where_wilson_fails():
    # 30 people x 20 judgments on 40 images, people and images differ (logit SDs 0.8, 0.5).
    from analysis.pilot import CrossedModel, intercept_for, simulate_crossed

    model = CrossedModel(intercept_for(0.8, 0.8, 0.5), 0.8, 0.5)
    rng = np.random.default_rng(7)
    hits = {"crossed": 0, "wilson": 0}
    studies = 200
    for _ in range(studies):
        y, people, images = simulate_crossed(rng, model, 30, 40, np.full(30, 20))
        est = crossed_proportion(y, people, images)
        wilson = independent_intervals(int(y.sum()), y.size)
        hits["crossed"] += est.lo <= 0.8 <= est.hi
        hits["wilson"] += wilson["wilson_lo"] <= 0.8 <= wilson["wilson_hi"]
    assert 0.91 <= hits["crossed"] / studies <= 0.99
    assert hits["wilson"] / studies < 0.8
