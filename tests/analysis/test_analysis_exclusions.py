"""Each exclusion rule on hand-made rows, the per-rule report, and where settings come from."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from analysis.errors import AnalysisInputError
from analysis.exclusions import ExclusionConfig, apply_exclusions, exclusion_config

CATCH = {"kind": "catch", "comparison": "catch", "method_a": "real", "method_b": "blur"}
CATCH_OK = CATCH | {"left_method": "real", "right_method": "blur", "chosen_method": "real"}
CATCH_BAD = CATCH_OK | {"chosen_method": "blur"}
UNLIMITED = {"exposure": "unlimited", "exposure_ms_target": "", "exposure_ms_measured": ""}


@pytest.fixture
def rows(make_rows):
    """p1 good; p2 fails catch; p3: one fast, one mistimed, one unfocused trial; p4 short."""
    p1 = [{"participant_id": "p1"} | r for r in (CATCH_OK, CATCH_OK, {}, {}, {})]
    p1.insert(0, {"participant_id": "p1", "kind": "practice", "chosen_method": "pix2pix"})
    p2 = [{"participant_id": "p2"} | r for r in (CATCH_OK, CATCH_BAD, CATCH_BAD, {}, {}, {})]
    p3 = [
        {"participant_id": "p3", "response_ms": "150"},
        {"participant_id": "p3", "timing_ok": "0", "exposure_ms_measured": "1040"},
        {"participant_id": "p3", "focus_lost": "1"},
        {"participant_id": "p3", "timing_ok": "1"} | UNLIMITED,
    ]
    p4 = [{"participant_id": "p4"}]
    frame = make_rows(*p1, *p2, *p3, *p4)
    # trial_index restarts per participant in real exports; uniqueness is per participant.
    frame["trial_index"] = frame.groupby("participant_id").cumcount()
    return frame


def _report(result):
    return result.report.set_index("rule")


def test_defaults_remove_catch_failures_fast_answers_and_mistimed_trials(rows):
    result = apply_exclusions(rows)
    report = _report(result)
    assert report.loc["practice", "trials_removed"] == 1
    assert report.loc["catch accuracy", "participants_excluded"] == 1
    assert report.loc["catch accuracy", "judgments_removed"] == 3
    assert list(result.participants["participant_id"]) == ["p2"]
    assert report.loc["too fast", "judgments_removed"] == 1
    assert report.loc["timing missed", "judgments_removed"] == 1
    assert report.loc["focus lost", "judgments_removed"] == 0  # off by default
    assert report.loc["incomplete", "judgments_removed"] == 0  # off by default
    # 3 (p1) + 4 (p3) + 1 (p4) test judgments, minus the fast and the mistimed one.
    assert len(result.kept) == 6
    assert report["judgments_remaining"].iloc[-1] == 6
    assert (result.kept["kind"] == "test").all()


def test_practice_never_counts(rows):
    kept = apply_exclusions(rows).kept
    assert not (kept["chosen_method"] == "pix2pix").any()  # only the practice row chose it


def test_focus_and_completeness_rules(rows):
    cfg = ExclusionConfig(exclude_focus_lost=True, require_complete=True, trials_per_participant=3)
    report = _report(apply_exclusions(rows, default=cfg))
    assert report.loc["focus lost", "judgments_removed"] == 1
    assert report.loc["incomplete", "participants_excluded"] == 1  # p4 has 1 of 3 test trials
    assert report.loc["incomplete", "judgments_removed"] == 1


def test_completeness_without_declared_length_uses_the_longest(rows):
    cfg = ExclusionConfig(require_complete=True)
    result = apply_exclusions(rows, default=cfg)
    # p3 has the most test trials (4); p1 (3) and p4 (1) fall short, p2 already failed catch.
    dropped = result.participants.set_index("participant_id")["reason"]
    assert dropped.to_dict() == {"p2": "catch accuracy", "p1": "incomplete", "p4": "incomplete"}
    assert _report(result).loc["incomplete", "participants_excluded"] == 2
    assert _report(result).loc["incomplete", "judgments_removed"] == 4


def test_catch_threshold_is_configurable(rows):
    lenient = apply_exclusions(rows, default=ExclusionConfig(min_catch_accuracy=0.3))
    assert _report(lenient).loc["catch accuracy", "participants_excluded"] == 0
    strict = apply_exclusions(rows, default=ExclusionConfig(min_catch_accuracy=1.0))
    assert _report(strict).loc["catch accuracy", "participants_excluded"] == 1


def test_fast_floor_and_timing_switch(rows):
    cfg = ExclusionConfig(min_response_ms=0, exclude_timing_failures=False)
    result = apply_exclusions(rows, default=cfg)
    assert _report(result).loc["too fast", "judgments_removed"] == 0
    assert _report(result).loc["timing missed", "judgments_removed"] == 0
    assert len(result.kept) == 8


def test_timing_tolerance_adds_to_the_flag(rows):
    # 1001.5 ms measured on normal trials, 1040 ms on the flagged one; unlimited has no target.
    tight = apply_exclusions(rows, default=ExclusionConfig(timing_tolerance_ms=1.0))
    assert _report(tight).loc["timing missed", "judgments_removed"] == 6  # all timed tests
    # Within a loose tolerance the flagged trial still fails: the rule is "flag or tolerance".
    loose = apply_exclusions(rows, default=ExclusionConfig(timing_tolerance_ms=50.0))
    assert _report(loose).loc["timing missed", "judgments_removed"] == 1


def test_a_flagged_unlimited_trial_fails_timing(rows):
    unlimited = rows.index[(rows["exposure"] == "unlimited") & (rows["kind"] == "test")][0]
    flagged = rows.assign(timing_ok=np.where(rows.index == unlimited, 0, rows["timing_ok"]))
    before = _report(apply_exclusions(rows)).loc["timing missed", "judgments_removed"]
    after = _report(apply_exclusions(flagged)).loc["timing missed", "judgments_removed"]
    assert after == before + 1


def test_timing_rule_reads_the_same_in_help_and_docs():
    from pathlib import Path

    from analysis.cli import _report_parser
    from analysis.schema import TIMING_RULE

    docs = Path(__file__).resolve().parents[2] / "docs" / "analysis.md"
    assert TIMING_RULE in " ".join(docs.read_text(encoding="utf-8").split())
    assert TIMING_RULE in " ".join(_report_parser("crnkit analyze").format_help().split())


def test_settings_come_from_study_json_then_overrides():
    cfg = exclusion_config({"min_catch_accuracy": 0.9, "exclude_focus_lost": True, "other": 1})
    assert cfg.min_catch_accuracy == 0.9 and cfg.exclude_focus_lost
    assert cfg.min_response_ms == 200.0  # built-in default
    cfg = exclusion_config({"min_catch_accuracy": 0.9}, {"min_catch_accuracy": 0.5})
    assert cfg.min_catch_accuracy == 0.5
    with pytest.raises(AnalysisInputError, match="must be true or false"):
        exclusion_config({"exclude_focus_lost": "yes"})
    with pytest.raises(AnalysisInputError, match="between 0 and 1"):
        exclusion_config({"min_catch_accuracy": 75})
    with pytest.raises(AnalysisInputError, match="unknown exclusion setting"):
        exclusion_config({}, {"min_speed": 3})


def test_per_study_configs(rows):
    both = pd.concat([rows, rows.assign(study_id="s2")], ignore_index=True)
    configs = {"s2": ExclusionConfig(min_catch_accuracy=0.0)}
    report = apply_exclusions(both, configs).report
    caught = report[report["rule"] == "catch accuracy"].set_index("study_id")
    assert caught.loc["s1", "participants_excluded"] == 1
    assert caught.loc["s2", "participants_excluded"] == 0


def test_null_settings_in_study_json_mean_defaults():
    cfg = exclusion_config({"trials_per_participant": None, "min_response_ms": None})
    assert cfg.trials_per_participant is None and cfg.min_response_ms == 200.0
