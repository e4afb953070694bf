"""The whole analysis as one function over loaded responses, and writing its output files."""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from dataclasses import asdict, dataclass, field
from typing import Any

import pandas as pd

from analysis.bootstrap import BootstrapConfig, bootstrap_intervals
from analysis.curves import ExposureCurves, fit_exposure_curves
from analysis.diagnostics import (
    device_summary,
    devices,
    image_preference,
    participant_agreement,
    position_bias,
    timing_summary,
)
from analysis.errors import AnalysisInputError
from analysis.exclusions import ExclusionConfig, ExclusionResult, apply_exclusions, exclusion_config
from analysis.load import LoadedResponses, load_responses
from analysis.ranking import rank_methods
from analysis.rates import family_statement, rate_table
from analysis.tables import PaperTable, Presentation, default_focal, focal_rates, paper_table

# The coverage benchmark's grid starts at these sizes; below them the report warns.
FEW_PARTICIPANTS = 10
FEW_IMAGES = 20


@dataclass(frozen=True)
class TableOptions:
    """Which method the paper table is about, its columns, exposure and interval."""

    focal: str | None = None
    columns: str = "auto"
    exposure: str | None = None
    ci: str = "crossed"
    show_n: bool = False


@dataclass(frozen=True)
class AnalysisOptions:
    """Inputs and settings of one analysis run (built by the CLI or by a caller)."""

    paths: Sequence[str] = ()
    db_url: str | None = None
    study_id: str | None = None
    study_json: Sequence[str] = ()
    exclusion_overrides: Mapping[str, Any] = field(default_factory=dict)
    bootstrap: BootstrapConfig = field(default_factory=BootstrapConfig)
    table: TableOptions = field(default_factory=TableOptions)
    correction: str = "holm"
    family: str = "dataset-exposure"
    alpha: float = 0.05


@dataclass(frozen=True)
class AnalysisResult:
    """Everything the report shows, as DataFrames."""

    options: AnalysisOptions
    loaded: LoadedResponses
    configs: dict[str, ExclusionConfig]
    exclusions: ExclusionResult
    rates: pd.DataFrame
    focal: str
    focal_long: pd.DataFrame
    table: PaperTable
    rankings: pd.DataFrame
    curves: ExposureCurves
    diagnostics: dict[str, pd.DataFrame]
    notes: tuple[str, ...]
    multiplicity: str = ""


def _configs(loaded: LoadedResponses, overrides: Mapping[str, Any]) -> dict[str, ExclusionConfig]:
    out = {}
    for study in sorted(loaded.frame["study_id"].unique()):
        meta = loaded.studies.get(study)
        settings = meta.exclusions if meta else None
        out[study] = exclusion_config(settings, overrides, where=meta.path if meta else "")
    return out


def _diagnostics(trials: pd.DataFrame, kept: pd.DataFrame) -> dict[str, pd.DataFrame]:
    per_device = devices(trials)
    return {
        "position": position_bias(kept),
        "images": image_preference(kept),
        "participants": participant_agreement(kept, trials),
        "devices": per_device,
        "device_summary": device_summary(per_device),
        "timing": timing_summary(trials),
    }


def nothing_left(excluded: ExclusionResult) -> str:
    """Why no test judgment is left: which rules removed how many."""
    report = excluded.report
    removed = report[report["judgments_removed"] > 0]
    if removed.empty:
        return "no test judgments to analyse (the input has only practice or catch trials)"
    parts = [
        f"{r.rule} ({r.setting}) removed {r.judgments_removed}"
        for r in removed.groupby(["rule", "setting"], sort=False)["judgments_removed"]
        .sum()
        .reset_index()
        .itertuples(index=False)
    ]
    return "every test judgment was excluded: " + "; ".join(parts) + " (see the exclusion options)"


def presentation(loaded: LoadedResponses, table: TableOptions) -> Presentation:
    """Display names and row order from the studies' specs, plus whether cells show n."""
    labels: dict[str, str] = {}
    order: list[str] = []
    for meta in loaded.studies.values():
        labels |= meta.labels
        order += [m for m in meta.order if m not in order]
    return Presentation(labels=labels, order=tuple(order), show_n=table.show_n)


