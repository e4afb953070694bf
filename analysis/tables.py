"""Paper-style tables: how often a focal method was preferred over each other method.

Rates are reoriented to the focal method (a comparison listing it second reports 1 - rate and
the mirrored interval). Rows are the other methods, named and ordered as the study spec says
(`[sets.<name>] label`, `[report] order`); columns are data sets (at one exposure) or
exposures; cells read "97.0 % [95.1, 98.2]". Rendered as Markdown, LaTeX (booktabs) and CSV.
"""

from __future__ import annotations

import io
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

import pandas as pd

from analysis.errors import AnalysisInputError
from analysis.schema import UNLIMITED, exposure_label, exposure_ms, exposure_order

CI_COLUMNS: dict[str, tuple[str, str]] = {
    "crossed": ("lo", "hi"),
    "wilson": ("wilson_lo", "wilson_hi"),
    "clopper-pearson": ("cp_lo", "cp_hi"),
    "participant": ("boot_p_lo", "boot_p_hi"),
    "two-way": ("boot_pi_lo", "boot_pi_hi"),
}
CI_NAMES: dict[str, str] = {
    "crossed": "participant x image (crossed)",
    "wilson": "Wilson score (judgments treated as independent)",
    "clopper-pearson": "Clopper-Pearson exact (judgments treated as independent)",
    "participant": "participant-clustered bootstrap",
    "two-way": "participant x image bootstrap",
}
MISSING = "–"


@dataclass(frozen=True)
class Presentation:
    """How methods are shown: display names, row order and whether cells carry n."""

    labels: Mapping[str, str] = field(default_factory=dict)
    order: Sequence[str] = ()
    show_n: bool = False

    def label(self, method: str) -> str:
        """The display name of a method (its set name when the spec gives none)."""
        return self.labels.get(method, method)


def default_focal(rates: pd.DataFrame) -> str:
    """The method that takes part in the most comparisons (ties: alphabetical)."""
    pairs = rates[["dataset", "comparison", "method_a", "method_b"]].drop_duplicates()
    counts = pd.concat([pairs["method_a"], pairs["method_b"]]).value_counts()
    best = counts[counts == counts.max()].index
    return str(sorted(best)[0])


def focal_rates(rates: pd.DataFrame, focal: str, ci: str = "crossed") -> pd.DataFrame:
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
    return out.reset_index(drop=True)


def _label_rows(long: pd.DataFrame, shown: Presentation) -> pd.DataFrame:
    """Row label = method's display name, with the comparison where one method has two."""
    per = long.groupby(["dataset", "method"])["comparison"].transform("nunique")
    name = long["method"].map(shown.label)
    long = long.assign(row=name.where(per == 1, name + " (" + long["comparison"] + ")"))
    rank = {m: i for i, m in enumerate(shown.order)}
    long["_rank"] = long["method"].map(lambda m: rank.get(m, len(rank)))
    return long.sort_values(["_rank"], kind="stable").drop(columns="_rank")


def format_cell(
    rate: float, lo: float, hi: float, percent: str = " %", n: int | None = None
) -> str:
    """A cell such as "97.0 % [95.1, 98.2]" (percentages, one decimal), optionally "(n = …)"."""
    if pd.isna(rate):
        return MISSING
    if pd.isna(lo) or pd.isna(hi):
        text = f"{100 * rate:.1f}{percent} [n/a]"
    else:
        text = f"{100 * rate:.1f}{percent} [{100 * lo:.1f}, {100 * hi:.1f}]"
    return text if n is None else f"{text} (n = {int(n)})"


@dataclass(frozen=True)
class PaperTable:
    """A wide table of formatted cells plus the numbers and what the columns mean."""

    cells: pd.DataFrame
    numbers: pd.DataFrame
    focal: str
    corner: str
    caption: str


