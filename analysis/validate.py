"""Check raw (all-text) response rows against contract 5 (docs/contracts.md) and type them."""

from __future__ import annotations

import numpy as np
import pandas as pd

from analysis.errors import AnalysisInputError
from analysis.schema import CATCH_COMPARISON, COLUMNS, KINDS, UNLIMITED

REQUIRED_TEXT = (
    "study_id",
    "dataset",
    "participant_id",
    "kind",
    "comparison",
    "image_id",
    "method_a",
    "method_b",
    "left_method",
    "right_method",
    "chosen_method",
    "exposure",
)
OPTIONAL_NUMBERS = (
    "exposure_ms_target",
    "exposure_ms_measured",
    "frame_ms",
    "dpr",
    "response_ms",
    "window_w",
    "window_h",
)
FLAGS = ("timing_ok", "focus_lost")


def _fail(source: str, frame: pd.DataFrame, bad: pd.Series, what: str) -> None:
    """Raise naming the first offending row (CSV line = index + 2) and how many rows are bad."""
    if not bool(bad.any()):
        return
    first = int(np.flatnonzero(bad.to_numpy())[0])
    count = int(bad.sum())
    more = f" ({count} rows in all)" if count > 1 else ""
    line = frame.index[first] + 2
    raise AnalysisInputError(f"{source} line {line}: {what}{more}")


def _check_columns(raw: pd.DataFrame, source: str) -> None:
    missing = [c for c in COLUMNS if c not in raw.columns]
    if missing:
        raise AnalysisInputError(
            f"{source}: missing column(s) {', '.join(missing)} (contract 5 in docs/contracts.md "
            f"expects {', '.join(COLUMNS)})"
        )
    if raw.empty:
        raise AnalysisInputError(f"{source} has a header but no responses")


def _text(raw: pd.DataFrame, source: str) -> pd.DataFrame:
    out = pd.DataFrame(index=raw.index)
    for col in (*REQUIRED_TEXT, "platform", "user_agent", "shown_at", "answered_at"):
        out[col] = raw[col].astype(str).str.strip()
    for col in REQUIRED_TEXT:
        empty = out[col] == ""
        _fail(source, raw, empty, f"column {col} is empty (it is required)")
    bad_kind = ~out["kind"].isin(KINDS)
    value = out["kind"][bad_kind].iloc[0] if bad_kind.any() else ""
    _fail(source, raw, bad_kind, f"kind {value!r} is not one of {', '.join(KINDS)}")
    return out


def _number(raw: pd.DataFrame, col: str, source: str, required: bool) -> pd.Series:
    text = raw[col].astype(str).str.strip()
    values = pd.to_numeric(text.where(text != "", None), errors="coerce").astype("float64")
    bad = values.isna() & (text != "")
    shown = text[bad].iloc[0] if bad.any() else ""
    _fail(source, raw, bad, f"column {col} has {shown!r}, expected a number")
    if required:
        _fail(source, raw, text == "", f"column {col} is empty (expected a number)")
    return values


def _exposure(text: pd.Series, raw: pd.DataFrame, source: str) -> pd.Series:
    """Normalise exposure keys: "unlimited" or a positive whole number of ms ("125.0" -> "125")."""
    lowered = text.str.lower()
    ms = pd.to_numeric(lowered.where(lowered != UNLIMITED, None), errors="coerce")
    timed_ok = ms.notna() & (ms > 0) & (ms == ms.round()) & np.isfinite(ms)
    bad = (lowered != UNLIMITED) & ~timed_ok
    shown = text[bad].iloc[0] if bad.any() else ""
    _fail(source, raw, bad, f"exposure {shown!r} is neither 'unlimited' nor a positive ms count")
    keys = ms.where(timed_ok, 0).astype("int64").astype(str)
    return keys.where(lowered != UNLIMITED, UNLIMITED).astype(str)


