"""The whole analysis as one function over loaded responses, and writing its output files."""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from dataclasses import asdict, dataclass, field
from typing import Any

import pandas as pd

from analysis.agreement import Agreement, agreement_analysis, read_metrics
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
from analysis.exclusions import (
    ExclusionConfig,
    ExclusionResult,
    apply_exclusions,
    check_something_kept,
    exclusion_config,
)
from analysis.hype import TaskResults, analyse_tasks
from analysis.load import LoadedResponses, load_responses
from analysis.ranking import rank_methods
from analysis.rates import family_statement, rate_table
from analysis.schema import PAIRED
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
    metrics: str | None = None  # metrics.csv of `crnkit metrics`, for the agreement section


@dataclass(frozen=True)
class AnalysisResult:
    """Everything the report shows, as DataFrames.

    The paired fields (rates … diagnostics) are None when the input has only real-or-fake
    tasks; `tasks` holds those tasks' results (empty when there are none).
    """

    options: AnalysisOptions
    loaded: LoadedResponses
    configs: dict[str, ExclusionConfig]
    exclusions: ExclusionResult
    rates: pd.DataFrame | None
    focal: str | None
    focal_long: pd.DataFrame | None
    table: PaperTable | None
    rankings: pd.DataFrame | None
    curves: ExposureCurves | None
    diagnostics: dict[str, pd.DataFrame] | None
    notes: tuple[str, ...]
    multiplicity: str = ""
    tasks: TaskResults | None = None
    agreement: Agreement | None = None

    @property
    def has_paired(self) -> bool:
        """Whether paired comparisons were analysed."""
        return self.rates is not None


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


def presentation(loaded: LoadedResponses, table: TableOptions) -> Presentation:
    """Display names and row order from the studies' specs, plus whether cells show n."""
    labels: dict[str, str] = {}
    order: list[str] = []
    for meta in loaded.studies.values():
        labels |= meta.labels
        order += [m for m in meta.order if m not in order]
    return Presentation(labels=labels, order=tuple(order), show_n=table.show_n)


def estimability_notes(rates: pd.DataFrame) -> list[str]:
    """Words for cells with no interval, and for data sets whose cells are small for it."""
    notes = [
        f"{r.dataset} / {r.comparison} / {r.exposure}: {r.note}"
        for r in rates.itertuples(index=False)
        if r.note
    ]
    small = rates[
        (rates["note"] == "")
        & ((rates["n_participants"] < FEW_PARTICIPANTS) | (rates["n_images"] < FEW_IMAGES))
    ]
    for dataset, cells in small.groupby("dataset", sort=True):
        total = int((rates["dataset"] == dataset).sum())
        notes.append(
            f"{dataset}: {len(cells)} of {total} cells have fewer than {FEW_PARTICIPANTS} "
            f"participants or {FEW_IMAGES} images (smallest: {cells['n_participants'].min()} "
            f"participants, {cells['n_images'].min()} images); the interval was checked by "
            "simulation from that size up, so treat theirs as approximate"
        )
    return notes


def analyse(options: AnalysisOptions, loaded: LoadedResponses | None = None) -> AnalysisResult:
    """Load (unless given), exclude, then analyse paired comparisons and single-image tasks."""
    if loaded is None:
        loaded = load_responses(options.paths, options.db_url, options.study_id, options.study_json)
    configs = _configs(loaded, options.exclusion_overrides)
    excluded = apply_exclusions(loaded.frame, configs)
    check_something_kept(excluded)
    tasks = analyse_tasks(excluded.kept, loaded.studies, options.bootstrap.level)
    kept = excluded.kept[excluded.kept["task"] == PAIRED]
    if kept.empty:
        return AnalysisResult(
            options, loaded, configs, excluded, *([None] * 7), notes=loaded.notes, tasks=tasks
        )
    return _paired(options, loaded, configs, excluded, kept, tasks)


def _paired(options, loaded, configs, excluded, kept, tasks) -> AnalysisResult:
    """Rates, the paper table, rankings, curves and diagnostics of the paired comparisons."""
    level, table_opts = options.bootstrap.level, options.table
    rates = rate_table(kept, level, options.correction, options.alpha, options.family)
    rates = pd.concat([rates, bootstrap_intervals(kept, rates, options.bootstrap)], axis=1)
    focal = table_opts.focal or default_focal(rates)
    long = focal_rates(rates, focal, table_opts.ci)
    shown = presentation(loaded, table_opts)
    table = paper_table(long, focal, table_opts.columns, table_opts.exposure, table_opts.ci, shown)
    rankings, rank_notes = rank_methods(kept, options.bootstrap)
    curves = fit_exposure_curves(kept, options.bootstrap, focal)
    trials = loaded.frame[(loaded.frame["kind"] != "practice") & (loaded.frame["task"] == PAIRED)]
    agreement = None
    if options.metrics:
        metrics = read_metrics(options.metrics)
        agreement = agreement_analysis(kept, metrics, loaded.studies, options.bootstrap)
    notes = (*loaded.notes, *estimability_notes(rates), *rank_notes, *curves.notes)
    notes = (*notes, *(agreement.notes if agreement else ()))
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
        tasks=tasks,
        agreement=agreement,
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
        "tasks": task_settings(result),
        "metrics": opts.metrics,
        "notes": list(result.notes),
    }


def task_settings(result: AnalysisResult) -> dict[str, Any]:
    """What the real-or-fake part analysed: tasks, participants and the threshold method."""
    tasks = result.tasks
    if tasks is None or tasks.empty:
        return {}
    return {
        "real_fake_tasks": sorted(set(tasks.rates.get("task", pd.Series(dtype=str)))),
        "staircase_tasks": sorted(set(tasks.thresholds.get("task", pd.Series(dtype=str)))),
        "threshold": "psychometric fit per participant (shared slope and lapse), "
        "mean over participants, grouped-jackknife interval",
    }


def settings_json(result: AnalysisResult) -> str:
    """`settings_record` as indented JSON text."""
    return json.dumps(settings_record(result), indent=2, sort_keys=True) + "\n"


def output_names() -> tuple[str, ...]:
    """Files `write_report` puts in the output folder for paired comparisons (TASK_FILES are
    added when there are real-or-fake tasks)."""
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


AGREEMENT_FILES = (
    "metrics_table.md",
    "metrics_table.tex",
    "metrics_table.csv",
    "agreement_methods.csv",
    "agreement_tau.csv",
    "agreement_images.csv",
)
DIAGNOSTIC_FILES = ("position", "images", "participants", "devices", "device_summary", "timing")
# Written when the input has real-or-fake tasks (see analysis.hype and docs/analysis.md).
TASK_FILES = (
    "hype_rates.csv",
    "hype_table.md",
    "hype_table.tex",
    "hype_table.csv",
    "staircase_thresholds.csv",
    "staircase_participants.csv",
    "staircase_tracks.csv",
    "threshold_table.md",
    "threshold_table.tex",
    "threshold_table.csv",
    "staircases.png",
    "staircases.svg",
)
