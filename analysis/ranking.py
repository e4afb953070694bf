"""Bradley-Terry rankings per data set and exposure stratum, with intervals that stay honest.

- Strata: one ranking per data set x exposure ("unlimited" and each timed exposure on its own).
  Pooling exposures would rank a method by where it happened to be compared: a set compared
  mostly at long exposures (as `real` usually is) looks stronger than one compared at 125 ms,
  where everyone is near chance.
- Estimates: Bradley-Terry strengths (centred, sum 0) penalised by Jeffreys' prior (Firth
  1993; `analysis.bradley_terry`): finite even when a method never loses, equal to maximum
  likelihood up to O(1/n) otherwise. A plain ridge made such a strength finite at a value the
  ridge alone set, with an interval as tight as the ridge ([6.85, 6.90]).
- Intervals, when the stratum's win graph ("i beat j at least once") is strongly connected,
  so that maximum likelihood exists: percentile bootstrap over participants resampled within
  each study, refitting the stratum in every resample.
- Separation (the win graph is not strongly connected: some method, or group, never lost or
  never won against the rest): resampling cannot show how large the gap may be, since every
  resample is separated too. Every method of the stratum then gets a profile penalised-
  likelihood interval (Heinze & Schemper 2002), whose far end is wide or infinite. Judgments of
  one person are correlated, so the likelihood-ratio cut-off is multiplied by a design effect
  (first-order Rao & Scott 1984 correction): the mean ratio of bootstrap to model variance of
  the differences between methods that both won and lost against each other, at least 1, or,
  where no such pair exists, the mean number of judgments per participant (each participant
  then counts about once). rankings.csv flags methods that never lost or never won.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
from scipy.special import expit

from analysis.bootstrap import BootstrapConfig, percentile_interval
from analysis.bradley_terry import (
    fit_bradley_terry,
    information,
    is_connected,
    profile_interval,
    win_components,
)
from analysis.codes import DatasetCodes, dataset_codes, resampling_weights

COLUMNS = ["dataset", "exposure", "method", "rank", "strength", "strength_lo", "strength_hi"]
COLUMNS += ["interval", "p_beats_average", "judgments", "wins", "losses", "separated", "note"]


def stratum_counts(codes: DatasetCodes, mask: np.ndarray) -> tuple[np.ndarray, list[str]]:
    """Per participant x ordered (winner, loser) pair counts (people x M*M) of one stratum."""
    a, b = codes.method_a[mask], codes.method_b[mask]
    present = np.unique(np.concatenate([a, b]))
    local = np.full(len(codes.methods), -1, dtype=np.int64)
    local[present] = np.arange(len(present))
    chose_a = codes.chose_a[mask] == 1
    winner, loser = local[np.where(chose_a, a, b)], local[np.where(chose_a, b, a)]
    m = len(present)
    flat = codes.person[mask] * m * m + winner * m + loser
    counts = np.bincount(flat, minlength=codes.people * m * m).reshape(codes.people, m * m)
    return counts.astype(np.float32), [codes.methods[i] for i in present]


def bootstrap_strengths(weights: np.ndarray, counts: np.ndarray, theta: np.ndarray) -> np.ndarray:
    """Firth strengths (R, M) refitted on participant resamples (weights: R x people)."""
    m = len(theta)
    return fit_bradley_terry((weights @ counts).reshape(-1, m, m), start=theta)


def design_effect(wins: np.ndarray, theta: np.ndarray, draws: np.ndarray, per_person: float):
    """Bootstrap / model variance of differences of methods that beat each other (>= 1)."""
    both = np.triu((wins > 0) & (wins.T > 0), k=1)
    if not both.any():
        return max(1.0, per_person)
    lap, _ = information(theta, wins + wins.T)
    m = len(theta)
    plus = np.linalg.pinv(lap + np.ones((m, m)) / m) - np.ones((m, m)) / m
    i, j = np.nonzero(both)
    model = plus[i, i] + plus[j, j] - 2 * plus[i, j]
    boot = np.var(draws[:, i] - draws[:, j], axis=0, ddof=1)
    return float(max(1.0, np.mean(boot / model)))


def describe_separation(wins: np.ndarray, methods: list[str]) -> str:
    """Which methods (or groups) never lost or never won against the others they met."""
    labels = win_components(wins)
    met = (wins + wins.T) > 0
    parts = []
    for c in np.unique(labels):
        inside = labels == c
        beat = wins[inside][:, ~inside].sum() > 0
        lost = wins[~inside][:, inside].sum() > 0
        if beat == lost:
            continue
        names = [m for m, k in zip(methods, inside, strict=True) if k]
        rivals = [m for m, k in zip(methods, met[inside].any(axis=0) & ~inside, strict=True) if k]
        verb = "never lost" if beat else "never won"
        if len(names) == 1:
            parts.append(f"{names[0]} {verb}")
        else:
            verb = "never lost to" if beat else "never beat"
            parts.append(f"{', '.join(names)} {verb} {', '.join(rivals)}")
    return "; ".join(parts)


def _method_notes(wins: np.ndarray) -> tuple[np.ndarray, list[str]]:
    won, lost = wins.sum(axis=1), wins.sum(axis=0)
    flags = (won == 0) | (lost == 0)
    notes = [
        "never lost: the ML strength is infinite; Firth estimate, profile interval"
        if lo == 0
        else "never won: the ML strength is -infinite; Firth estimate, profile interval"
        if w == 0
        else ""
        for w, lo in zip(won, lost, strict=True)
    ]
    return flags, notes


def rank_stratum(
    counts: np.ndarray, weights: np.ndarray, methods: list[str], cfg: BootstrapConfig
) -> tuple[pd.DataFrame | None, list[str]]:
    """The ranking of one data set x exposure stratum, and notes (None if not estimable)."""
    m = len(methods)
    wins = counts.sum(axis=0).reshape(m, m).astype(np.float64)
    if m < 2 or not is_connected(wins):
        return None, ["methods are not all linked by comparisons; no ranking"]
    theta = fit_bradley_terry(wins)
    draws = bootstrap_strengths(weights, counts, theta)
    separated = len(np.unique(win_components(wins))) > 1
    notes = []
    if separated:
        per_person = wins.sum() / max(1, int((counts.sum(axis=1) > 0).sum()))
        scale = design_effect(wins, theta, draws, per_person)
        ends = [profile_interval(wins, theta, i, cfg.level, scale) for i in range(m)]
        lo, hi = np.array(ends).T
        notes.append(
            f"separation ({describe_separation(wins, methods)}): maximum likelihood strengths "
            f"are infinite; Firth estimates with profile intervals (design effect {scale:.2f})"
        )
    else:
        lo, hi = percentile_interval(draws, cfg.level)
    flags, method_notes = _method_notes(wins)
    table = pd.DataFrame(
        {
            "method": methods,
            "strength": theta,
            "strength_lo": lo,
            "strength_hi": hi,
            "interval": "profile" if separated else "bootstrap",
            "p_beats_average": expit(theta),
            "judgments": (wins.sum(axis=0) + wins.sum(axis=1)).astype(int),
            "wins": wins.sum(axis=1).astype(int),
            "losses": wins.sum(axis=0).astype(int),
            "separated": flags,
            "note": method_notes,
        }
    ).sort_values("strength", ascending=False, kind="stable")
    table.insert(1, "rank", np.arange(1, m + 1))
    return table, notes


def rank_methods(
    judgments: pd.DataFrame, cfg: BootstrapConfig, exposures: list[str] | None = None
) -> tuple[pd.DataFrame, list[str]]:
    """Bradley-Terry rankings per data set x exposure stratum (`exposures`: default all)."""
    tables, notes = [], []
    for dataset, rows in judgments.groupby("dataset", sort=True):
        codes = dataset_codes(rows)
        weights = resampling_weights(codes, cfg)
        for e, exposure in enumerate(codes.exposures):
            if exposures is not None and exposure not in exposures:
                continue
            counts, methods = stratum_counts(codes, codes.exposure == e)
            table, said = rank_stratum(counts, weights, methods, cfg)
            notes += [f"{dataset} / {exposure} (ranking): {text}" for text in said]
            if table is not None:
                tables.append(table.assign(dataset=dataset, exposure=exposure))
    if not tables:
        return pd.DataFrame(columns=COLUMNS), notes
    return pd.concat(tables, ignore_index=True)[COLUMNS], notes
