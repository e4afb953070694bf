"""Files and report section of the real-or-fake tasks: rates, tables, thresholds, staircase plot."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd

from analysis.hype import TaskResults
from analysis.plots import SavedFigure, new_figure, save_figure
from analysis.tables import table_frame, to_csv, to_latex, to_markdown
from crn.fsutil import atomic_write_text


def _csv(frame: pd.DataFrame, path: Path) -> None:
    atomic_write_text(path, frame.to_csv(index=False, float_format="%.6g"))


def write_task_files(tasks: TaskResults | None, out: Path) -> SavedFigure | None:
    """hype_*.csv/.md/.tex and staircase_*.csv plus staircases.png/.svg, where there is data."""
    if tasks is None or tasks.empty:
        return None
    for stem, table in (("hype_table", tasks.table), ("threshold_table", tasks.threshold_table)):
        if table is not None:
            atomic_write_text(out / f"{stem}.md", to_markdown(table))
            atomic_write_text(out / f"{stem}.tex", to_latex(table))
            atomic_write_text(out / f"{stem}.csv", to_csv(table))
    if not tasks.rates.empty:
        _csv(tasks.rates, out / "hype_rates.csv")
    if tasks.thresholds.empty:
        return None
    _csv(tasks.thresholds, out / "staircase_thresholds.csv")
    _csv(tasks.participants, out / "staircase_participants.csv")
    _csv(tasks.tracks, out / "staircase_tracks.csv")
    return save_figure(staircase_figure(tasks.tracks, tasks.thresholds), out, "staircases")


def staircase_figure(tracks: pd.DataFrame, thresholds: pd.DataFrame):
    """Each participant's exposure track per task (reversals marked), threshold as a line."""
    tasks = list(dict.fromkeys(zip(tracks["dataset"], tracks["task"], strict=True)))
    fig = new_figure(7.0, 2.6 * len(tasks))
    axes = fig.subplots(len(tasks), 1, squeeze=False)[:, 0]
    for ax, (dataset, task) in zip(axes, tasks, strict=True):
        mine = tracks[(tracks["dataset"] == dataset) & (tracks["task"] == task)]
        for _, person in mine.groupby(["study_id", "participant_id"], sort=True):
            ax.plot(person["step"], person["exposure_ms_target"], lw=0.8, alpha=0.45)
            turns = person[person["reversal"]]
            ax.plot(turns["step"], turns["exposure_ms_target"], "k.", ms=2.5)
        row = thresholds[(thresholds["dataset"] == dataset) & (thresholds["task"] == task)]
        if not row.empty and np.isfinite(row["threshold_ms"].iloc[0]):
            value = row["threshold_ms"].iloc[0]
            ax.axhline(value, color="k", lw=1.5, ls="--", label=f"threshold {value:.0f} ms")
            ax.legend(loc="upper right", fontsize=8)
        ax.set_yscale("log")
        ax.set_title(f"{dataset}: {task}", fontsize=10)
        ax.set_xlabel("staircase trial")
        ax.set_ylabel("exposure (ms)")
    return fig


def task_html(tasks: TaskResults | None, figure: SavedFigure | None, html_table) -> dict:
    """HTML pieces of the report's real-or-fake section (empty dict when there is none)."""
    if tasks is None or tasks.empty:
        return {}
    out = {}
    if tasks.table is not None:
        out["hype_table"] = table_frame(tasks.table).to_html(index=False, border=0, classes="paper")
        out["hype_caption"] = tasks.table.caption
        out["hype_rates"] = html_table(tasks.rates)
    if tasks.threshold_table is not None:
        table = tasks.threshold_table
        out["threshold_table"] = table_frame(table).to_html(index=False, border=0, classes="paper")
        out["threshold_caption"] = table.caption
        out["threshold_participants"] = html_table(tasks.participants)
    if figure is not None:
        start = figure.svg_text.find("<svg")
        out["staircases"] = figure.svg_text[start:] if start >= 0 else figure.svg_text
    return out
