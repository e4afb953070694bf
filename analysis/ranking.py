"""Bradley-Terry rankings of all methods of a study, with participant-clustered intervals.

Model (Bradley & Terry 1952): P(i preferred to j) = 1 / (1 + exp(-(s_i - s_j))). Strengths s
are maximum-likelihood estimates found with `scipy.optimize.minimize` (L-BFGS-B, analytic
gradient) under a tiny ridge penalty, which keeps them finite when a method wins every
comparison and centres them (sum s = 0). Intervals: percentile bootstrap over participants.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
from scipy.optimize import minimize
from scipy.sparse.csgraph import connected_components
from scipy.special import expit, log_expit

from analysis.bootstrap import BootstrapConfig, cluster_weights, percentile_interval, strata_members
from analysis.schema import PARTICIPANT_KEYS

DEFAULT_RIDGE = 1e-3


def _objective(flat: np.ndarray, wins: np.ndarray, ridge: float) -> tuple[float, np.ndarray]:
    theta = flat.reshape(wins.shape[:-1])
    diff = theta[..., :, None] - theta[..., None, :]
    nll = -float((wins * log_expit(diff)).sum()) + 0.5 * ridge * float((theta * theta).sum())
    # d/ds_i of -w_ij log sigma(s_i - s_j) is -w_ij (1 - sigma); the same enters s_j with +.
    g = wins * expit(-diff)
    grad = -g.sum(axis=-1) + g.sum(axis=-2) + ridge * theta
    return nll, grad.ravel()


def fit_bradley_terry(
    wins: np.ndarray, ridge: float = DEFAULT_RIDGE, start: np.ndarray | None = None
) -> np.ndarray:
    """Centred log-strengths from win matrices (..., M, M), wins[i, j] = i preferred to j.

    A stack of R matrices (bootstrap resamples) is fitted in one call: the problems share no
    parameters, so minimising the sum of their objectives solves each of them.
    """
    wins = np.asarray(wins, dtype=np.float64)
    shape = wins.shape[:-1]
    x0 = np.zeros(shape) if start is None else np.broadcast_to(start, shape)
    result = minimize(
        _objective,
        np.ravel(x0),
        args=(wins, ridge),
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


def _pair_counts(rows: pd.DataFrame, methods: list[str]) -> tuple[np.ndarray, np.ndarray, int]:
    """Per participant x ordered (winner, loser) pair counts, and participant strata."""
    index = {m: i for i, m in enumerate(methods)}
    winner = rows["chosen_method"].map(index).to_numpy()
    other = np.where(rows["chose_a"].to_numpy() == 1, rows["method_b"], rows["method_a"])
    loser = pd.Series(other, index=rows.index).map(index).to_numpy()
    people = rows.groupby(PARTICIPANT_KEYS, sort=True).ngroup().to_numpy()
    m = len(methods)
    n_people = int(people.max()) + 1
    flat = people * m * m + winner * m + loser
    counts = np.bincount(flat, minlength=n_people * m * m).reshape(n_people, m * m)
    pkeys = rows[PARTICIPANT_KEYS].drop_duplicates().sort_values(PARTICIPANT_KEYS)
    return counts.astype(np.float32), pd.factorize(pkeys["study_id"])[0], m


def _bootstrap_strengths(
    counts: np.ndarray, strata: np.ndarray, m: int, theta: np.ndarray, cfg: BootstrapConfig
) -> np.ndarray:
    rng = np.random.default_rng(cfg.seed)
    wins = cluster_weights(rng, strata_members(strata), len(strata), cfg.n_resamples) @ counts
    return fit_bradley_terry(wins.reshape(-1, m, m), start=theta)


def rank_methods(judgments: pd.DataFrame, cfg: BootstrapConfig) -> tuple[pd.DataFrame, list[str]]:
    """Bradley-Terry strengths per data set with bootstrap intervals; also notes on gaps."""
    tables, notes = [], []
    for dataset, rows in judgments.groupby("dataset", sort=True):
        methods = sorted(set(rows["method_a"]) | set(rows["method_b"]))
        counts, strata, m = _pair_counts(rows, methods)
        wins = counts.sum(axis=0).reshape(m, m)
        if m < 2 or not is_connected(wins):
            notes.append(f"{dataset}: methods are not all linked by comparisons; no ranking")
            continue
        theta = fit_bradley_terry(wins)
        lo, hi = percentile_interval(_bootstrap_strengths(counts, strata, m, theta, cfg), cfg.level)
        table = pd.DataFrame(
            {
                "dataset": dataset,
                "method": methods,
                "strength": theta,
                "strength_lo": lo,
                "strength_hi": hi,
                "p_beats_average": expit(theta),
                "judgments": (wins.sum(axis=0) + wins.sum(axis=1)).astype(int),
            }
        ).sort_values("strength", ascending=False, kind="stable")
        table.insert(2, "rank", np.arange(1, m + 1))
        tables.append(table)
    columns = ["dataset", "method", "rank", "strength", "strength_lo", "strength_hi"]
    columns += ["p_beats_average", "judgments"]
    out = pd.concat(tables, ignore_index=True) if tables else pd.DataFrame(columns=columns)
    return out, notes
