"""Cluster bootstraps: equal to a plain loop given the same draws, seeded, and ~95 % coverage."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from scipy.special import expit, logit

from analysis.bootstrap import (
    BootstrapConfig,
    bootstrap_intervals,
    cluster_weights,
    clustered_rates,
    percentile_interval,
    strata_members,
    twoway_rates,
)
from analysis.errors import AnalysisInputError
from analysis.rates import rate_table


def _data(rng, n=400, people=15, images=9, cells=3):
    return (
        rng.integers(0, people, n),
        rng.integers(0, images, n),
        rng.integers(0, cells, n),
        (rng.random(n) < 0.7).astype(float),
    )


def test_cluster_weights_draw_within_strata():
    rng = np.random.default_rng(0)
    strata = np.array([0, 0, 0, 1, 1])
    w = cluster_weights(rng, strata_members(strata), 5, 1000)
    assert w.shape == (1000, 5)
    assert (w[:, :3].sum(axis=1) == 3).all() and (w[:, 3:].sum(axis=1) == 2).all()
    assert w.mean(axis=0) == pytest.approx(np.ones(5), abs=0.1)


def test_clustered_rates_equal_a_plain_loop_with_the_same_draws():
    rng = np.random.default_rng(1)
    person, _, cell, y = _data(rng)
    cfg = BootstrapConfig(n_resamples=50, seed=7, batch=20)
    fast = clustered_rates(person, cell, y, 3, np.zeros(15, int), cfg)
    draw_rng = np.random.default_rng(7)
    members = strata_members(np.zeros(15, int))
    slow = []
    for size in (20, 20, 10):
        for weights in cluster_weights(draw_rng, members, 15, size):
            w = weights[person]  # each judgment counts as often as its participant was drawn
            slow.append([(w * y)[cell == c].sum() / w[cell == c].sum() for c in range(3)])
    assert fast == pytest.approx(np.array(slow))


def test_twoway_rates_equal_a_plain_loop_with_the_same_draws():
    rng = np.random.default_rng(2)
    person, image, cell, y = _data(rng)
    cfg = BootstrapConfig(n_resamples=30, seed=3, batch=30)
    fast = twoway_rates(person, image, cell, y, 3, np.zeros(15, int), np.zeros(9, int), cfg)
    draw_rng = np.random.default_rng(3)
    w = cluster_weights(draw_rng, strata_members(np.zeros(15, int)), 15, 30)
    v = cluster_weights(draw_rng, strata_members(np.zeros(9, int)), 9, 30)
    slow = []
    for r in range(30):
        weight = w[r, person] * v[r, image]
        slow.append([(weight * y)[cell == c].sum() / weight[cell == c].sum() for c in range(3)])
    assert fast == pytest.approx(np.array(slow), rel=1e-5)


def test_same_seed_same_intervals_and_other_seed_differs(export_csv):
    from analysis.exclusions import apply_exclusions
    from analysis.load import load_responses

    kept = apply_exclusions(load_responses([export_csv]).frame).kept
    cells = rate_table(kept)
    a = bootstrap_intervals(kept, cells, BootstrapConfig(n_resamples=200, seed=1))
    b = bootstrap_intervals(kept, cells, BootstrapConfig(n_resamples=200, seed=1))
    c = bootstrap_intervals(kept, cells, BootstrapConfig(n_resamples=200, seed=2))
    pd.testing.assert_frame_equal(a, b)
    assert not a.equals(c)
    assert (a["boot_p_lo"] <= cells["rate"]).all() and (cells["rate"] <= a["boot_p_hi"]).all()
    # Adding image-level resampling can only widen intervals on average.
    width_p = (a["boot_p_hi"] - a["boot_p_lo"]).mean()
    assert (a["boot_pi_hi"] - a["boot_pi_lo"]).mean() > width_p


def test_config_is_checked():
    with pytest.raises(AnalysisInputError, match="at least 2"):
        BootstrapConfig(n_resamples=1)
    with pytest.raises(AnalysisInputError, match="between 0 and 1"):
        BootstrapConfig(level=95)


def test_percentile_interval_skips_empty_resamples():
    draws = np.array([[0.1, np.nan], [0.2, np.nan], [0.3, np.nan]])
    lo, hi = percentile_interval(draws, 0.5)
    assert lo[0] == pytest.approx(0.15) and hi[0] == pytest.approx(0.25)
    assert np.isnan(lo[1]) and np.isnan(hi[1])


def _participant_studies(rng, studies, people, per_person, mean):
    # Participant-level variation: each person's own rate ~ Beta(mean * 6, (1 - mean) * 6),
    # an intraclass correlation of 1/7, so judgments of one person are not independent.
    own = rng.beta(mean * 6, (1 - mean) * 6, size=(studies, people))
    y = (rng.random((studies, people, per_person)) < own[..., None]).astype(float)
    person = np.broadcast_to(np.arange(studies * people).reshape(studies, people, 1), y.shape)
    cell = np.broadcast_to(np.arange(studies).reshape(studies, 1, 1), y.shape)
    return person.ravel(), cell.ravel(), y.ravel()


def test_participant_bootstrap_covers_about_95_percent_where_wilson_does_not():
    from crnkit_common.proportions import independent_intervals as proportion_intervals

    rng = np.random.default_rng(2024)
    studies, people, per_person, truth = 200, 30, 10, 0.7
    person, cell, y = _participant_studies(rng, studies, people, per_person, truth)
    # Every simulated study is its own cell and stratum, so one call bootstraps all of them.
    strata = np.repeat(np.arange(studies), people)
    cfg = BootstrapConfig(n_resamples=400, seed=5)
    lo, hi = percentile_interval(clustered_rates(person, cell, y, studies, strata, cfg), 0.95)
    coverage = np.mean((lo <= truth) & (truth <= hi))
    assert 0.90 <= coverage <= 0.99
    k = np.bincount(cell, weights=y).astype(int)
    n = people * per_person
    wilson = [proportion_intervals(kk, n) for kk in k]
    naive = np.mean([w["wilson_lo"] <= truth <= w["wilson_hi"] for w in wilson])
    assert naive < 0.88  # treating correlated judgments as independent undercovers


def test_twoway_bootstrap_covers_about_95_percent_with_image_effects():
    rng = np.random.default_rng(7)
    people, images, per_person, sd = 25, 20, 12, 0.6
    effects = rng.normal(0, sd, size=(2, 1_000_000))
    truth = expit(logit(0.7) + effects[0] + effects[1]).mean()  # population-average rate
    cfg = BootstrapConfig(n_resamples=300, seed=9)
    hits = 0
    for _ in range(200):
        u, v = rng.normal(0, sd, people), rng.normal(0, sd, images)
        person = np.repeat(np.arange(people), per_person)
        image = np.concatenate([rng.choice(images, per_person, replace=False) for _ in u])
        y = (rng.random(person.size) < expit(logit(0.7) + u[person] + v[image])).astype(float)
        cell = np.zeros(person.size, dtype=np.int64)
        draws = twoway_rates(
            person, image, cell, y, 1, np.zeros(people, int), np.zeros(images, int), cfg
        )
        lo, hi = percentile_interval(draws, 0.95)
        hits += bool(lo[0] <= truth <= hi[0])
    assert 0.90 <= hits / 200 <= 0.995
