"""Paper-style tables: how often a focal method was preferred over each other method.

Rates are reoriented to the focal method (a comparison listing it second reports 1 - rate and
the mirrored interval). Rows are the other methods, columns are data sets (at one exposure) or
exposures; cells read "97.0 % [95.1, 98.2]". Rendered as Markdown, LaTeX (booktabs) and CSV.
"""

from __future__ import annotations

import io
from dataclasses import dataclass

import pandas as pd

from analysis.errors import AnalysisInputError
from analysis.schema import UNLIMITED, exposure_label, exposure_ms, exposure_order

CI_COLUMNS: dict[str, tuple[str, str]] = {
    "wilson": ("wilson_lo", "wilson_hi"),
    "clopper-pearson": ("cp_lo", "cp_hi"),
    "participant": ("boot_p_lo", "boot_p_hi"),
    "two-way": ("boot_pi_lo", "boot_pi_hi"),
}
CI_NAMES: dict[str, str] = {
    "wilson": "Wilson score",
    "clopper-pearson": "Clopper-Pearson exact",
    "participant": "participant-clustered bootstrap",
    "two-way": "participant x image bootstrap",
}
MISSING = "–"


def default_focal(rates: pd.DataFrame) -> str:
    """The method that takes part in the most comparisons (ties: alphabetical)."""
    pairs = rates[["dataset", "comparison", "method_a", "method_b"]].drop_duplicates()
    counts = pd.concat([pairs["method_a"], pairs["method_b"]]).value_counts()
    best = counts[counts == counts.max()].index
    return str(sorted(best)[0])


def focal_rates(rates: pd.DataFrame, focal: str, ci: str = "wilson") -> pd.DataFrame:
    """Long table of the focal method's preference rate against each other method, per cell."""
    if ci not in CI_COLUMNS:
        raise AnalysisInputError(f"unknown interval {ci!r} (expected {', '.join(CI_COLUMNS)})")
    lo_col, hi_col = CI_COLUMNS[ci]
    if lo_col not in rates.columns:
        raise AnalysisInputError(f"interval {ci!r} was not computed (bootstrap disabled?)")
    as_a = rates["method_a"] == focal
    as_b = rates["method_b"] == focal
    if not (as_a | as_b).any():
        known = sorted(set(rates["method_a"]) | set(rates["method_b"]))
        raise AnalysisInputError(
            f"focal method {focal!r} is in no comparison (methods: {', '.join(known)})"
        )
    sub = rates[as_a | as_b]
    flip = (sub["method_b"] == focal).to_numpy()
    out = pd.DataFrame(
        {
            "dataset": sub["dataset"],
            "comparison": sub["comparison"],
            "exposure": sub["exposure"],
            "method": sub["method_b"].where(~flip, sub["method_a"]),
            "n": sub["n"],
            "rate": sub["rate"].where(~flip, 1 - sub["rate"]),
            "lo": sub[lo_col].where(~flip, 1 - sub[hi_col]),
            "hi": sub[hi_col].where(~flip, 1 - sub[lo_col]),
            "p_adjusted": sub["p_adjusted"],
        }
    )
    return _label_rows(out.reset_index(drop=True))


def _label_rows(long: pd.DataFrame) -> pd.DataFrame:
    """Row label = other method, or "method (comparison)" where one method has two comparisons."""
    per = long.groupby(["dataset", "method"])["comparison"].transform("nunique")
    long["row"] = long["method"].where(per == 1, long["method"] + " (" + long["comparison"] + ")")
    return long


def format_cell(rate: float, lo: float, hi: float, percent: str = " %") -> str:
    """A cell such as "97.0 % [95.1, 98.2]" (percentages, one decimal)."""
    if pd.isna(rate):
        return MISSING
    return f"{100 * rate:.1f}{percent} [{100 * lo:.1f}, {100 * hi:.1f}]"


@dataclass(frozen=True)
class PaperTable:
    """A wide table of formatted cells plus the numbers and what the columns mean."""

    cells: pd.DataFrame
    numbers: pd.DataFrame
    focal: str
    corner: str
    caption: str


def _pick_exposure(long: pd.DataFrame, exposure: str | None) -> pd.DataFrame:
    if exposure is not None:
        picked = long[long["exposure"] == exposure]
        if picked.empty:
            have = ", ".join(exposure_order(long["exposure"]))
            raise AnalysisInputError(f"no cells at exposure {exposure!r} (have: {have})")
        return picked
    # Per data set: unlimited if tested, else the longest exposure (the paper's setting).
    longest = long.groupby("dataset")["exposure"].transform(
        lambda s: max(s, key=exposure_ms) if UNLIMITED not in set(s) else UNLIMITED
    )
    return long[long["exposure"] == longest]


