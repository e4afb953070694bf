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
from analysis.exclusions import ExclusionConfig, ExclusionResult, apply_exclusions, exclusion_config
from analysis.load import LoadedResponses, load_responses
from analysis.ranking import rank_methods
from analysis.rates import rate_table
from analysis.tables import PaperTable, default_focal, focal_rates, paper_table


@dataclass(frozen=True)
class TableOptions:
    """Which method the paper table is about, its columns, exposure and interval."""

    focal: str | None = None
    columns: str = "auto"
    exposure: str | None = None
    ci: str = "wilson"


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


def analyse(options: AnalysisOptions, loaded: LoadedResponses | None = None) -> AnalysisResult:
    """Load (unless given), exclude, estimate, rank, fit curves and tabulate."""
    if loaded is None:
        loaded = load_responses(options.paths, options.db_url, options.study_id, options.study_json)
    configs = _configs(loaded, options.exclusion_overrides)
    excluded = apply_exclusions(loaded.frame, configs)
    kept = excluded.kept
    rates = rate_table(kept, options.bootstrap.level, options.correction, options.alpha)
    rates = pd.concat([rates, bootstrap_intervals(kept, rates, options.bootstrap)], axis=1)
    focal = options.table.focal or default_focal(rates)
    long = focal_rates(rates, focal, options.table.ci)
    table = paper_table(
        long, focal, options.table.columns, options.table.exposure, options.table.ci
    )
    rankings, rank_notes = rank_methods(kept, options.bootstrap)
    curves = fit_exposure_curves(kept, options.bootstrap, focal)
    trials = loaded.frame[loaded.frame["kind"] != "practice"]
    notes = (*loaded.notes, *rank_notes, *curves.notes)
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
