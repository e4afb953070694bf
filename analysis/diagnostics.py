"""Diagnostics: position bias, per-image preference, participant agreement, devices, timing."""

from __future__ import annotations

import numpy as np
import pandas as pd

from analysis.schema import CELL_KEYS, IMAGE_KEYS, PARTICIPANT_KEYS, UNLIMITED, exposure_order
from crnkit_common.proportions import crossed_rates, independent_intervals


def position_bias(judgments: pd.DataFrame) -> pd.DataFrame:
    """How often the left image was chosen, per comparison and overall, tested against 50 %.

    The interval and test are the crossed participant x image ones of the headline rates: a
    person's habit of pressing one side is exactly the clustering they allow for.
    """
    frame = judgments.assign(_all="all")
    per = crossed_rates(
        frame, ["dataset", "comparison"], "chose_left", PARTICIPANT_KEYS, IMAGE_KEYS
    )
    total = crossed_rates(frame, ["_all"], "chose_left", PARTICIPANT_KEYS, IMAGE_KEYS)
    total = total.rename(columns={"_all": "dataset"}).assign(comparison="all")
    table = pd.concat([per, total], ignore_index=True)
    table = table.rename(columns={"rate": "left_rate", "lo": "left_lo", "hi": "left_hi"})
    table["left"] = (table["left_rate"] * table["n"]).round().astype(int)
    columns = ["dataset", "comparison", "n", "left", "left_rate", "left_lo", "left_hi", "p_value"]
    return table[columns]


def image_preference(judgments: pd.DataFrame) -> pd.DataFrame:
    """Per comparison x image: rate of method_a; `fails` where the Wilson interval is below 50 %."""
    keys = ["dataset", "comparison", "method_a", "method_b", "image_id"]
    table = judgments.groupby(keys, sort=True)["chose_a"].agg(["size", "sum"]).reset_index()
    table = table.rename(columns={"size": "n", "sum": "k"})
    table["rate"] = table["k"] / table["n"]
    # One image's judgments come from different people, mostly one each: Wilson fits here.
    wilson = independent_intervals(table["k"].to_numpy(), table["n"].to_numpy(), test=False)
    table["wilson_lo"], table["wilson_hi"] = wilson["wilson_lo"], wilson["wilson_hi"]
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
