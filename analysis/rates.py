"""Preference rates per comparison x exposure: the headline interval and test, and the rest.

- Headline (`lo`, `hi`, `p_value`): the crossed participant x image interval and test of
  `crnkit_common.proportions.crossed_proportion` (two-way cluster-robust variance, effective-
  cluster degrees of freedom, logit scale); valid when people and images differ.
- Judgments treated as independent, kept for comparison and clearly labelled: Wilson and
  Clopper-Pearson intervals (`wilson_*`, `cp_*`) and the exact binomial test (`p_binomial`).
- Multiple comparisons: `p_value` is adjusted by Holm's step-down method (Holm 1979), or
  Benjamini-Hochberg (1995), via statsmodels' `multipletests`, within a stated family: each data
  set x exposure (default: the tests one column of the paper table makes), or the whole table.
"""

from __future__ import annotations

import gc

import numpy as np
import pandas as pd
from statsmodels.stats.multitest import multipletests

from analysis.errors import AnalysisInputError
from analysis.schema import CELL_KEYS, IMAGE_KEYS, PARTICIPANT_KEYS, exposure_ms
from crnkit_common.proportions import crossed_rates, independent_intervals

CORRECTIONS: dict[str, str] = {"holm": "holm", "bh": "fdr_bh", "none": "none"}
FAMILIES: dict[str, list[str]] = {"dataset-exposure": ["dataset", "exposure"], "table": []}
CORRECTION_NAMES = {"holm": "Holm", "bh": "Benjamini-Hochberg", "none": "no"}


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
    ).reset_index()
    return sort_cells(cells)


def sort_cells(cells: pd.DataFrame) -> pd.DataFrame:
    """Order cells by data set, comparison, then exposure duration ("unlimited" last)."""
    order = cells["exposure"].map(exposure_ms)
    keyed = cells.assign(_ms=order).sort_values(["dataset", "comparison", "_ms"], kind="stable")
    return keyed.drop(columns="_ms").reset_index(drop=True)


def adjust_pvalues(pvalues: np.ndarray, correction: str = "holm", alpha: float = 0.05):
    """Adjusted p-values and rejections within one family (Holm by default, or BH, or none)."""
    if correction not in CORRECTIONS:
        raise AnalysisInputError(
            f"unknown correction {correction!r} (expected {', '.join(CORRECTIONS)})"
        )
    pvalues = np.asarray(pvalues, dtype=float)
    tested = ~np.isnan(pvalues)
    adjusted, reject = pvalues.copy(), np.zeros(pvalues.shape, dtype=bool)
    if CORRECTIONS[correction] == "none" or not tested.any():
        return adjusted, tested & (pvalues <= alpha)
    # statsmodels' Holm ends in gc.collect(), which walks every live object (a million-row
    # frame's worth); frozen objects are skipped, so freeze them for the call.
    gc.freeze()
    try:
        rej, adj, _, _ = multipletests(pvalues[tested], alpha=alpha, method=CORRECTIONS[correction])
    finally:
        gc.unfreeze()
    adjusted[tested], reject[tested] = adj, rej
    return adjusted, reject


def family_adjust(cells: pd.DataFrame, correction: str, alpha: float, family: str) -> pd.DataFrame:
    """`p_adjusted`, `significant` and `family` (its label and size) for every cell."""
    if family not in FAMILIES:
        raise AnalysisInputError(f"unknown family {family!r} (expected {', '.join(FAMILIES)})")
    keys = FAMILIES[family]
    groups = cells.groupby(keys, sort=False).indices if keys else {"all": np.arange(len(cells))}
    out = pd.DataFrame(index=cells.index, columns=["p_adjusted", "significant", "family"])
    for key, idx in groups.items():
        adjusted, reject = adjust_pvalues(cells["p_value"].to_numpy()[idx], correction, alpha)
        label = " / ".join(map(str, key if isinstance(key, tuple) else (key,)))
        rows = cells.index[idx]
        out.loc[rows, "p_adjusted"] = adjusted
        out.loc[rows, "significant"] = reject
        out.loc[rows, "family"] = f"{label} ({len(idx)} tests)"
    return out.astype({"p_adjusted": float, "significant": bool, "family": str})


def family_statement(cells: pd.DataFrame, correction: str, alpha: float, family: str) -> str:
    """One sentence naming the correction and its family, for the report and the table caption."""
    scope = {
        "dataset-exposure": "within each data set x exposure (the comparisons of one column)",
        "table": "across the whole table",
    }[family]
    tests = int(cells["p_value"].notna().sum())
    return f"{CORRECTION_NAMES[correction]} correction {scope}; {tests} tests at alpha = {alpha:g}"


def rate_table(
    judgments: pd.DataFrame,
    level: float = 0.95,
    correction: str = "holm",
    alpha: float = 0.05,
    family: str = "dataset-exposure",
) -> pd.DataFrame:
    """Cells with n, rate of method_a, headline and independent intervals, adjusted tests."""
    if not 0 < level < 1:
        raise AnalysisInputError(f"confidence level {level} must be between 0 and 1")
    cells = cell_counts(judgments)
    headline = crossed_rates(
        judgments, CELL_KEYS, "chose_a", PARTICIPANT_KEYS, IMAGE_KEYS, level
    ).drop(columns=["n", "rate"])
    cells = cells.merge(headline, on=CELL_KEYS, how="left", validate="one_to_one")
    cells["rate"] = cells["k"] / cells["n"]
    independent = pd.DataFrame(
        independent_intervals(cells["k"].to_numpy(), cells["n"].to_numpy(), level),
        index=cells.index,
    )
    cells = pd.concat([cells, independent], axis=1)
    cells = pd.concat([cells, family_adjust(cells, correction, alpha, family)], axis=1)
    return cells[RATE_COLUMNS]


RATE_COLUMNS = [
    *CELL_KEYS,
    "method_a",
    "method_b",
    "n",
    "k",
    "n_participants",
    "n_images",
    "rate",
    "lo",
    "hi",
    "se",
    "df",
    "deff",
    "p_value",
    "p_adjusted",
    "significant",
    "family",
    "wilson_lo",
    "wilson_hi",
    "cp_lo",
    "cp_hi",
    "p_binomial",
    "var_participant",
    "var_image",
    "var_residual",
    "note",
]
