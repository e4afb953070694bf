"""Tables of the agreement analysis: methods with human preference and metrics, and tau.

Rendered through the paper-table writers (Markdown, LaTeX booktabs, CSV) of analysis.tables.
"""

from __future__ import annotations

import math

import pandas as pd

from analysis.agreement import Agreement
from analysis.tables import MISSING, PaperTable, to_csv, to_latex, to_markdown

# metric -> (column title, formatter of (value, se))
COLUMNS: dict[str, tuple[str, str]] = {
    "fid": ("FID ↓", "plain"),
    "kid": ("KID ↓", "se"),
    "seg_miou": ("mIoU ↑", "percent"),
    "seg_pixel_acc": ("pixel acc. ↑", "percent"),
    "seg_class_acc": ("class acc. ↑", "percent"),
    "diversity": ("diversity", "se"),
}


def _fmt(value: float, se: float | None, style: str) -> str:
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return MISSING
    if style == "percent":
        return f"{100 * value:.1f} %"
    if style == "se" and se is not None and not math.isnan(se):
        return f"{value:.4g} ± {se:.2g}"
    return f"{value:.4g}"


def methods_table(agreement: Agreement, level: int = 95) -> PaperTable:
    """Rows: methods (per data set); columns: human preference, then each metric present."""
    frame = agreement.methods
    present = [m for m in COLUMNS if m in frame.columns]
    cells = pd.DataFrame(index=range(len(frame)))
    cells["people (BT)"] = [
        f"{100 * p:.1f} % [{100 * lo:.1f}, {100 * hi:.1f}]"
        for p, lo, hi in zip(frame["p_beats_average"], frame["p_lo"], frame["p_hi"], strict=True)
    ]
    for metric in present:
        title, style = COLUMNS[metric]
        se = frame.get(f"{metric}_se", pd.Series([None] * len(frame)))
        cells[title] = [_fmt(v, s, style) for v, s in zip(frame[metric], se, strict=True)]
    several = frame["dataset"].nunique() > 1
    labels = list(zip(frame["dataset"], frame["method"], strict=True)) if several else None
    cells.index = pd.MultiIndex.from_tuples(labels) if several else list(frame["method"])
    caption = (
        "People: chance of beating an average method (Bradley–Terry), "
        f"{level} % participant-bootstrap interval; metrics from crnkit metrics "
        "(↓ lower is better, ↑ higher is better; KID and diversity ± their standard error)."
    )
    return PaperTable(cells, frame, "", "method", caption)


def tau_paper_table(agreement: Agreement, level: int = 95) -> PaperTable:
    """Rows: metrics (per data set); columns: methods compared and Kendall tau [interval]."""
    frame = agreement.tau
    cells = pd.DataFrame(
        {
            "methods": frame["methods"].astype(str),
            "Kendall τ": [
                MISSING if math.isnan(t) else f"{t:+.2f} [{lo:+.2f}, {hi:+.2f}]"
                for t, lo, hi in zip(frame["tau"], frame["tau_lo"], frame["tau_hi"], strict=True)
            ],
            "p": [MISSING if math.isnan(p) else f"{p:.3g}" for p in frame["p_value"]],
            "direction": frame["direction"],
        }
    )
    several = frame["dataset"].nunique() > 1
    keys = list(zip(frame["dataset"], frame["metric"], strict=True))
    cells.index = pd.MultiIndex.from_tuples(keys) if several else list(frame["metric"])
    caption = (
        "Rank agreement of each metric with people across methods: Kendall τ-b between the "
        "metric (oriented: τ > 0 ranks methods as people do) and the Bradley–Terry strength, "
        f"{level} % interval from resampling participants."
    )
    return PaperTable(cells, frame, "", "metric", caption)


def markdown(agreement: Agreement, level: int = 95) -> str:
    """Both tables as Markdown."""
    return (
        to_markdown(methods_table(agreement, level))
        + "\n"
        + to_markdown(tau_paper_table(agreement, level))
    )


def latex(agreement: Agreement, level: int = 95) -> str:
    """Both tables as LaTeX (booktabs)."""
    return (
        to_latex(methods_table(agreement, level))
        + "\n"
        + to_latex(tau_paper_table(agreement, level))
    )


def csv_text(agreement: Agreement, level: int = 95) -> str:
    """The methods table as CSV (formatted cells)."""
    return to_csv(methods_table(agreement, level))