def estimability_notes(rates: pd.DataFrame) -> list[str]:
    """Words for cells too small for the headline method (or for any interval at all)."""
    notes = []
    for row in rates.itertuples(index=False):
        cell = f"{row.dataset} / {row.comparison} / {row.exposure}"
        if row.note:
            notes.append(f"{cell}: {row.note}")
        elif row.n_participants < FEW_PARTICIPANTS or row.n_images < FEW_IMAGES:
            notes.append(
                f"{cell}: only {row.n_participants} participants and {row.n_images} images; "
                f"the interval was checked by simulation from {FEW_PARTICIPANTS} participants "
                f"and {FEW_IMAGES} images up, so treat it as approximate"
            )
    return notes


def analyse(options: AnalysisOptions, loaded: LoadedResponses | None = None) -> AnalysisResult:
    """Load (unless given), exclude, estimate, rank, fit curves and tabulate."""
    if loaded is None:
        loaded = load_responses(options.paths, options.db_url, options.study_id, options.study_json)
    configs = _configs(loaded, options.exclusion_overrides)
    excluded = apply_exclusions(loaded.frame, configs)
    kept = excluded.kept
    if kept.empty:
        raise AnalysisInputError(nothing_left(excluded))
    level, table_opts = options.bootstrap.level, options.table
    rates = rate_table(kept, level, options.correction, options.alpha, options.family)
    rates = pd.concat([rates, bootstrap_intervals(kept, rates, options.bootstrap)], axis=1)
    focal = table_opts.focal or default_focal(rates)
    long = focal_rates(rates, focal, table_opts.ci)
    shown = presentation(loaded, table_opts)
    table = paper_table(long, focal, table_opts.columns, table_opts.exposure, table_opts.ci, shown)
    rankings, rank_notes = rank_methods(kept, options.bootstrap)
    curves = fit_exposure_curves(kept, options.bootstrap, focal)
    trials = loaded.frame[loaded.frame["kind"] != "practice"]
    notes = (*loaded.notes, *estimability_notes(rates), *rank_notes, *curves.notes)
    return AnalysisResult(
        options=options,
        loaded=loaded,
        configs=configs,
        exclusions=excluded,
        rates=rates,
        focal=focal,
        focal_long=long,
        table=table,
        rankings=rankings,
        curves=curves,
        diagnostics=_diagnostics(trials, kept),
        notes=notes,
        multiplicity=family_statement(rates, options.correction, options.alpha, options.family),
    )


def settings_record(result: AnalysisResult) -> dict[str, Any]:
    """What was analysed and how: sources, study hashes, exclusion and bootstrap settings."""
    opts = result.options
    return {
        "sources": list(result.loaded.sources),
        "studies": {
            sid: {"spec_sha256": m.spec_sha256, "study_json": m.path}
            for sid, m in result.loaded.studies.items()
        },
        "exclusions": {sid: asdict(cfg) for sid, cfg in result.configs.items()},
        "bootstrap": asdict(opts.bootstrap),
        "correction": opts.correction,
        "family": opts.family,
        "multiplicity": result.multiplicity,
        "alpha": opts.alpha,
        "table": asdict(opts.table) | {"focal": result.focal},
        "notes": list(result.notes),
    }


def settings_json(result: AnalysisResult) -> str:
    """`settings_record` as indented JSON text."""
    return json.dumps(settings_record(result), indent=2, sort_keys=True) + "\n"


def output_names() -> tuple[str, ...]:
    """Files `write_report` puts in the output folder."""
    return (
        "index.html",
        "rates.csv",
        "table.md",
        "table.tex",
        "table.csv",
        "rankings.csv",
        "exclusions.csv",
        "excluded_participants.csv",
        "exposure.png",
        "exposure.svg",
        "exposure_fits.csv",
        "exposure_residuals.csv",
        "rankings.png",
        "rankings.svg",
        "diagnostics.png",
        "diagnostics.svg",
        *(f"diagnostics_{name}.csv" for name in DIAGNOSTIC_FILES),
        "analysis.json",
    )


DIAGNOSTIC_FILES = ("position", "images", "participants", "devices", "device_summary", "timing")
