"""Write the analysis outputs: CSV files, tables, figures and one self-contained HTML report."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pandas as pd

from analysis.hype_report import task_html, write_task_files
from analysis.pipeline import DIAGNOSTIC_FILES, AnalysisResult, settings_json, settings_record
from analysis.plots import (
    SavedFigure,
    diagnostics_figure,
    exposure_figure,
    rankings_figure,
    save_figure,
)
from analysis.tables import CI_NAMES, table_frame, to_csv, to_latex, to_markdown
from crn.fsutil import atomic_write_text

NOTE_KEYS = frozenset({"note", "notes", "warning", "warnings", "caveat", "caveats", "remark"})


def find_notes(document: Any, path: str = "") -> Iterator[str]:
    """Notes a reader must see, found anywhere in a study.json section (spec, imagesets).

    Strings under note-like keys, and VGG-19 features that came from random weights (image
    sets record the generator's facts, e.g. {"vgg_weights": "random"}).
    """
    if isinstance(document, dict):
        for key, value in document.items():
            where = f"{path}.{key}" if path else str(key)
            name = str(key).lower()
            if name in NOTE_KEYS:
                for text in value if isinstance(value, list) else [value]:
                    yield f"{path or 'study'}: {text}"
            elif name == "vgg_weights" and str(value).lower() == "random":
                yield (
                    f"{path or 'study'}: VGG-19 random weights were used (vgg_weights = random); "
                    "its perceptual loss had no pretrained features"
                )
            else:
                yield from find_notes(value, where)
    elif isinstance(document, list):
        for i, item in enumerate(document):
            yield from find_notes(item, f"{path}[{i}]")


def _csv(frame: pd.DataFrame, path: Path) -> None:
    atomic_write_text(path, frame.to_csv(index=False, float_format="%.6g"))


def write_tables(result: AnalysisResult, out: Path) -> None:
    """rates.csv, table.md/.tex/.csv, rankings.csv, exclusions and diagnostics CSV files."""
    _csv(result.exclusions.report, out / "exclusions.csv")
    _csv(result.exclusions.participants, out / "excluded_participants.csv")
    atomic_write_text(out / "analysis.json", settings_json(result))
    if not result.has_paired:
        return
    _csv(result.rates, out / "rates.csv")
    atomic_write_text(out / "table.md", to_markdown(result.table))
    atomic_write_text(out / "table.tex", to_latex(result.table))
    atomic_write_text(out / "table.csv", to_csv(result.table))
    _csv(result.rankings, out / "rankings.csv")
    _csv(result.curves.fits, out / "exposure_fits.csv")
    _csv(result.curves.residuals, out / "exposure_residuals.csv")
    for name in DIAGNOSTIC_FILES:
        _csv(result.diagnostics[name], out / f"diagnostics_{name}.csv")
    if result.agreement is not None:
        write_agreement(result, out)


def write_agreement(result: AnalysisResult, out: Path) -> None:
    """metrics_table.md/.tex/.csv and agreement_{methods,tau,images}.csv."""
    from analysis.agreement_tables import csv_text, latex, markdown

    agreement = result.agreement
    level = round(100 * result.options.bootstrap.level)
    if not agreement.methods.empty:
        atomic_write_text(out / "metrics_table.md", markdown(agreement, level))
        atomic_write_text(out / "metrics_table.tex", latex(agreement, level))
        atomic_write_text(out / "metrics_table.csv", csv_text(agreement, level))
    _csv(agreement.methods, out / "agreement_methods.csv")
    _csv(agreement.tau, out / "agreement_tau.csv")
    _csv(agreement.images, out / "agreement_images.csv")


def write_figures(result: AnalysisResult, out: Path) -> dict[str, SavedFigure]:
    """exposure, rankings and diagnostics figures as PNG and SVG."""
    if not result.has_paired:
        return {}
    diag = result.diagnostics
    figures = {
        "exposure": exposure_figure(
            result.rates, result.curves, result.focal, result.options.bootstrap.level
        ),
        "rankings": rankings_figure(result.rankings),
        "diagnostics": diagnostics_figure(
            diag["position"], diag["participants"], diag["devices"], diag["timing"]
        ),
    }
    return {name: save_figure(fig, out, name) for name, fig in figures.items()}


def _number(value: float) -> str:
    # Small p-values keep their significant digits; everything else gets three decimals.
    return f"{value:.3g}" if abs(value) < 1e-3 and value != 0 else f"{value:.3f}"


def _html_table(frame: pd.DataFrame) -> str:
    return frame.to_html(index=False, na_rep="–", float_format=_number, border=0, classes="data")


def _paper_html(table) -> str:
    """The paper table as HTML whose cells break between the rate and its interval, not inside."""
    from markupsafe import escape

    frame = table_frame(table).map(lambda v: str(escape(v)))
    frame = frame.map(
        lambda v: v.replace(" [", ' <span class="ci">[', 1) + "</span>" if " [" in v else v
    )
    frame.columns = [str(escape(c)) for c in frame.columns]
    return frame.to_html(index=False, border=0, classes="paper", escape=False)


def _studies(result: AnalysisResult) -> list[dict[str, Any]]:
    studies = []
    for sid in sorted(result.loaded.frame["study_id"].unique()):
        meta = result.loaded.studies.get(sid)
        entry: dict[str, Any] = {"study_id": sid, "meta": meta, "notes": []}
        if meta is not None:
            entry["notes"] = [
                *find_notes(meta.spec, "spec"),
                *find_notes(meta.imagesets, "imagesets"),
            ]
            entry["imagesets"] = _html_table(
                pd.DataFrame(
                    [
                        {"name": n, "kind": s.get("kind", ""), "path": s.get("path", "")}
                        | {"sha256": str(s.get("sha256", ""))[:16]}
                        for n, s in sorted(meta.imagesets.items())
                    ]
                )
            )
            entry["spec"] = json.dumps(meta.spec, indent=2, sort_keys=True, default=str)
        studies.append(entry)
    return studies


def _counts(result: AnalysisResult) -> dict[str, int]:
    frame = result.loaded.frame
    kept = result.exclusions.kept
    return {
        "rows": len(frame),
        "participants": int(frame.groupby(["study_id", "participant_id"]).ngroups),
        "judgments": int((frame["kind"] == "test").sum()),
        "single_judgments": int(((frame["kind"] == "test") & (frame["task"] != "paired")).sum()),
        "kept_judgments": len(kept),
        "kept_participants": int(kept.groupby(["study_id", "participant_id"]).ngroups),
    }


def _paired_html(result: AnalysisResult) -> dict[str, str]:
    if not result.has_paired:
        return {}
    diag = result.diagnostics
    worst = diag["images"][diag["images"]["fails"]].head(30)
    html = {
        "table": _paper_html(result.table),
        "rates": _html_table(result.rates.drop(columns=["significant"])),
        "rankings": _html_table(result.rankings),
        "exclusions": _html_table(result.exclusions.report),
        "fits": _html_table(result.curves.fits),
        "residuals": _html_table(result.curves.residuals),
        "position": _html_table(diag["position"]),
        "timing": _html_table(diag["timing"]),
        "device_summary": _html_table(diag["device_summary"]),
        "failing_images": _html_table(worst),
    }
    if result.agreement is not None and not result.agreement.methods.empty:
        html |= _agreement_html(result)
    return html


def render_html(
    result: AnalysisResult, figures: dict[str, SavedFigure], tasks_figure: SavedFigure | None = None
) -> str:
    """The self-contained report: tables inline, figures as inline SVG."""
    import jinja2
    from markupsafe import Markup

    env = jinja2.Environment(
        loader=jinja2.FileSystemLoader(Path(__file__).parent / "templates"),
        autoescape=jinja2.select_autoescape(["html"]),
    )
    html = _paired_html(result)
    html |= {f"task_{k}": v for k, v in task_html(result.tasks, tasks_figure, _html_table).items()}
    return env.get_template("report.html").render(
        result=result,
        html={k: Markup(v) for k, v in html.items()},
        svg={k: Markup(_strip_xml_header(f.svg_text)) for k, f in figures.items()},
        studies=_studies(result),
        counts=_counts(result),
        settings=settings_record(result),
        ci_name=CI_NAMES[result.options.table.ci],
        level=round(100 * result.options.bootstrap.level),
    )


def _agreement_html(result: AnalysisResult) -> dict[str, str]:
    from analysis.agreement_tables import methods_table, tau_paper_table

    agreement = result.agreement
    level = round(100 * result.options.bootstrap.level)
    return {
        "metrics_table": table_frame(methods_table(agreement, level)).to_html(
            index=False, border=0, classes="paper"
        ),
        "metrics_tau": table_frame(tau_paper_table(agreement, level)).to_html(
            index=False, border=0, classes="data"
        ),
        "metrics_images": _html_table(agreement.images),
    }


def _strip_xml_header(svg: str) -> str:
    start = svg.find("<svg")
    return svg[start:] if start >= 0 else svg


def write_report(result: AnalysisResult, out_dir: str | Path) -> list[Path]:
    """Write every output file into out_dir; return the paths written."""
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    write_tables(result, out)
    figures = write_figures(result, out)
    tasks_figure = write_task_files(result.tasks, out)
    atomic_write_text(out / "index.html", render_html(result, figures, tasks_figure))
    return sorted(p for p in out.iterdir() if p.is_file())
