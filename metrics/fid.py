"""FID and KID from feature matrices (numpy/scipy only; the features come from metrics.extract).

- FID (Heusel et al. 2017): the Fréchet distance between Gaussians fitted to two feature
  sets, ||mu1 - mu2||^2 + Tr(S1 + S2 - 2 (S1 S2)^(1/2)).
- KID (Bińkowski et al. 2018): the unbiased estimate of the squared MMD with the cubic
  polynomial kernel k(x, y) = (x.y / d + 1)^3, averaged over random subsets; the standard
  deviation of the subset estimates is reported beside it as their standard error.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from scipy import linalg

from crn.errors import UserError

DEFAULT_KID_SUBSETS = 100
MAX_KID_SUBSET_SIZE = 1000


def gaussian_stats(features: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Mean and (n - 1)-normalised covariance of an (n, d) feature matrix, in float64."""
    feats = np.asarray(features, dtype=np.float64)
    if feats.ndim != 2 or feats.shape[0] < 2:
        raise UserError(f"FID needs at least 2 feature vectors, got shape {feats.shape}")
    return feats.mean(axis=0), np.cov(feats, rowvar=False)


def sqrtm_trace(sigma1: np.ndarray, sigma2: np.ndarray) -> float:
    """Tr((S1 S2)^(1/2)) for symmetric PSD S1, S2.

    Computed as the sum of square roots of the eigenvalues of the symmetric PSD matrix
    S1^(1/2) S2 S1^(1/2), which has the same eigenvalues as S1 S2; this avoids the complex
    round-off of a general matrix square root.
    """
    w, v = linalg.eigh(sigma1)
    root1 = (v * np.sqrt(np.clip(w, 0.0, None))) @ v.T
    inner = root1 @ sigma2 @ root1
    eig = linalg.eigvalsh((inner + inner.T) / 2.0)
    return float(np.sqrt(np.clip(eig, 0.0, None)).sum())


def frechet_distance(
    mu1: np.ndarray, sigma1: np.ndarray, mu2: np.ndarray, sigma2: np.ndarray
) -> float:
    """The Fréchet distance between N(mu1, sigma1) and N(mu2, sigma2)."""
    diff = np.asarray(mu1, np.float64) - np.asarray(mu2, np.float64)
    trace = float(np.trace(sigma1) + np.trace(sigma2)) - 2.0 * sqrtm_trace(sigma1, sigma2)
    return float(diff @ diff + trace)


def fid(features1: np.ndarray, features2: np.ndarray) -> float:
    """FID between two (n, d) feature matrices.

    With fewer images than dimensions (the usual case for d = 2048), the covariances are
    S = A^T A with A the centred features / sqrt(n - 1), and Tr((S1 S2)^(1/2)) equals the
    nuclear norm of A1 A2^T (the eigenvalues of S1 S2 are the squared singular values of
    A1 A2^T): exact, and an (n1 × n2) SVD instead of d × d eigendecompositions.
    """
    a1, a2 = _centred(features1), _centred(features2)
    if min(len(a1), len(a2)) > a1.shape[1]:
        return frechet_distance(*gaussian_stats(features1), *gaussian_stats(features2))
    diff = np.asarray(features1, np.float64).mean(0) - np.asarray(features2, np.float64).mean(0)
    nuclear = float(linalg.svdvals(a1 @ a2.T).sum())
    return float(diff @ diff + (a1 * a1).sum() + (a2 * a2).sum() - 2.0 * nuclear)


def _centred(features: np.ndarray) -> np.ndarray:
    """(x - mean) / sqrt(n - 1) in float64, so that its Gram matrix A^T A is the covariance."""
    feats = np.asarray(features, dtype=np.float64)
    if feats.ndim != 2 or feats.shape[0] < 2:
        raise UserError(f"FID needs at least 2 feature vectors, got shape {feats.shape}")
    return (feats - feats.mean(axis=0)) / np.sqrt(feats.shape[0] - 1)


def polynomial_kernel(x: np.ndarray, y: np.ndarray) -> np.ndarray:
    """The KID kernel matrix (x_i . y_j / d + 1)^3."""
    return (x @ y.T / x.shape[1] + 1.0) ** 3


def mmd2_unbiased(x: np.ndarray, y: np.ndarray) -> float:
    """Unbiased squared MMD between samples x (m, d) and y (n, d) with the KID kernel."""
    m, n = len(x), len(y)
    if m < 2 or n < 2:
        raise UserError(f"KID needs at least 2 images per set, got {m} and {n}")
    kxx, kyy, kxy = polynomial_kernel(x, x), polynomial_kernel(y, y), polynomial_kernel(x, y)
    within_x = (kxx.sum() - np.trace(kxx)) / (m * (m - 1))
    within_y = (kyy.sum() - np.trace(kyy)) / (n * (n - 1))
    return float(within_x + within_y - 2.0 * kxy.mean())


@dataclass(frozen=True)
class KID:
    """KID as the mean of subset estimates, their standard deviation, and the design."""

    value: float
    std: float
    subsets: int
    subset_size: int
    estimates: np.ndarray


def default_subset_size(n: int) -> int:
    """min(1000, n // 2): below 2000 images, half the set, so that subsets differ."""
    return max(2, min(MAX_KID_SUBSET_SIZE, n // 2))


def kid(
    x: np.ndarray,
    y: np.ndarray,
    subsets: int = DEFAULT_KID_SUBSETS,
    subset_size: int | None = None,
    seed: int = 0,
) -> KID:
    """KID between feature matrices x and y over `subsets` random subsets (seeded)."""
    x = np.asarray(x, np.float64)
    y = np.asarray(y, np.float64)
    n = min(len(x), len(y))
    size = default_subset_size(n) if subset_size is None else subset_size
    if not 2 <= size <= n:
        raise UserError(f"--kid-subset-size {size}: expected 2..{n} (the smaller set's size)")
    if subsets < 2:
        raise UserError(f"--kid-subsets {subsets}: need at least 2 subsets")
    rng = np.random.default_rng(seed)
    estimates = np.empty(subsets)
    for i in range(subsets):
        xi = x[rng.choice(len(x), size, replace=False)]
        yi = y[rng.choice(len(y), size, replace=False)]
        estimates[i] = mmd2_unbiased(xi, yi)
    return KID(float(estimates.mean()), float(estimates.std(ddof=1)), subsets, size, estimates)