def paper_table(
    long: pd.DataFrame,
    focal: str,
    columns: str = "auto",
    exposure: str | None = None,
    ci: str = "wilson",
) -> PaperTable:
    """Pivot focal rates: rows other methods, columns data sets (one exposure) or exposures."""
    if columns == "auto":
        columns = "dataset" if long["dataset"].nunique() > 1 else "exposure"
    if columns not in ("dataset", "exposure"):
        raise AnalysisInputError(f"table columns {columns!r}: expected dataset or exposure")
    if columns == "dataset":
        data = _pick_exposure(long, exposure).copy()
        data["column"] = data["dataset"]
        index = ["row"]
        shown = ", ".join(sorted({exposure_label(e) for e in data["exposure"]}))
        col_order = list(dict.fromkeys(sorted(data["dataset"])))
    else:
        data = long.copy()
        data["column"] = data["exposure"].map(exposure_label)
        index = ["dataset", "row"] if data["dataset"].nunique() > 1 else ["row"]
        shown = "by exposure"
        col_order = [exposure_label(e) for e in exposure_order(data["exposure"])]
    row_order = list(dict.fromkeys(data[index].itertuples(index=False, name=None)))
    numbers = data.pivot_table(
        index=index, columns="column", values=["rate", "lo", "hi", "n"], aggfunc="first"
    )
    texts = data.assign(
        text=[format_cell(*v) for v in zip(data["rate"], data["lo"], data["hi"], strict=True)]
    )
    cells = texts.pivot(index=index, columns="column", values="text")
    cells = cells.reindex(
        index=pd.Index(row_order) if len(index) > 1 else [r[0] for r in row_order]
    )
    cells = cells.reindex(columns=col_order).fillna(MISSING)
    cells.columns.name = None
    caption = (
        f"How often {focal} was preferred over each method ({shown}); "
        f"{CI_NAMES[ci]} 95 % intervals."
    )
    return PaperTable(cells, numbers, focal, f"{focal} vs.", caption)


def _latex_escape(text: str) -> str:
    table = {"\\": r"\textbackslash{}", "&": r"\&", "%": r"\%", "$": r"\$", "#": r"\#"}
    table |= {"_": r"\_", "{": r"\{", "}": r"\}", "~": r"\textasciitilde{}", "^": r"\^{}"}
    return "".join(table.get(ch, ch) for ch in str(text))


def _row_labels(cells: pd.DataFrame) -> list[str]:
    return [" / ".join(map(str, k)) if isinstance(k, tuple) else str(k) for k in cells.index]


def to_markdown(table: PaperTable) -> str:
    """GitHub-flavoured Markdown rendering of a paper table, caption first."""
    head = [table.corner, *map(str, table.cells.columns)]
    lines = [f"{table.caption}", "", "| " + " | ".join(head) + " |"]
    lines.append("|" + "---|" + "---:|" * len(table.cells.columns))
    for label, (_, row) in zip(_row_labels(table.cells), table.cells.iterrows(), strict=True):
        lines.append("| " + " | ".join([label, *map(str, row)]) + " |")
    return "\n".join(lines) + "\n"


def to_latex(table: PaperTable) -> str:
    """LaTeX (booktabs) rendering of a paper table inside a table environment."""
    n = len(table.cells.columns)
    head = " & ".join(_latex_escape(c) for c in [table.corner, *table.cells.columns])
    lines = [r"\begin{table}[t]", r"\centering", r"\begin{tabular}{l" + "c" * n + "}"]
    lines += [r"\toprule", head + r" \\", r"\midrule"]
    for label, (_, row) in zip(_row_labels(table.cells), table.cells.iterrows(), strict=True):
        values = [v.replace(" %", r"\,\%") if v != MISSING else "--" for v in row]
        lines.append(" & ".join([_latex_escape(label), *values]) + r" \\")
    lines += [r"\bottomrule", r"\end{tabular}", rf"\caption{{{_latex_escape(table.caption)}}}"]
    lines.append(r"\end{table}")
    return "\n".join(lines) + "\n"


def table_frame(table: PaperTable) -> pd.DataFrame:
    """The formatted cells with the row labels as the first column (headed by the corner)."""
    frame = table.cells.reset_index(drop=True)
    frame.insert(0, table.corner, _row_labels(table.cells))
    return frame


def to_csv(table: PaperTable) -> str:
    """CSV rendering of the formatted table (row labels in the first column)."""
    buf = io.StringIO()
    table_frame(table).to_csv(buf, index=False)
    return buf.getvalue()
