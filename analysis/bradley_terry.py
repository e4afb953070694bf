"""The Bradley-Terry model: Firth-penalised fits (one or a stack) and profile intervals.

P(i preferred to j) = 1 / (1 + exp(-(s_i - s_j))) (Bradley & Terry 1952). The maximum
likelihood estimate exists only when the win graph is strongly connected (Zermelo 1929; Ford
1957): a method that never lost (or never won) has an infinite ML strength. The fits here
maximise the likelihood penalised by Jeffreys' prior, l(s) + 1/2 log det I(s) (Firth 1993),
whose estimates are finite for every connected design (Kosmidis & Firth 2021) and differ from
ML by O(1/n) when ML exists. For Bradley-Terry, I(s) is the Laplacian of the comparison graph
weighted by n_ij p_ij (1 - p_ij), so log det I is the log of its weighted spanning-tree count
and its gradient involves the effective resistances R_ij of that graph.

Profile intervals (Heinze & Schemper 2002): for method i, the set of values v of its centred
strength whose profile penalised log-likelihood lies within c / 2 of the maximum, with
c = scale * chi2_1(level); `scale` > 1 widens the interval for clustered judgments.
"""

from __future__ import annotations

import numpy as np
from scipy.optimize import brentq, minimize
from scipy.sparse.csgraph import connected_components
from scipy.special import expit, log_expit
from scipy.stats import chi2

DEFAULT_RIDGE = 1e-6  # only fixes the offset between parts of a disconnected bootstrap resample
EPS = 1e-9  # keeps log det finite if a resample disconnects the comparison graph
PROFILE_REACH = 40.0  # a profile end further than this from the estimate is reported as infinite