def _check_numbers(out: pd.DataFrame, raw: pd.DataFrame, source: str) -> None:
    idx = out["trial_index"]
    _fail(source, raw, (idx < 0) | (idx != idx.round()), "trial_index must be a whole number >= 0")
    for col in FLAGS:
        _fail(source, raw, ~out[col].isin([0.0, 1.0]), f"column {col} must be 0 or 1")
    for col in ("exposure_ms_measured", "response_ms", "window_w", "window_h"):
        _fail(source, raw, out[col] < 0, f"column {col} is negative (impossible)")
    for col in ("frame_ms", "dpr"):
        _fail(source, raw, out[col] <= 0, f"column {col} must be > 0 when given")
    unlimited = out["exposure"] == UNLIMITED
    target = out["exposure_ms_target"]
    _fail(source, raw, unlimited & target.notna(), "exposure_ms_target must be empty for unlimited")
    timed_key = pd.to_numeric(out["exposure"].where(~unlimited, None), errors="coerce")
    mismatch = ~unlimited & (target.isna() | (target != timed_key))
    _fail(source, raw, mismatch, "exposure_ms_target must equal the exposure for timed trials")


def _check_methods(out: pd.DataFrame, raw: pd.DataFrame, source: str) -> None:
    a, b = out["method_a"], out["method_b"]
    left, right = out["left_method"], out["right_method"]
    _fail(source, raw, a == b, "method_a and method_b are the same method")
    shown = ((left == a) & (right == b)) | ((left == b) & (right == a))
    _fail(source, raw, ~shown, "left_method/right_method are not method_a and method_b")
    chosen = out["chosen_method"]
    _fail(source, raw, (chosen != a) & (chosen != b), "chosen_method is neither method_a nor b")
    catch = out["kind"] == "catch"
    is_catch_cmp = out["comparison"] == CATCH_COMPARISON
    _fail(source, raw, catch != is_catch_cmp, "catch rows (and only they) have comparison 'catch'")
    # The real set's name comes from study.json ([catch] real); load.py checks it there.
    for study, real in out[catch].groupby("study_id")["method_a"].unique().items():
        if len(real) > 1:
            names = ", ".join(map(repr, sorted(real)))
            raise AnalysisInputError(
                f"{source}: catch rows of study {study!r} name several real sets ({names}); "
                "expected one (the spec's [catch] real)"
            )
    pairs = out[~catch].groupby(["dataset", "comparison"])[["method_a", "method_b"]].nunique()
    clash = pairs[(pairs > 1).any(axis=1)]
    if not clash.empty:
        dataset, comparison = clash.index[0]
        raise AnalysisInputError(
            f"{source}: comparison {comparison!r} of data set {dataset!r} pairs different "
            "methods on different rows (method_a/method_b must be fixed per comparison)"
        )


def _times(out: pd.DataFrame, raw: pd.DataFrame, source: str) -> None:
    for col in ("shown_at", "answered_at"):
        text = out[col]
        given = text.where(text != "", None)
        parsed = pd.to_datetime(given, utc=True, errors="coerce", format="ISO8601")
        _fail(source, raw, parsed.isna() & (text != ""), f"{col} is not an ISO-8601 time")
        out[col] = parsed
    backwards = out["answered_at"] < out["shown_at"]
    _fail(source, raw, backwards, "answered_at is earlier than shown_at (impossible)")


def validate_responses(raw: pd.DataFrame, source: str) -> pd.DataFrame:
    """Validate raw text rows of contract 5 and return typed columns plus `chose_a`/`chose_left`."""
    _check_columns(raw, source)
    raw = raw.reset_index(drop=True)
    out = _text(raw, source)
    out["exposure"] = _exposure(out["exposure"], raw, source)
    out["trial_index"] = _number(raw, "trial_index", source, required=True)
    for col in FLAGS:
        out[col] = _number(raw, col, source, required=True)
    for col in OPTIONAL_NUMBERS:
        out[col] = _number(raw, col, source, required=False)
    _check_numbers(out, raw, source)
    _check_methods(out, raw, source)
    _times(out, raw, source)
    for col in ("trial_index", *FLAGS):
        out[col] = out[col].astype("int64")
    out = out[list(COLUMNS)].copy()
    out["chose_a"] = (out["chosen_method"] == out["method_a"]).astype("int8")
    out["chose_left"] = (out["chosen_method"] == out["left_method"]).astype("int8")
    return out
