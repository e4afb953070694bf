"""Exclusion rules, each configurable and each reported (participants and judgments removed).

Participant-level rules run first (catch-trial accuracy, completeness), then trial-level rules
(too fast, timing missed, focus lost), each on what the previous rules kept. Practice trials
are dropped before anything else and never count in rates.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

import pandas as pd

from analysis.errors import AnalysisInputError
from analysis.schema import UNLIMITED


@dataclass(frozen=True)
class ExclusionConfig:
    """Settings of the exclusion rules (defaults match study.json's documented defaults)."""

    min_catch_accuracy: float = 0.75
    min_response_ms: float = 200.0
    exclude_timing_failures: bool = True
    # See TIMING_RULE: the tolerance adds a check on timed trials; it never overrides the flag.
    timing_tolerance_ms: float | None = None
    exclude_focus_lost: bool = False
    require_complete: bool = False
    trials_per_participant: int | None = None

    def __post_init__(self) -> None:
        if not 0.0 <= self.min_catch_accuracy <= 1.0:
            raise AnalysisInputError(
                f"min_catch_accuracy {self.min_catch_accuracy} must be between 0 and 1"
            )
        if self.min_response_ms < 0:
            raise AnalysisInputError(f"min_response_ms {self.min_response_ms} must be >= 0")
        if self.timing_tolerance_ms is not None and self.timing_tolerance_ms < 0:
            raise AnalysisInputError(f"timing tolerance {self.timing_tolerance_ms} must be >= 0")
        if self.trials_per_participant is not None and self.trials_per_participant < 1:
            raise AnalysisInputError("trials_per_participant must be a positive whole number")


_FIELD_TYPES: dict[str, type] = {
    "min_catch_accuracy": float,
    "min_response_ms": float,
    "exclude_timing_failures": bool,
    "timing_tolerance_ms": float,
    "exclude_focus_lost": bool,
    "require_complete": bool,
    "trials_per_participant": int,
}


def _coerce(name: str, value: Any, where: str) -> Any:
    kind = _FIELD_TYPES[name]
    if value is None:
        return None
    if kind is bool:
        if not isinstance(value, bool):
            raise AnalysisInputError(f"{where}: exclusions.{name} must be true or false")
        return value
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise AnalysisInputError(f"{where}: exclusions.{name} must be a number, got {value!r}")
    if kind is int and float(value) != int(value):
        raise AnalysisInputError(f"{where}: exclusions.{name} must be a whole number")
    return kind(value)


def exclusion_config(
    study_settings: Mapping[str, Any] | None = None,
    overrides: Mapping[str, Any] | None = None,
    where: str = "study.json",
) -> ExclusionConfig:
    """Built-in defaults, replaced by study.json's `exclusions`, replaced by explicit overrides."""
    values: dict[str, Any] = {}
    for name, value in (study_settings or {}).items():
        # Unknown keys belong to other tools and null means "not set": both are ignored.
        if name in _FIELD_TYPES and value is not None:
            values[name] = _coerce(name, value, where)
    for name, value in (overrides or {}).items():
        if name not in _FIELD_TYPES:
            raise AnalysisInputError(f"unknown exclusion setting {name!r}")
        if value is not None:
            values[name] = _coerce(name, value, "override")
    return ExclusionConfig(**values)


def _catch_failures(rows: pd.DataFrame, cfg: ExclusionConfig) -> set[str]:
    catch = rows[rows["kind"] == "catch"]
    accuracy = catch.groupby("participant_id")["chose_a"].mean()
    return set(accuracy.index[accuracy < cfg.min_catch_accuracy])


def _incomplete(rows: pd.DataFrame, cfg: ExclusionConfig) -> set[str]:
    if not cfg.require_complete:
        return set()
    # The spec's trials_per_participant counts test trials (practice and catch come on top).
    tests = rows[rows["kind"] == "test"].groupby("participant_id").size()
    counts = tests.reindex(rows["participant_id"].unique(), fill_value=0)
    # Without a declared length, the longest participant's session counts as complete.
    needed = cfg.trials_per_participant or int(counts.max())
    return set(counts.index[counts < needed])


def _too_fast(rows: pd.DataFrame, cfg: ExclusionConfig) -> pd.Series:
    return rows["response_ms"] < cfg.min_response_ms


def _timing_missed(rows: pd.DataFrame, cfg: ExclusionConfig) -> pd.Series:
    if not cfg.exclude_timing_failures:
        return pd.Series(False, index=rows.index)
    flagged = rows["timing_ok"] == 0
    if cfg.timing_tolerance_ms is None:
        return flagged
    timed = rows["exposure"] != UNLIMITED
    miss = (rows["exposure_ms_measured"] - rows["exposure_ms_target"]).abs()
    return flagged | (timed & ~(miss <= cfg.timing_tolerance_ms))


def _focus_lost(rows: pd.DataFrame, cfg: ExclusionConfig) -> pd.Series:
    if not cfg.exclude_focus_lost:
        return pd.Series(False, index=rows.index)
    return rows["focus_lost"] == 1


ParticipantRule = Callable[[pd.DataFrame, ExclusionConfig], set[str]]
TrialRule = Callable[[pd.DataFrame, ExclusionConfig], pd.Series]

PARTICIPANT_RULES: dict[str, ParticipantRule] = {
    "catch accuracy": _catch_failures,
    "incomplete": _incomplete,
}
TRIAL_RULES: dict[str, TrialRule] = {
    "too fast": _too_fast,
    "timing missed": _timing_missed,
    "focus lost": _focus_lost,
}


def _setting(rule: str, cfg: ExclusionConfig) -> str:
    settings = {
        "practice": "never counted",
        "catch accuracy": f"accuracy < {cfg.min_catch_accuracy:g}",
        "incomplete": (
            f"fewer than {cfg.trials_per_participant or 'the most'} test trials"
            if cfg.require_complete
            else "off"
        ),
        "too fast": f"response < {cfg.min_response_ms:g} ms",
        "timing missed": (
            "off"
            if not cfg.exclude_timing_failures
            else "timing_ok = 0"
            if cfg.timing_tolerance_ms is None
            else f"timing_ok = 0 or timed |measured - target| > {cfg.timing_tolerance_ms:g} ms"
        ),
        "focus lost": "focus_lost = 1" if cfg.exclude_focus_lost else "off",
    }
    return settings[rule]


@dataclass(frozen=True)
class ExclusionResult:
    """Test judgments kept, the per-rule report, and which participants were dropped why."""

    kept: pd.DataFrame
    report: pd.DataFrame
    participants: pd.DataFrame


def _report_row(study: str, rule: str, cfg: ExclusionConfig, removed: pd.DataFrame, **kw: int):
    return {
        "study_id": study,
        "rule": rule,
        "setting": _setting(rule, cfg),
        "participants_excluded": kw.get("excluded", 0),
        "participants_affected": int(removed["participant_id"].nunique()),
        "trials_removed": len(removed),
        "judgments_removed": int((removed["kind"] == "test").sum()),
    }


def _apply_study(study: str, rows: pd.DataFrame, cfg: ExclusionConfig):
    report = [_report_row(study, "practice", cfg, rows[rows["kind"] == "practice"])]
    work = rows[rows["kind"] != "practice"]
    dropped: list[dict[str, str]] = []
    for rule, find in PARTICIPANT_RULES.items():
        bad = find(work, cfg)
        out = work["participant_id"].isin(bad)
        report.append(_report_row(study, rule, cfg, work[out], excluded=len(bad)))
        dropped += [{"study_id": study, "participant_id": p, "reason": rule} for p in sorted(bad)]
        work = work[~out]
    for rule, find in TRIAL_RULES.items():
        out = find(work, cfg).fillna(False).astype(bool)
        report.append(_report_row(study, rule, cfg, work[out]))
        work = work[~out]
    return work[work["kind"] == "test"], report, dropped


def apply_exclusions(
    frame: pd.DataFrame,
    configs: Mapping[str, ExclusionConfig] | None = None,
    default: ExclusionConfig | None = None,
) -> ExclusionResult:
    """Apply every rule per study (with that study's config) and report what each removed."""
    configs = configs or {}
    default = default or ExclusionConfig()
    kept: list[pd.DataFrame] = []
    report: list[dict[str, Any]] = []
    dropped: list[dict[str, str]] = []
    for study, rows in frame.groupby("study_id", sort=True):
        cfg = configs.get(str(study), default)
        k, r, d = _apply_study(str(study), rows, cfg)
        kept.append(k)
        report += r
        dropped += d
    report_df = pd.DataFrame(report)
    totals = frame[frame["kind"] == "test"].groupby("study_id").size()
    removed = report_df.groupby("study_id")["judgments_removed"].transform("cumsum")
    report_df["judgments_remaining"] = report_df["study_id"].map(totals).fillna(0) - removed
    report_df["judgments_remaining"] = report_df["judgments_remaining"].astype("int64")
    participants = pd.DataFrame(dropped, columns=["study_id", "participant_id", "reason"])
    return ExclusionResult(
        kept=pd.concat(kept).reset_index(drop=True),
        report=report_df,
        participants=participants,
    )
