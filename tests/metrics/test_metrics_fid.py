"""FID and KID formulas against independent computations and known Gaussians."""

from __future__ import annotations

import itertools

import numpy as np
import pytest
from scipy import linalg

from crn.errors import UserError
from metrics.fid import (
    default_subset_size,
    fid,
    frechet_distance,
    gaussian_stats,
    kid,
    mmd2_unbiased,
)


def random_spd(rng: np.random.Generator, d: int) -> np.ndarray:
    a = rng.normal(size=(d, d))
    return a @ a.T + 0.1 * np.eye(d)


def test_frechet_distance_of_diagonal_gaussians_is_the_closed_form():
    mu1, mu2 = np.array([0.0, 1.0, 2.0]), np.array([1.0, 1.0, 0.0])
    var1, var2 = np.array([1.0, 4.0, 9.0]), np.array([4.0, 1.0, 1.0])
    # For commuting covariances: ||mu1 - mu2||^2 + sum (sqrt(v1) - sqrt(v2))^2.
    expected = 1.0 + 0.0 + 4.0 + (1 - 2) ** 2 + (2 - 1) ** 2 + (3 - 1) ** 2
    got = frechet_distance(mu1, np.diag(var1), mu2, np.diag(var2))
    assert got == pytest.approx(expected, abs=1e-10)


def test_frechet_distance_matches_a_general_matrix_square_root():
    rng = np.random.default_rng(0)
    s1, s2 = random_spd(rng, 6), random_spd(rng, 6)
    mu1, mu2 = rng.normal(size=6), rng.normal(size=6)
    # Independent route: scipy's general sqrtm of the non-symmetric product S1 S2.
    covmean = np.real(linalg.sqrtm(s1 @ s2))
    expected = np.sum((mu1 - mu2) ** 2) + np.trace(s1 + s2 - 2 * covmean)
    assert frechet_distance(mu1, s1, mu2, s2) == pytest.approx(expected, rel=1e-8)
    assert frechet_distance(mu1, s1, mu1, s1) == pytest.approx(0.0, abs=1e-8)


def test_fid_of_samples_approaches_the_distance_of_their_gaussians():
    rng = np.random.default_rng(1)
    s1, s2 = random_spd(rng, 3), random_spd(rng, 3)
    mu1, mu2 = np.zeros(3), np.array([1.0, -2.0, 0.5])
    x = rng.multivariate_normal(mu1, s1, size=200_000)
    y = rng.multivariate_normal(mu2, s2, size=200_000)
    truth = frechet_distance(mu1, s1, mu2, s2)
    assert fid(x, y) == pytest.approx(truth, rel=0.02)


def test_fid_with_fewer_images_than_dimensions_equals_the_covariance_route():
    rng = np.random.default_rng(7)
    x, y = rng.normal(size=(12, 40)), rng.normal(0.2, 1.5, size=(9, 40))
    expected = frechet_distance(*gaussian_stats(x), *gaussian_stats(y))
    # The eigen route loses ~1e-8 on the rank-deficient covariances (square roots of ~0).
    assert fid(x, y) == pytest.approx(expected, rel=1e-6)


def test_gaussian_stats_use_the_unbiased_covariance():
    x = np.array([[0.0, 1.0], [2.0, 3.0], [4.0, 8.0]])
    mu, sigma = gaussian_stats(x)
    assert mu == pytest.approx([2.0, 4.0])
    assert sigma[0, 0] == pytest.approx(4.0) and sigma[1, 1] == pytest.approx(13.0)


def loop_mmd2(x: np.ndarray, y: np.ndarray) -> float:
    """The unbiased MMD^2 with k(a, b) = (a.b/d + 1)^3, as plain O(n^2) loops."""
    d = x.shape[1]

    def k(a, b):
        return (sum(float(p) * float(q) for p, q in zip(a, b, strict=True)) / d + 1.0) ** 3

    m, n = len(x), len(y)
    xx = sum(k(x[i], x[j]) for i, j in itertools.permutations(range(m), 2)) / (m * (m - 1))
    yy = sum(k(y[i], y[j]) for i, j in itertools.permutations(range(n), 2)) / (n * (n - 1))
    xy = sum(k(a, b) for a in x for b in y) / (m * n)
    return xx + yy - 2 * xy


def test_unbiased_mmd_matches_a_direct_double_loop():
    rng = np.random.default_rng(2)
    x, y = rng.normal(size=(7, 4)), rng.normal(0.5, 1.2, size=(9, 4))
    assert mmd2_unbiased(x, y) == pytest.approx(loop_mmd2(x, y), rel=1e-10)


def test_kid_is_the_mean_of_subset_estimates_and_reports_their_spread():
    rng = np.random.default_rng(3)
    x, y = rng.normal(size=(30, 5)), rng.normal(0.3, 1.0, size=(30, 5))
    result = kid(x, y, subsets=6, subset_size=10, seed=4)
    # Redraw the same subsets and compute each estimate with the loop.
    draw = np.random.default_rng(4)
    loops = []
    for _ in range(6):
        xi = x[draw.choice(30, 10, replace=False)]
        yi = y[draw.choice(30, 10, replace=False)]
        loops.append(loop_mmd2(xi, yi))
    assert result.estimates == pytest.approx(loops, rel=1e-10)
    assert result.value == pytest.approx(np.mean(loops))
    assert result.std == pytest.approx(np.std(loops, ddof=1))
    assert (result.subsets, result.subset_size) == (6, 10)


def test_kid_standard_error_tracks_the_spread_of_independent_samples():
    # The std over subsets of size s estimates the sampling SD of a size-s estimate.
    rng = np.random.default_rng(5)
    fresh = [
        mmd2_unbiased(rng.normal(size=(50, 4)), rng.normal(0.4, 1.0, size=(50, 4)))
        for _ in range(300)
    ]
    x, y = rng.normal(size=(2000, 4)), rng.normal(0.4, 1.0, size=(2000, 4))
    result = kid(x, y, subsets=300, subset_size=50, seed=0)
    assert result.std == pytest.approx(np.std(fresh, ddof=1), rel=0.25)
    assert result.value == pytest.approx(np.mean(fresh), rel=0.25)


def test_kid_of_one_distribution_is_near_zero():
    rng = np.random.default_rng(6)
    x, y = rng.normal(size=(400, 8)), rng.normal(size=(400, 8))
    result = kid(x, y, subsets=50, seed=0)
    assert abs(result.value) < 3 * result.std / np.sqrt(5)


def test_default_subset_size_and_bad_designs():
    assert default_subset_size(24) == 12 and default_subset_size(10_000) == 1000
    x = np.zeros((10, 3))
    with pytest.raises(UserError, match=r"--kid-subset-size 11: expected 2\.\.10"):
        kid(x, x, subset_size=11)
    with pytest.raises(UserError, match="at least 2 subsets"):
        kid(x, x, subsets=1)
    with pytest.raises(UserError, match="at least 2 feature vectors"):
        fid(np.zeros((1, 3)), x)
