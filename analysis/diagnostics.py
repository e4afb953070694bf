"""Diagnostics: position bias, per-image preference, participant agreement, devices, timing."""

from __future__ import annotations

import numpy as np
import pandas as pd
from scipy.stats import binomtest

from analysis.schema import CELL_KEYS, PARTICIPANT_KEYS, UNLIMITED, exposure_order


def _wilson(k: int, n: int) -> tuple[float, float, float]:
    test = binomtest(int(k), int(n), p=0.5)
    ci = test.proportion_ci(method="wilson")
    return float(ci.low), float(ci.high), float(test.pvalue)


def _with_wilson(frame: pd.DataFrame, k: str, n: str, prefix: str) -> pd.DataFrame:
    stats = [_wilson(a, b) for a, b in zip(frame[k], frame[n], strict=True)]
    frame[[f"{prefix}_lo", f"{prefix}_hi", "p_value"]] = pd.DataFrame(stats, index=frame.index)
    return frame


def position_bias(judgments: pd.DataFrame) -> pd.DataFrame:
    """How often the left image was chosen, per comparison and overall, tested against 50 %."""
    per = judgments.groupby(["dataset", "comparison"], sort=True)["chose_left"].agg(["size", "sum"])
    per = per.reset_index()
    total = pd.DataFrame(
        {
            "dataset": ["all"],
            "comparison": ["all"],
            "size": [len(judgments)],
            "sum": [int(judgments["chose_left"].sum())],
        }
    )
    table = pd.concat([per, total], ignore_index=True).rename(columns={"size": "n", "sum": "left"})
    table["left_rate"] = table["left"] / table["n"]
    return _with_wilson(table, "left", "n", "left")


def image_preference(judgments: pd.DataFrame) -> pd.DataFrame:
    """Per comparison x image: rate of method_a; `fails` where the Wilson interval is below 50 %."""
    keys = ["dataset", "comparison", "method_a", "method_b", "image_id"]
    table = judgments.groupby(keys, sort=True)["chose_a"].agg(["size", "sum"]).reset_index()
    table = table.rename(columns={"size": "n", "sum": "k"})
    table["rate"] = table["k"] / table["n"]
    table = _with_wilson(table, "k", "n", "wilson")
    table["fails"] = table["wilson_hi"] < 0.5
    return table.sort_values(["dataset", "comparison", "rate"], kind="stable").reset_index(
        drop=True
    )


def participant_agreement(judgments: pd.DataFrame, trials: pd.DataFrame) -> pd.DataFrame:
    """Per participant: judgments, agreement with everyone else's majority per cell, catch acc."""
    keys = [*PARTICIPANT_KEYS, *CELL_KEYS]
    own = judgments.groupby(keys, sort=False)["chose_a"].agg(["size", "sum"]).reset_index()
    cell = own.groupby(CELL_KEYS)[["size", "sum"]].transform("sum")
    others_n = cell["size"] - own["size"]
    others_rate = (cell["sum"] - own["sum"]) / others_n.where(others_n > 0)
    decided = others_rate.notna() & (others_rate != 0.5)
    # Judgments that agree with the other participants' majority in the same cell.
    agree = np.where(others_rate > 0.5, own["sum"], own["size"] - own["sum"])
    own["agree"] = np.where(decided, agree, 0)
    own["decided"] = np.where(decided, own["size"], 0)
    per = own.groupby(PARTICIPANT_KEYS)[["size", "sum", "agree", "decided"]].sum()
    per["rate_a"] = per["sum"] / per["size"]
    per["agreement"] = per["agree"] / per["decided"].where(per["decided"] > 0)
    catch = trials[trials["kind"] == "catch"].groupby(PARTICIPANT_KEYS)["chose_a"].mean()
    per["catch_accuracy"] = catch.reindex(per.index)
    per = per.rename(columns={"size": "judgments"}).drop(columns=["sum", "agree", "decided"])
    return per.reset_index()


def devices(trials: pd.DataFrame) -> pd.DataFrame:
    """Per participant: median frame interval, implied refresh rate, DPR and window size."""
    per = trials.groupby(PARTICIPANT_KEYS, sort=True).agg(
        frame_ms=("frame_ms", "median"),
        dpr=("dpr", "median"),
        window_w=("window_w", "median"),
        window_h=("window_h", "median"),
        trials=("trial_index", "size"),
    )
    per["refresh_hz"] = 1000.0 / per["frame_ms"]
    return per.reset_index()


def device_summary(per_participant: pd.DataFrame) -> pd.DataFrame:
    """Counts of participants by rounded refresh rate and by device pixel ratio."""
    hz = per_participant["refresh_hz"].round().astype("Int64").astype(str).replace("<NA>", "?")
    dpr = per_participant["dpr"].map(lambda v: "?" if pd.isna(v) else f"{v:g}")
    rows = [("refresh_hz", value, count) for value, count in hz.value_counts().items()]
    rows += [("dpr", value, count) for value, count in dpr.value_counts().items()]
    return pd.DataFrame(rows, columns=["measure", "value", "participants"])


def timing_summary(trials: pd.DataFrame) -> pd.DataFrame:
    """Per exposure: trials, share flagged timing_ok = 0, and median |measured - target| in ms."""
    timed = trials.assign(
        miss=(trials["exposure_ms_measured"] - trials["exposure_ms_target"]).abs()
    )
    table = timed.groupby("exposure").agg(
        trials=("timing_ok", "size"),
        flagged=("timing_ok", lambda s: int((s == 0).sum())),
        median_miss_ms=("miss", "median"),
    )
    table = table.reindex(exposure_order(table.index)).reset_index()
    table["flagged_share"] = table["flagged"] / table["trials"]
    overall = {
        "exposure": "all timed",
        "trials": int((trials["exposure"] != UNLIMITED).sum()),
        "flagged": int(((trials["timing_ok"] == 0) & (trials["exposure"] != UNLIMITED)).sum()),
        "median_miss_ms": float(timed.loc[timed["exposure"] != UNLIMITED, "miss"].median()),
    }
    overall["flagged_share"] = overall["flagged"] / max(overall["trials"], 1)
    return pd.concat([table, pd.DataFrame([overall])], ignore_index=True)
