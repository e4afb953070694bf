"""Figures drawn with seaborn on matplotlib's Agg canvas (no pyplot state), saved as PNG and SVG."""

from __future__ import annotations

import io
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np
import pandas as pd

from analysis.schema import UNLIMITED, exposure_ms

if TYPE_CHECKING:
    from matplotlib.axes import Axes
    from matplotlib.figure import Figure


@dataclass(frozen=True)
class SavedFigure:
    """Where a figure was written, with its SVG text for inline embedding."""

    png: Path
    svg: Path
    svg_text: str


def new_figure(width: float, height: float) -> Figure:
    """A figure bound to the Agg canvas, created inside the call (no global backend switch)."""
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    fig = Figure(figsize=(width, height), dpi=100, layout="constrained")
    FigureCanvasAgg(fig)
    return fig


def save_figure(fig: Figure, out_dir: Path, stem: str) -> SavedFigure:
    """Write `stem`.png and `stem`.svg under out_dir; return the paths and the SVG text."""
    out_dir.mkdir(parents=True, exist_ok=True)
    png_buf, svg_buf = io.BytesIO(), io.StringIO()
    fig.savefig(png_buf, format="png", dpi=120)
    fig.savefig(svg_buf, format="svg", metadata={"Date": None})
    png, svg = out_dir / f"{stem}.png", out_dir / f"{stem}.svg"
    png.write_bytes(png_buf.getvalue())
    svg.write_text(svg_buf.getvalue(), encoding="utf-8")
    return SavedFigure(png, svg, svg_buf.getvalue())


def _unlimited_x(rates: pd.DataFrame) -> float:
    timed = [exposure_ms(e) for e in rates["exposure"] if e != UNLIMITED]
    return 2.5 * max(timed) if timed else 1000.0


def _exposure_axes(ax: Axes, rates: pd.DataFrame, bands: pd.DataFrame, dataset: str) -> None:
    import seaborn as sns

    x_unl = _unlimited_x(rates)
    points = rates.assign(
        x=[x_unl if e == UNLIMITED else exposure_ms(e) for e in rates["exposure"]],
        label=rates["method_a"] + " vs " + rates["method_b"],
    )
    labels = sorted(points["label"].unique())
    palette = dict(zip(labels, sns.color_palette("colorblind", len(labels)), strict=True))
    # Nudge each comparison's points sideways (multiplicatively, on the log axis) so that
    # overlapping interval bars stay readable.
    nudge = {lab: 1.06 ** (i - (len(labels) - 1) / 2) for i, lab in enumerate(labels)}
    points["x"] = points["x"] * points["label"].map(nudge)
    for (comparison, label), pts in points.groupby(["comparison", "label"], sort=True):
        color = palette[label]
        band = bands[bands["comparison"] == comparison]
        if not band.empty:
            ax.fill_between(band["exposure_ms"], band["lo"], band["hi"], color=color, alpha=0.2)
            sns.lineplot(x=band["exposure_ms"], y=band["fit"], ax=ax, color=color)
        err = np.vstack([pts["rate"] - pts["wilson_lo"], pts["wilson_hi"] - pts["rate"]])
        ax.errorbar(pts["x"], pts["rate"], yerr=err, fmt="none", ecolor=color, capsize=2)
    sns.scatterplot(data=points, x="x", y="rate", hue="label", palette=palette, ax=ax, s=30)
    ax.axhline(0.5, color="grey", lw=0.8, ls="--")
    ax.set_xscale("log")
    ticks = sorted({exposure_ms(e) for e in rates["exposure"] if e != UNLIMITED})
    ax.set_xticks([*ticks, x_unl], [*(f"{t:g}" for t in ticks), "unlimited"], minor=False)
    ax.minorticks_off()
    ax.set_ylim(0, 1)
    ax.set(title=dataset, xlabel="exposure (ms, log scale)", ylabel="P(first method chosen)")
    ax.legend(title=None, fontsize="small", loc="lower right")


def exposure_figure(rates: pd.DataFrame, bands: pd.DataFrame) -> Figure:
    """Preference vs exposure per data set: Wilson-interval points, logistic fit and its band."""
    import seaborn as sns

    datasets = sorted(rates["dataset"].unique())
    with sns.axes_style("whitegrid"):
        fig = new_figure(5.5 * len(datasets), 4.2)
        axes = fig.subplots(1, len(datasets), squeeze=False)[0]
        for ax, dataset in zip(axes, datasets, strict=True):
            _exposure_axes(
                ax, rates[rates["dataset"] == dataset], bands[bands["dataset"] == dataset], dataset
            )
    return fig


def rankings_figure(rankings: pd.DataFrame) -> Figure:
    """Bradley-Terry strengths with bootstrap intervals, one panel per data set."""
    import seaborn as sns

    datasets = sorted(rankings["dataset"].unique()) or ["(none)"]
    with sns.axes_style("whitegrid"):
        fig = new_figure(4.5 * len(datasets), 0.5 + 0.45 * max(3, rankings["method"].nunique()))
        axes = fig.subplots(1, len(datasets), squeeze=False)[0]
        for ax, dataset in zip(axes, datasets, strict=True):
            rows = rankings[rankings["dataset"] == dataset]
            sns.pointplot(data=rows, x="strength", y="method", ax=ax, linestyle="none")
            err = np.vstack(
                [rows["strength"] - rows["strength_lo"], rows["strength_hi"] - rows["strength"]]
            )
            ax.errorbar(rows["strength"], np.arange(len(rows)), xerr=err, fmt="none", capsize=3)
            ax.axvline(0, color="grey", lw=0.8, ls="--")
            ax.set(title=dataset, xlabel="Bradley-Terry log-strength", ylabel="")
    return fig


def diagnostics_figure(
    position: pd.DataFrame, agreement: pd.DataFrame, devices: pd.DataFrame, timing: pd.DataFrame
) -> Figure:
    """Four panels: left-choice rate, participant agreement, refresh rates, timing flags."""
    import seaborn as sns

    with sns.axes_style("whitegrid"):
        fig = new_figure(11, 7.5)
        (a, b), (c, d) = fig.subplots(2, 2)
        pos = position.assign(label=position["dataset"] + " / " + position["comparison"])
        sns.barplot(data=pos, x="left_rate", y="label", ax=a, color="#4c72b0")
        a.axvline(0.5, color="grey", ls="--", lw=0.8)
        a.set(xlim=(0, 1), xlabel="share of left image chosen", ylabel="", title="Position bias")
        sns.histplot(agreement["agreement"].dropna(), ax=b, bins=20, binrange=(0, 1))
        b.set(xlabel="agreement with others' majority", title="Participants")
        sns.histplot(devices["refresh_hz"].dropna(), ax=c, bins=20)
        c.set(xlabel="refresh rate (Hz, 1000 / median frame ms)", title="Displays")
        overall = timing.loc[timing["exposure"] == "all timed", "flagged_share"]
        share = f"{100 * float(overall.iloc[0]):.1f} %" if len(overall) else "n/a"
        tim = timing[~timing["exposure"].isin([UNLIMITED, "all timed"])]
        sns.barplot(data=tim, x="exposure", y="flagged_share", ax=d, color="#dd8452")
        d.set(xlabel="exposure (ms)", ylabel="share with timing_ok = 0")
        d.set_title(f"Timing (all timed trials: {share} flagged)")
    return fig