def _pick_exposure(long: pd.DataFrame, exposure: str | None) -> pd.DataFrame:
    """One exposure per comparison: the one asked for, else unlimited, else its longest."""
    if exposure is not None:
        picked = long[long["exposure"] == exposure]
        if picked.empty:
            have = ", ".join(exposure_order(long["exposure"]))
            raise AnalysisInputError(f"no cells at exposure {exposure!r} (have: {have})")
        return picked
    # A comparison tested only at timed exposures keeps its row, at its longest exposure.
    chosen = long.groupby(["dataset", "comparison"])["exposure"].transform(
        lambda s: UNLIMITED if UNLIMITED in set(s) else max(s, key=exposure_ms)
    )
    picked = long[long["exposure"] == chosen].copy()
    timed = picked["exposure"] != UNLIMITED
    shown_any_unlimited = (picked["exposure"] == UNLIMITED).any()
    if shown_any_unlimited and timed.any():
        picked.loc[timed, "row"] += " @ " + picked.loc[timed, "exposure"].map(exposure_label)
    return picked


def paper_table(
    long: pd.DataFrame,
    focal: str,
    columns: str = "auto",
    exposure: str | None = None,
    ci: str = "crossed",
    shown: Presentation | None = None,
) -> PaperTable:
    """Pivot focal rates: rows other methods, columns data sets (one exposure) or exposures."""
    shown = shown or Presentation()
    long = _label_rows(long, shown)
    if columns == "auto":
        columns = "dataset" if long["dataset"].nunique() > 1 else "exposure"
    if columns not in ("dataset", "exposure"):
        raise AnalysisInputError(f"table columns {columns!r}: expected dataset or exposure")
    if columns == "dataset":
        data = _pick_exposure(long, exposure)
        data["column"] = data["dataset"]
        index = ["row"]
        where = ", ".join(exposure_label(e) for e in exposure_order(data["exposure"]))
        col_order = sorted(data["dataset"].unique())
    else:
        data = long.copy()
        data["column"] = data["exposure"].map(exposure_label)
        index = ["dataset", "row"] if data["dataset"].nunique() > 1 else ["row"]
        where = "by exposure"
        col_order = [exposure_label(e) for e in exposure_order(data["exposure"])]
    row_order = list(dict.fromkeys(data[index].itertuples(index=False, name=None)))
    numbers = data.pivot_table(
        index=index, columns="column", values=["rate", "lo", "hi", "n"], aggfunc="first"
    )
    counts = data["n"] if shown.show_n else [None] * len(data)
    cells_text = [
        format_cell(r, lo, hi, n=k)
        for r, lo, hi, k in zip(data["rate"], data["lo"], data["hi"], counts, strict=True)
    ]
    cells = data.assign(text=cells_text).pivot(index=index, columns="column", values="text")
    cells = cells.reindex(
        index=pd.Index(row_order) if len(index) > 1 else [r[0] for r in row_order]
    )
    cells = cells.reindex(columns=col_order).fillna(MISSING)
    cells.columns.name = None
    name = shown.label(focal)
    caption = (
        f"How often {name} was preferred over each method ({where}); {CI_NAMES[ci]} 95 % intervals."
    )
    return PaperTable(cells, numbers, focal, f"{name} vs.", caption)


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
    """LaTeX (booktabs) table environment, ready for \\input in a paper that loads booktabs."""
    n = len(table.cells.columns)
    head = " & ".join(_latex_escape(c) for c in [table.corner, *table.cells.columns])
    lines = [
        "% Needs \\usepackage{booktabs} in the preamble.",
        r"\begin{table}[t]",
        r"\centering",
        r"\begin{tabular}{l" + "c" * n + "}",
    ]
    lines += [r"\toprule", head + r" \\", r"\midrule"]
    for label, (_, row) in zip(_row_labels(table.cells), table.cells.iterrows(), strict=True):
        values = [_latex_cell(v) for v in row]
        lines.append(" & ".join([_latex_escape(label), *values]) + r" \\")
    lines += [r"\bottomrule", r"\end{tabular}", rf"\caption{{{_latex_escape(table.caption)}}}"]
    lines.append(r"\end{table}")
    return "\n".join(lines) + "\n"


def _latex_cell(value: str) -> str:
    if value == MISSING:
        return "--"
    return _latex_escape(value).replace(r" \%", r"\,\%")


def latex_document(table: PaperTable) -> str:
    """A minimal standalone LaTeX document holding the table (to check that it compiles)."""
    return (
        "\\documentclass{article}\n\\usepackage[T1]{fontenc}\n\\usepackage[utf8]{inputenc}\n"
        "\\usepackage{booktabs}\n\\usepackage{graphicx}\n\\begin{document}\n"
        f"{to_latex(table)}\\end{{document}}\n"
    )


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
