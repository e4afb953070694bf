"""Preference rates per comparison x exposure with exact and score intervals and binomial tests.

- Wilson score interval (Wilson 1927) and Clopper-Pearson exact interval (Clopper & Pearson
  1934), both from `scipy.stats.binomtest(...).proportion_ci`.
- Two-sided exact binomial test of "rate = 50 %", adjusted across the whole table by Holm's
  step-down method (Holm 1979) or Benjamini-Hochberg (1995), via statsmodels' `multipletests`.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
from scipy.stats import binomtest
from statsmodels.stats.multitest import multipletests

from analysis.errors import AnalysisInputError
from analysis.schema import CELL_KEYS, exposure_ms

CORRECTIONS: dict[str, str] = {"holm": "holm", "bh": "fdr_bh", "none": "none"}


def cell_counts(judgments: pd.DataFrame) -> pd.DataFrame:
    """Per cell: methods, n judgments, k times method_a was chosen, participants and images."""
    if judgments.empty:
        raise AnalysisInputError("no test judgments are left to analyse (check the exclusions)")
    grouped = judgments.groupby(CELL_KEYS, sort=False)
    cells = grouped.agg(
        method_a=("method_a", "first"),
        method_b=("method_b", "first"),
        n=("chose_a", "size"),
        k=("chose_a", "sum"),
        n_participants=("participant_id", "nunique"),
        n_images=("image_id", "nunique"),
    ).reset_index()
    return sort_cells(cells)


def sort_cells(cells: pd.DataFrame) -> pd.DataFrame:
    """Order cells by data set, comparison, then exposure duration ("unlimited" last)."""
    order = cells["exposure"].map(exposure_ms)
    keyed = cells.assign(_ms=order).sort_values(["dataset", "comparison", "_ms"], kind="stable")
    return keyed.drop(columns="_ms").reset_index(drop=True)


def proportion_intervals(k: int, n: int, level: float = 0.95) -> dict[str, float]:
    """Wilson and Clopper-Pearson intervals and the two-sided exact p-value against 50 %."""
    test = binomtest(int(k), int(n), p=0.5, alternative="two-sided")
    wilson = test.proportion_ci(confidence_level=level, method="wilson")
    exact = test.proportion_ci(confidence_level=level, method="exact")
    return {
        "wilson_lo": float(wilson.low),
        "wilson_hi": float(wilson.high),
        "cp_lo": float(exact.low),
        "cp_hi": float(exact.high),
        "p_value": float(test.pvalue),
    }


def adjust_pvalues(pvalues: np.ndarray, correction: str = "holm", alpha: float = 0.05):
    """Adjusted p-values and rejections across a table (Holm by default, or BH, or none)."""
    if correction not in CORRECTIONS:
        raise AnalysisInputError(
            f"unknown correction {correction!r} (expected {', '.join(CORRECTIONS)})"
        )
    pvalues = np.asarray(pvalues, dtype=float)
    if CORRECTIONS[correction] == "none" or pvalues.size == 0:
        return pvalues.copy(), pvalues <= alpha
    reject, adjusted, _, _ = multipletests(pvalues, alpha=alpha, method=CORRECTIONS[correction])
    return adjusted, reject


def rate_table(
    judgments: pd.DataFrame,
    level: float = 0.95,
    correction: str = "holm",
    alpha: float = 0.05,
) -> pd.DataFrame:
    """Cells with n, rate of method_a, Wilson and Clopper-Pearson CIs and adjusted p-values."""
    if not 0 < level < 1:
        raise AnalysisInputError(f"confidence level {level} must be between 0 and 1")
    cells = cell_counts(judgments)
    cells["rate"] = cells["k"] / cells["n"]
    stats = pd.DataFrame(
        [proportion_intervals(k, n, level) for k, n in zip(cells["k"], cells["n"], strict=True)],
        index=cells.index,
    )
    cells = pd.concat([cells, stats], axis=1)
    adjusted, reject = adjust_pvalues(cells["p_value"].to_numpy(), correction, alpha)
    cells["p_adjusted"] = adjusted
    cells["significant"] = reject
    return cells
