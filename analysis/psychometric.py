"""A two-alternative psychometric function of log exposure, fitted by maximum likelihood.

    P(x) = 0.5 + (a - 0.5) * F((x - m) / s),   x = log2(exposure ms),   F = logistic

0.5 is the chance level of a two-alternative forced choice, reached at very short exposures.
`a` in [0, 1] is the asymptote at long exposures (below 0.5 when the method loses once people
see the images well), `m` the exposure (log2 ms) at which preference has moved halfway from
chance to `a`, and `s` > 0 the spread (doublings of exposure per logistic unit). This is the
usual psychometric function with a fixed guess rate and a free upper asymptote (Wichmann &
Hill 2001; Kingdom & Prins 2016, ch. 4), with the "lapse" replaced by a free asymptote that may
lie on either side of chance. The logistic is chosen over the Weibull because in log exposure
it is symmetric about `m`, so the halfway exposure is a parameter (its interval is the
parameter's) and `a` and `m` keep their meaning when the curve falls instead of rising; the
two shapes differ far less than sampling error over the exposures a study tests (Wichmann &
Hill 2001).

Maximum likelihood on binomial counts per exposure, inside bounds: a in [0, 1], m within four
doublings of the tested range, s between 0.1 and the tested range. Many problems (bootstrap
resamples, starting points) are fitted at once by Levenberg-Marquardt-damped Fisher scoring
with the analytic score and information (`fit_stack`); the point estimate is the best of a
grid of starts, polished and checked by `scipy.optimize.minimize` (L-BFGS-B) (`fit_curve`).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from scipy.optimize import minimize
from scipy.special import expit, xlogy

CHANCE = 0.5
EDGE = 1e-12  # probabilities are kept this far from 0 and 1 inside the logarithms
M_MARGIN = 4.0  # doublings beyond the tested exposures allowed for the halfway point
S_MIN = 0.1


@dataclass(frozen=True)
class CurveBounds:
    """Bounds of the halfway point m and spread s (both log2 ms) for one set of exposures."""

    m_lo: float
    m_hi: float
    s_lo: float
    s_hi: float

    def as_list(self, problems: int) -> list[tuple[float, float]]:
        """L-BFGS-B bounds for `problems` stacked (a, m, s) triples."""
        one = [(0.0, 1.0), (self.m_lo, self.m_hi), (self.s_lo, self.s_hi)]
        return one * problems

    def at_m_bound(self, m: np.ndarray) -> np.ndarray:
        """Whether m sits on (within 1e-3 of) either of its bounds."""
        return (np.abs(m - self.m_lo) < 1e-3) | (np.abs(m - self.m_hi) < 1e-3)


def curve_bounds(x: np.ndarray) -> CurveBounds:
    """Bounds for tested log2 exposures `x`: m within 4 doublings, s from 0.1 to the range."""
    lo, hi = float(np.min(x)), float(np.max(x))
    return CurveBounds(lo - M_MARGIN, hi + M_MARGIN, S_MIN, max(hi - lo, 2 * S_MIN))


def curve(params: np.ndarray, x: np.ndarray) -> np.ndarray:
    """P(x) for parameter rows (..., 3) = (a, m, s) at log2 exposures x: shape (..., len(x))."""
    params = np.asarray(params, dtype=np.float64)
    a, m, s = (params[..., i, None] for i in range(3))
    return CHANCE + (a - CHANCE) * expit((np.asarray(x) - m) / s)


def _score_info(theta: np.ndarray, n: np.ndarray, k: np.ndarray, x: np.ndarray):
    """Negative log-likelihood (R,), score (R, 3) and expected information (R, 3, 3)."""
    a, m, s = (theta[:, i, None] for i in range(3))
    z = (x - m) / s
    f = expit(z)
    p = np.clip(CHANCE + (a - CHANCE) * f, EDGE, 1 - EDGE)
    slope = (a - CHANCE) * f * (1 - f)
    jac = np.stack([f, -slope / s, -slope * z / s], axis=-1)  # dp / d(a, m, s): (R, E, 3)
    var = p * (1 - p)
    nll = -(xlogy(k, p) + xlogy(n - k, 1 - p)).sum(axis=1)
    score = np.einsum("re,rei->ri", (k - n * p) / var, jac)
    info = np.einsum("re,rei,rej->rij", n / var, jac, jac)
    return nll, score, info


def _nll(theta: np.ndarray, n: np.ndarray, k: np.ndarray, x: np.ndarray) -> np.ndarray:
    a, m, s = (theta[:, i, None] for i in range(3))
    p = np.clip(CHANCE + (a - CHANCE) * expit((x - m) / s), EDGE, 1 - EDGE)
    return -(xlogy(k, p) + xlogy(n - k, 1 - p)).sum(axis=1)


def _free_step(theta, score, info, damping, lower, upper) -> np.ndarray:
    """Damped Fisher-scoring step with parameters held at a bound they are pushed against."""
    held = ((theta <= lower) & (score < 0)) | ((theta >= upper) & (score > 0))
    diag = np.einsum("rii->ri", info)
    # Marquardt scaling, with a floor so that a parameter the data barely inform (m of a
    # step-like curve between two exposures) is damped too instead of jumping to its bound.
    scale = np.maximum(diag, 1e-3 * diag.mean(axis=1, keepdims=True) + 1e-12)
    system = info + (damping[:, None] * scale)[:, :, None] * np.eye(3)
    keep = ~held
    system = system * keep[:, :, None] * keep[:, None, :] + np.eye(3) * held[:, :, None]
    step = np.linalg.solve(system, (score * keep)[..., None])[..., 0]
    return np.clip(theta + step, lower, upper)


def fit_stack(
    n: np.ndarray,
    k: np.ndarray,
    x: np.ndarray,
    start: np.ndarray,
    bounds: CurveBounds,
    max_iter: int = 300,
) -> tuple[np.ndarray, np.ndarray]:
    """ML (a, m, s) rows (R, 3) for R problems of counts n, k (R, E); and which converged.

    Levenberg-Marquardt-damped Fisher scoring run on all problems at once (a parameter pushed
    against its bound is held there), so thousands of bootstrap refits take a fraction of a
    second; `fit_curve` checks the point estimate with scipy.
    """
    n = np.asarray(n, dtype=np.float64)
    k = np.asarray(k, dtype=np.float64)
    x = np.asarray(x, dtype=np.float64)
    theta = np.array(np.broadcast_to(start, (n.shape[0], 3)), dtype=np.float64)
    lower = np.array([0.0, bounds.m_lo, bounds.s_lo])
    upper = np.array([1.0, bounds.m_hi, bounds.s_hi])
    theta = np.clip(theta, lower, upper)
    damping = np.full(n.shape[0], 1e-3)
    done = np.zeros(n.shape[0], dtype=bool)
    for _ in range(max_iter):
        act = np.flatnonzero(~done)  # only problems still moving are computed
        if act.size == 0:
            break
        nll, score, info = _score_info(theta[act], n[act], k[act], x)
        trial = _free_step(theta[act], score, info, damping[act], lower, upper)
        gain = nll - _nll(trial, n[act], k[act], x)
        better = gain > 0
        theta[act[better]] = trial[better]
        damping[act] = np.where(better, damping[act] / 4, damping[act] * 8)
        done[act] = (np.abs(gain) <= 1e-10 * (1 + np.abs(nll))) | (damping[act] > 1e12)
    return theta, done


def starting_points(n: np.ndarray, k: np.ndarray, x: np.ndarray, bounds: CurveBounds):
    """A small grid of starts (a from the longest exposures, m across the range, two spreads)."""
    tail = slice(-2, None)
    a0 = float(np.clip((k[tail].sum() + 0.5) / (n[tail].sum() + 1), 0.02, 0.98))
    ms = np.quantile(x, [0.2, 0.5, 0.8])
    spreads = [min(0.5, bounds.s_hi), min(1.5, bounds.s_hi)]
    return np.array([(a, m, s) for a in (a0, 1 - a0) for m in ms for s in spreads])


def _objective(flat: np.ndarray, n: np.ndarray, k: np.ndarray, x: np.ndarray):
    nll, score, _ = _score_info(flat.reshape(1, 3), n[None], k[None], x)
    return float(nll[0]), -score[0]


def fit_curve(n: np.ndarray, k: np.ndarray, x: np.ndarray) -> tuple[np.ndarray, bool]:
    """ML (a, m, s) for counts n, k at log2 exposures x, and whether the fit converged.

    Every start of a small grid is fitted at once; the best is then polished and checked by
    `scipy.optimize.minimize` (L-BFGS-B within the bounds).
    """
    n = np.asarray(n, dtype=np.float64)
    k = np.asarray(k, dtype=np.float64)
    x = np.asarray(x, dtype=np.float64)
    bounds = curve_bounds(x)
    starts = starting_points(n, k, x, bounds)
    reps = len(starts)
    fits, _ = fit_stack(np.tile(n, (reps, 1)), np.tile(k, (reps, 1)), x, starts, bounds)
    best = fits[np.argmin(_nll(fits, np.tile(n, (reps, 1)), np.tile(k, (reps, 1)), x))]
    result = minimize(
        _objective,
        best,
        args=(n, k, x),
        jac=True,
        method="L-BFGS-B",
        bounds=bounds.as_list(1),
        options={"maxiter": 2000, "ftol": 1e-13, "gtol": 1e-6},
    )
    return result.x, bool(result.success) or _stationary(result.x, n, k, x, bounds)


def _stationary(theta: np.ndarray, n: np.ndarray, k: np.ndarray, x: np.ndarray, bounds) -> bool:
    """Whether the score vanishes except where a bound holds a parameter (line-search stops)."""
    _, score, _ = _score_info(theta[None], n[None], k[None], x)
    lower = np.array([0.0, bounds.m_lo, bounds.s_lo])
    upper = np.array([1.0, bounds.m_hi, bounds.s_hi])
    held = ((theta <= lower) & (score[0] < 0)) | ((theta >= upper) & (score[0] > 0))
    return bool(np.all(held | (np.abs(score[0]) < 1e-4 * (1 + n.sum()))))