def information(theta: np.ndarray, totals: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Fisher information (..., M, M) at `theta` for pair totals n_ij, and P(i beats j)."""
    p = expit(theta[..., :, None] - theta[..., None, :])
    weight = totals * p * (1 - p)
    lap = -weight + np.eye(weight.shape[-1]) * weight.sum(axis=-1)[..., None, :]
    return lap, p


def _jeffreys(theta: np.ndarray, totals: np.ndarray) -> tuple[float, np.ndarray]:
    """1/2 log det I (gauge-fixed) and its gradient, summed over a stack."""
    m = theta.shape[-1]
    lap, p = information(theta, totals)
    shifted = lap + (np.ones((m, m)) / m) + EPS * np.eye(m)
    _, logdet = np.linalg.slogdet(shifted)
    plus = np.linalg.inv(shifted) - np.ones((m, m)) / m
    diag = np.einsum("...ii->...i", plus)
    resistance = diag[..., :, None] + diag[..., None, :] - 2 * plus
    grad = 0.5 * (totals * p * (1 - p) * (1 - 2 * p) * resistance).sum(axis=-1)
    return 0.5 * float(logdet.sum()), grad


def penalised_nll(
    theta: np.ndarray, wins: np.ndarray, ridge: float, firth: bool
) -> tuple[float, np.ndarray]:
    """Negative (Jeffreys-penalised) log-likelihood of a stack of problems, and its gradient."""
    diff = theta[..., :, None] - theta[..., None, :]
    nll = -float((wins * log_expit(diff)).sum()) + 0.5 * ridge * float((theta * theta).sum())
    # d/ds_i of -w_ij log sigma(s_i - s_j) is -w_ij (1 - sigma); the same enters s_j with +.
    g = wins * expit(-diff)
    grad = -g.sum(axis=-1) + g.sum(axis=-2) + ridge * theta
    if firth:
        penalty, pgrad = _jeffreys(theta, wins + np.swapaxes(wins, -1, -2))
        nll, grad = nll - penalty, grad - pgrad
    return nll, grad


def _flat_objective(flat, wins, ridge, firth):
    nll, grad = penalised_nll(flat.reshape(wins.shape[:-1]), wins, ridge, firth)
    return nll, grad.ravel()


def _scoring(wins: np.ndarray, theta: np.ndarray, ridge: float, max_iter: int = 100):
    """Modified Fisher scoring (Kosmidis & Firth 2010) on a stack; (theta, converged)."""
    m = wins.shape[-1]
    totals = wins + np.swapaxes(wins, -1, -2)
    gauge = np.ones((m, m)) / m + ridge * np.eye(m)
    for _ in range(max_iter):
        _, grad = penalised_nll(theta, wins, ridge, True)
        lap, _ = information(theta, totals)
        step = np.linalg.solve(lap + gauge, -grad[..., None])[..., 0]
        # Long steps (a resample far from the start) are shortened to one logit unit.
        size = np.abs(step).max(axis=-1, keepdims=True)
        step = step / np.maximum(1.0, size)
        theta = theta + step
        theta = theta - theta.mean(axis=-1, keepdims=True)
        if size.max() < 1e-9:
            return theta, True
    return theta, False


def fit_bradley_terry(
    wins: np.ndarray,
    ridge: float = DEFAULT_RIDGE,
    start: np.ndarray | None = None,
    firth: bool = True,
) -> np.ndarray:
    """Centred log-strengths from win matrices (..., M, M), wins[i, j] = i preferred to j.

    Firth-penalised by default (finite when a method never loses), solved by modified Fisher
    scoring on the whole stack at once; `firth=False` gives plain (ridge-)maximum likelihood.
    A stack of R matrices (bootstrap resamples) is fitted in one call: the problems share no
    parameters, so minimising the sum of their objectives solves each of them. If scoring has
    not settled, scipy's L-BFGS-B finishes from where it stopped.
    """
    wins = np.asarray(wins, dtype=np.float64)
    shape = wins.shape[:-1]
    x0 = np.zeros(shape) if start is None else np.broadcast_to(start, shape)
    if firth:
        theta, converged = _scoring(wins, np.array(x0, dtype=np.float64), ridge)
        if converged:
            return theta
        x0 = theta
    result = minimize(
        _flat_objective,
        np.ravel(x0),
        args=(wins, ridge, firth),
        jac=True,
        method="L-BFGS-B",
        options={"maxiter": 10_000, "ftol": 1e-15, "gtol": 1e-8},
    )
    theta = result.x.reshape(shape)
    return theta - theta.mean(axis=-1, keepdims=True)


def is_connected(wins: np.ndarray) -> bool:
    """Whether every method is linked to every other through compared pairs."""
    n_components, _ = connected_components((wins + wins.T) > 0, directed=False)
    return n_components == 1


def win_components(wins: np.ndarray) -> np.ndarray:
    """Strongly connected component of each method in the graph "i beat j at least once"."""
    _, labels = connected_components(wins > 0, directed=True, connection="strong")
    return labels


def _profile_value(wins: np.ndarray, index: int, value: float, start: np.ndarray) -> float:
    """Max penalised log-likelihood with method `index`'s centred strength fixed at `value`.

    `start` (the unconstrained estimate) is updated in place with the solution, so the next
    value along the same profile starts close to its own.
    """
    m = wins.shape[0]
    rest = np.delete(np.arange(m), index)

    def expand(phi: np.ndarray) -> np.ndarray:
        theta = np.empty(m)
        theta[rest] = phi
        theta[index] = (m * value + phi.sum()) / (m - 1)
        return theta

    def objective(phi: np.ndarray) -> tuple[float, np.ndarray]:
        nll, grad = penalised_nll(expand(phi), wins, 0.0, True)
        return nll, grad[rest] + grad[index] / (m - 1)

    result = minimize(objective, start[rest], jac=True, method="BFGS", options={"gtol": 1e-6})
    start[rest] = result.x
    return -float(result.fun)


def profile_interval(
    wins: np.ndarray, theta: np.ndarray, index: int, level: float, scale: float = 1.0
) -> tuple[float, float]:
    """Profile penalised-likelihood interval of one method's centred strength (may be +-inf)."""
    wins = np.asarray(wins, dtype=np.float64)
    top = -penalised_nll(theta, wins, 0.0, True)[0]
    cut = scale * float(chi2.ppf(level, 1))
    centre = float(theta[index])
    warm = np.array(theta, dtype=np.float64)

    def excess(v: float) -> float:
        return 2 * (top - _profile_value(wins, index, v, warm)) - cut

    ends = []
    for direction in (-1.0, 1.0):
        step, end = 0.5, float(direction * np.inf)
        warm[:] = theta
        while step <= PROFILE_REACH:
            far = centre + direction * step
            if excess(far) > 0:
                near = centre + direction * step / 2 if step > 0.5 else centre
                end = float(brentq(excess, near, far, xtol=1e-3))
                break
            step *= 2
        ends.append(end)
    return ends[0], ends[1]
