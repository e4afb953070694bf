"""Bradley-Terry rankings per data set and exposure stratum, with intervals that stay honest.

- Strata: one ranking per data set x exposure ("unlimited" and each timed exposure on its own).
  Pooling exposures would rank a method by where it happened to be compared: a set compared
  mostly at long exposures (as `real` usually is) looks stronger than one compared at 125 ms,
  where everyone is near chance.
- Estimates: Bradley-Terry strengths (centred, sum 0) penalised by Jeffreys' prior (Firth
  1993; `analysis.bradley_terry`): finite even when a method never loses, equal to maximum
  likelihood up to O(1/n) otherwise. A plain ridge made such a strength finite at a value the
  ridge alone set, with an interval as tight as the ridge ([6.85, 6.90]).
- Intervals, when every method both won and lost somewhere in the stratum's win graph (it is
  strongly connected, so maximum likelihood exists): percentile bootstrap over participants
  resampled within each study, refitting the stratum in every resample.
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

from analysis.bootstrap import BootstrapConfig, cluster_weights, percentile_interval, strata_members
from analysis.bradley_terry import (
    fit_bradley_terry,
    information,
    is_connected,
    profile_interval,
    win_components,
)
from analysis.schema import PARTICIPANT_KEYS, exposure_order

COLUMNS = ["dataset", "exposure", "method", "rank", "strength", "strength_lo", "strength_hi"]
COLUMNS += ["interval", "p_beats_average", "judgments", "wins", "losses", "separated", "note"]


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


def bootstrap_strengths(
    counts: np.ndarray, strata: np.ndarray, m: int, theta: np.ndarray, cfg: BootstrapConfig
) -> np.ndarray:
    """Firth strengths (R, M) refitted on participant resamples (within studies)."""
    rng = np.random.default_rng(cfg.seed)
    wins = cluster_weights(rng, strata_members(strata), len(strata), cfg.n_resamples) @ counts
    return fit_bradley_terry(wins.reshape(-1, m, m), start=theta)


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


def rank_stratum(rows: pd.DataFrame, cfg: BootstrapConfig) -> tuple[pd.DataFrame | None, list[str]]:
    """The ranking of one data set x exposure stratum, and notes (None if not estimable)."""
    methods = sorted(set(rows["method_a"]) | set(rows["method_b"]))
    counts, strata, m = _pair_counts(rows, methods)
    wins = counts.sum(axis=0).reshape(m, m).astype(np.float64)
    if m < 2 or not is_connected(wins):
        return None, ["methods are not all linked by comparisons; no ranking"]
    theta = fit_bradley_terry(wins)
    draws = bootstrap_strengths(counts, strata, m, theta, cfg)
    separated = len(np.unique(win_components(wins))) > 1
    notes = []
    if separated:
        per_person = len(rows) / max(1, len(strata))
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
        for exposure in exposure_order(rows["exposure"]):
            if exposures is not None and exposure not in exposures:
                continue
            table, said = rank_stratum(rows[rows["exposure"] == exposure], cfg)
            notes += [f"{dataset} / {exposure} (ranking): {text}" for text in said]
            if table is not None:
                tables.append(table.assign(dataset=dataset, exposure=exposure))
    if not tables:
        return pd.DataFrame(columns=COLUMNS), notes
    return pd.concat(tables, ignore_index=True)[COLUMNS], notes
