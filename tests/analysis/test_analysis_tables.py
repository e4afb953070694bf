"""Paper-style tables: reorientation to the focal method and exact Markdown/LaTeX/CSV output."""

from __future__ import annotations

import pandas as pd
import pytest

from analysis.errors import AnalysisInputError
from analysis.tables import (
    default_focal,
    focal_rates,
    format_cell,
    paper_table,
    to_csv,
    to_latex,
    to_markdown,
)

COLUMNS = ["dataset", "comparison", "exposure", "method_a", "method_b", "n", "rate"]
COLUMNS += ["lo", "hi"]


def _rates() -> pd.DataFrame:
    rows = [
        # dataset, comparison, exposure, a, b, n, rate, lo, hi
        ("city", "crn_vs_pix2pix", "unlimited", "crn", "pix2pix", 100, 0.97, 0.951, 0.982),
        ("city", "crn_vs_pix2pix", "1000", "crn", "pix2pix", 100, 0.80, 0.71, 0.87),
        ("city", "encdec_vs_crn", "unlimited", "encdec", "crn", 50, 0.30, 0.19, 0.44),
        ("nyu", "crn_vs_pix2pix", "unlimited", "crn", "pix2pix", 80, 0.675, 0.566, 0.768),
    ]
    frame = pd.DataFrame(rows, columns=COLUMNS)
    frame["p_adjusted"] = 0.01
    return frame


def test_format_cell():
    assert format_cell(0.97, 0.951, 0.982) == "97.0 % [95.1, 98.2]"
    assert format_cell(float("nan"), 0, 0) == "–"


def test_rates_are_reoriented_to_the_focal_method():
    long = focal_rates(_rates(), "crn")
    encdec = long[long["method"] == "encdec"].iloc[0]
    assert encdec["rate"] == pytest.approx(0.70)
    assert (encdec["lo"], encdec["hi"]) == pytest.approx((0.56, 0.81))
    assert default_focal(_rates()) == "crn"
    with pytest.raises(AnalysisInputError, match="focal method 'vqvae' is in no comparison"):
        focal_rates(_rates(), "vqvae")
    with pytest.raises(AnalysisInputError, match="was not computed"):
        focal_rates(_rates(), "crn", ci="two-way")
    with pytest.raises(AnalysisInputError, match="was not computed"):
        focal_rates(_rates(), "crn", ci="wilson")


def test_datasets_as_columns_at_unlimited_renders_exactly():
    table = paper_table(focal_rates(_rates(), "crn"), "crn")  # auto: two data sets -> columns
    assert to_markdown(table) == (
        "How often crn was preferred over each method (unlimited); "
        "participant x image (crossed) 95 % intervals.\n"
        "\n"
        "| crn vs. | city | nyu |\n"
        "|---|---:|---:|\n"
        "| pix2pix | 97.0 % [95.1, 98.2] | 67.5 % [56.6, 76.8] |\n"
        "| encdec | 70.0 % [56.0, 81.0] | – |\n"
    )
    assert to_csv(table) == (
        "crn vs.,city,nyu\n"
        'pix2pix,"97.0 % [95.1, 98.2]","67.5 % [56.6, 76.8]"\n'
        'encdec,"70.0 % [56.0, 81.0]",–\n'
    )
    latex = to_latex(table)
    assert r"\toprule" in latex and r"\midrule" in latex and r"\bottomrule" in latex
    assert r"pix2pix & 97.0\,\% [95.1, 98.2] & 67.5\,\% [56.6, 76.8] \\" in latex
    assert r"encdec & 70.0\,\% [56.0, 81.0] & -- \\" in latex
    assert r"\begin{tabular}{lcc}" in latex


def test_exposures_as_columns():
    city = _rates()[lambda f: f["dataset"] == "city"]
    table = paper_table(focal_rates(city, "crn"), "crn")  # one data set -> exposures
    assert list(table.cells.columns) == ["1000 ms", "unlimited"]
    assert table.cells.loc["pix2pix", "1000 ms"] == "80.0 % [71.0, 87.0]"
    assert table.cells.loc["encdec", "1000 ms"] == "–"


def test_chosen_exposure_and_latex_escaping():
    rates = _rates().replace({"pix2pix": "pix_2_pix"})
    table = paper_table(focal_rates(rates, "crn"), "crn", columns="dataset", exposure="1000")
    assert list(table.cells.index) == ["pix_2_pix"]
    assert r"pix\_2\_pix & 80.0\,\% [71.0, 87.0] \\" in to_latex(table)  # nyu has no 1000 ms
    with pytest.raises(AnalysisInputError, match="no cells at exposure '250'"):
        paper_table(focal_rates(rates, "crn"), "crn", columns="dataset", exposure="250")


def test_latex_table_compiles_with_booktabs(tmp_path):
    import shutil
    import subprocess

    from analysis.tables import Presentation, latex_document

    pdflatex = shutil.which("pdflatex")
    assert pdflatex, "pdflatex is missing: run `make latex-deps` (scripts/ensure-latex.sh)"
    shown = Presentation(labels={"pix2pix": "pix2pix & co_1 (50 %)"}, show_n=True)
    table = paper_table(focal_rates(_rates(), "crn"), "crn", shown=shown)
    (tmp_path / "table.tex").write_text(latex_document(table), encoding="utf-8")
    done = subprocess.run(
        [pdflatex, "-interaction=nonstopmode", "-halt-on-error", "table.tex"],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode == 0, done.stdout[-2000:]
    assert (tmp_path / "table.pdf").stat().st_size > 1000


def test_labels_order_and_counts_from_the_spec():
    from analysis.tables import Presentation

    shown = Presentation(
        labels={"crn": "CRN (ours)", "pix2pix": "Pix2pix"}, order=("encdec", "pix2pix"), show_n=True
    )
    table = paper_table(focal_rates(_rates(), "crn"), "crn", shown=shown)
    assert list(table.cells.index) == ["encdec", "Pix2pix"]
    assert table.corner == "CRN (ours) vs."
    assert table.caption.startswith("How often CRN (ours) was preferred")
    assert table.cells.loc["Pix2pix", "city"] == "97.0 % [95.1, 98.2] (n = 100)"


def test_a_comparison_tested_only_at_timed_exposures_keeps_its_row():
    timed_only = pd.DataFrame(
        [("city", "crn_vs_real", "8000", "crn", "real", 90, 0.3, 0.2, 0.4, 0.01)],
        columns=[*COLUMNS, "p_adjusted"],
    )
    rates = pd.concat([_rates(), timed_only], ignore_index=True)
    table = paper_table(focal_rates(rates, "crn"), "crn", columns="dataset")
    assert table.cells.loc["real @ 8000 ms", "city"] == "30.0 % [20.0, 40.0]"
    assert table.cells.loc["pix2pix", "city"] == "97.0 % [95.1, 98.2]"
