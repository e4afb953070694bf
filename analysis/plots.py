"""Figures drawn with seaborn on matplotlib's Agg canvas (no pyplot state), saved as PNG and SVG."""

from __future__ import annotations

import io
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np
import pandas as pd

from analysis.palette import method_colour
from analysis.schema import UNLIMITED, exposure_label, exposure_ms, exposure_order

if TYPE_CHECKING:
    from matplotlib.axes import Axes
    from matplotlib.figure import Figure

    from analysis.curves import ExposureCurves


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


def headline_interval(rates: pd.DataFrame) -> tuple[pd.Series, pd.Series]:
    """The interval drawn on rate points: the rate table's headline (crossed) `lo`/`hi`."""
    return rates["lo"], rates["hi"]


def oriented_points(rates: pd.DataFrame, focal: str | None) -> pd.DataFrame:
    """Cell rates as P(method chosen) over `versus`: the focal method where it takes part."""
    lo, hi = headline_interval(rates)
    flip = (rates["method_b"] == focal).to_numpy() & (focal is not None)
    return pd.DataFrame(
        {
            "dataset": rates["dataset"],
            "comparison": rates["comparison"],
            "method": rates["method_a"].where(~flip, rates["method_b"]),
            "versus": rates["method_b"].where(~flip, rates["method_a"]),
            "exposure": rates["exposure"],
            "rate": rates["rate"].where(~flip, 1 - rates["rate"]),
            "lo": lo.where(~flip, 1 - hi),
            "hi": hi.where(~flip, 1 - lo),
        }
    ).reset_index(drop=True)


@dataclass(frozen=True)
class ExposureAxis:
    """The x positions every exposure panel shares: all timed exposures, then "unlimited"."""

    ticks: list[float]
    unlimited_x: float

    @classmethod
    def of(cls, exposures: pd.Series) -> ExposureAxis:
        """Every exposure of the study, so that a method lacking some keeps the same axis."""
        timed = sorted({exposure_ms(e) for e in exposures if e != UNLIMITED})
        return cls(timed, 2.5 * max(timed) if timed else 1000.0)

    def x(self, exposures: pd.Series) -> np.ndarray:
        """Plot positions of exposure keys (milliseconds; "unlimited" to the right)."""
        return np.array([self.unlimited_x if e == UNLIMITED else exposure_ms(e) for e in exposures])

    def apply(self, ax: Axes) -> None:
        """Log axis with a tick at every exposure and one labelled "unlimited"."""
        ax.set_xscale("log")
        labels = [*(f"{t:g}" for t in self.ticks), UNLIMITED]
        ax.set_xticks([*self.ticks, self.unlimited_x], labels, minor=False)
        ax.minorticks_off()
        left = min([*self.ticks, self.unlimited_x]) / 1.5
        ax.set_xlim(left, self.unlimited_x * 1.5)


def _draw_halfway(ax: Axes, fit: pd.Series, axis: ExposureAxis, colour: str) -> None:
    """A bar at half height from chance to the asymptote over the halfway interval."""
    if not np.isfinite(fit["halfway_ms"]):
        return
    y = 0.5 + (fit["asymptote"] - 0.5) / 2
    left = ax.get_xlim()[0]
    lo = fit["halfway_ms_lo"] if np.isfinite(fit["halfway_ms_lo"]) else fit["halfway_ms"]
    hi = fit["halfway_ms_hi"] if np.isfinite(fit["halfway_ms_hi"]) else fit["halfway_ms"]
    lo, hi = max(lo, left), min(hi, axis.unlimited_x / 1.2)
    ax.plot([lo, hi], [y, y], color=colour, lw=1.0, alpha=0.8)
    ax.plot([fit["halfway_ms"]], [y], marker="|", ms=10, mew=2, color=colour)


def _draw_series(ax: Axes, pts: pd.DataFrame, band: pd.DataFrame, colour: str) -> None:
    if not band.empty:
        ax.fill_between(band["exposure_ms"], band["lo"], band["hi"], color=colour, alpha=0.18)
        ax.plot(band["exposure_ms"], band["fit"], color=colour, lw=1.6)
    # A cell without an interval (one participant or image) gets its point but no bar.
    err = np.nan_to_num(np.vstack([pts["rate"] - pts["lo"], pts["hi"] - pts["rate"]]))
    ax.errorbar(pts["x"], pts["rate"], yerr=err, fmt="none", ecolor=colour, capsize=2, lw=1)
    timed = pts["exposure"] != UNLIMITED
    ax.scatter(pts.loc[timed, "x"], pts.loc[timed, "rate"], color=colour, s=26, marker="o")
    ax.scatter(pts.loc[~timed, "x"], pts.loc[~timed, "rate"], color=colour, s=34, marker="D")


def _legend(ax: Axes, series: list[tuple[str, str]], level: int) -> None:
    from matplotlib.lines import Line2D

    handles = [Line2D([], [], color=c, marker="o", lw=1.6, label=lab) for lab, c in series]
    grey = "#777777"
    handles += [
        Line2D([], [], color=grey, marker="o", ls="none", label="timed exposure (fitted)"),
        Line2D([], [], color=grey, marker="D", ls="none", label="unlimited (not fitted)"),
        Line2D([], [], color=grey, marker="|", ms=10, mew=2, label=f"halfway, {level} % CI"),
    ]
    ax.legend(handles=handles, fontsize="x-small", loc="best", framealpha=0.85)


def _exposure_panel(ax: Axes, panel: dict, axis: ExposureAxis, level: int) -> None:
    points, fits, bands = panel["points"], panel["fits"], panel["bands"]
    keys = points[["comparison", "method", "versus"]].drop_duplicates()
    keys = keys.sort_values(["versus", "method"], kind="stable").reset_index(drop=True)
    axis.apply(ax)
    series = []
    for i, key in keys.iterrows():
        colour = method_colour(key["versus"])
        # Nudge series sideways (multiplicatively, on the log axis) so interval bars stay apart.
        nudge = 1.05 ** (i - (len(keys) - 1) / 2)
        mine = points["comparison"] == key["comparison"]
        pts = points[mine].assign(x=axis.x(points.loc[mine, "exposure"]) * nudge)
        band = bands[bands["comparison"] == key["comparison"]]
        _draw_series(ax, pts, band, colour)
        fit = fits[fits["comparison"] == key["comparison"]]
        if not fit.empty:
            _draw_halfway(ax, fit.iloc[0], axis, colour)
        label = f"vs {key['versus']}" if panel["focal"] else f"{key['method']} vs {key['versus']}"
        series.append((label, colour))
    ax.axhline(0.5, color="grey", lw=0.8, ls="--")
    ax.set_ylim(0, 1)
    ax.set(title=panel["title"], xlabel="exposure (ms, log scale)", ylabel=panel["ylabel"])
    _legend(ax, series, level)


def _pick(frame: pd.DataFrame, dataset: str, comparisons: set[str]) -> pd.DataFrame:
    return frame[(frame["dataset"] == dataset) & frame["comparison"].isin(comparisons)]


def _panel_title(dataset: str, focal: str | None, is_focal: bool) -> str:
    if is_focal:
        return f"{dataset}: P({focal} chosen)"
    return f"{dataset}: without {focal}" if focal is not None else str(dataset)


def exposure_panels(
    rates: pd.DataFrame, curves: ExposureCurves, focal: str | None
) -> list[list[dict]]:
    """Panels per data set (columns): the focal method's comparisons, then any others."""
    points = oriented_points(rates, focal)
    rows: list[list[dict]] = [[], []]
    for dataset in sorted(points["dataset"].unique()):
        here = points["dataset"] == dataset
        with_focal = here & ((points["method"] == focal) | (points["versus"] == focal))
        for row, mask, is_focal in ((0, with_focal, True), (1, here & ~with_focal, False)):
            if not mask.any():
                rows[row].append({})
                continue
            comps = set(points.loc[mask, "comparison"])
            rows[row].append(
                {
                    "points": points[mask],
                    "fits": _pick(curves.fits, dataset, comps),
                    "bands": _pick(curves.bands, dataset, comps),
                    "focal": is_focal,
                    "title": _panel_title(dataset, focal, is_focal),
                    "ylabel": f"P({focal} chosen)" if is_focal else "P(first method chosen)",
                }
            )
    return [row for row in rows if any(row)]


def exposure_figure(
    rates: pd.DataFrame, curves: ExposureCurves, focal: str | None, level: float = 0.95
) -> Figure:
    """Preference vs exposure oriented to the focal method: points, psychometric fit, band."""
    import seaborn as sns

    grid = exposure_panels(rates, curves, focal)
    axis = ExposureAxis.of(rates["exposure"])
    n_rows, n_cols = max(1, len(grid)), max([len(r) for r in grid] or [1])
    with sns.axes_style("whitegrid"):
        fig = new_figure(5.8 * n_cols, 4.4 * n_rows)
        axes = fig.subplots(n_rows, n_cols, squeeze=False)
        for r, row in enumerate(grid):
            for c, panel in enumerate(row):
                if panel:
                    _exposure_panel(axes[r][c], panel, axis, round(100 * level))
                else:
                    axes[r][c].set_axis_off()
    return fig


def _strength_panel(ax: Axes, rows: pd.DataFrame, title: str) -> None:
    """Strength per exposure stratum, one colour per method; hollow marks: separated."""
    strata = exposure_order(rows["exposure"])
    pos = {e: i for i, e in enumerate(strata)}
    methods = sorted(rows["method"].unique())
    finite = rows[["strength_lo", "strength_hi"]].to_numpy()
    finite = finite[np.isfinite(finite)]
    span = (finite.min() - 0.5, finite.max() + 0.5) if finite.size else (-3.0, 3.0)
    for i, method in enumerate(methods):
        colour = method_colour(method)
        mine = rows[rows["method"] == method]
        x = mine["exposure"].map(pos).to_numpy() + 0.08 * (i - (len(methods) - 1) / 2)
        lo = mine["strength_lo"].clip(*span).to_numpy()
        hi = mine["strength_hi"].clip(*span).to_numpy()
        y = mine["strength"].to_numpy()
        ax.vlines(x, lo, hi, color=colour, lw=1.2)
        timed = (mine["exposure"] != UNLIMITED).to_numpy()
        ax.plot(x[timed], y[timed], color=colour, lw=0.8, alpha=0.6)
        sep = mine["separated"].astype(bool).to_numpy()
        ax.scatter(x[~sep], y[~sep], color=colour, s=28, label=method, zorder=3)
        ax.scatter(x[sep], y[sep], facecolor="white", edgecolor=colour, s=40, lw=1.5, zorder=3)
        # An interval end beyond the axis (infinite) is drawn as an arrow head at the edge.
        up, down = mine["strength_hi"].to_numpy() > span[1], mine["strength_lo"] < span[0]
        ax.scatter(x[up], np.full(up.sum(), span[1]), marker="^", color=colour, s=24)
        ax.scatter(x[down.to_numpy()], np.full(down.sum(), span[0]), marker="v", color=colour)
    ax.axhline(0, color="grey", lw=0.8, ls="--")
    ax.set_xticks(range(len(strata)), [exposure_label(e) for e in strata], rotation=30)
    ax.set_ylim(span[0] - 0.2, span[1] + 0.2)
    ax.set_xlim(-0.6, len(strata) - 0.4)
    ax.set(title=title, xlabel="exposure stratum", ylabel="Bradley-Terry log-strength")


def rankings_figure(rankings: pd.DataFrame) -> Figure:
    """Bradley-Terry strengths per exposure stratum with intervals, one panel per data set."""
    import seaborn as sns
    from matplotlib.lines import Line2D

    datasets = sorted(rankings["dataset"].unique())
    width = 1.2 + 0.9 * max(4, rankings["exposure"].nunique())
    with sns.axes_style("whitegrid"):
        fig = new_figure(width * max(1, len(datasets)), 4.2)
        if not datasets:
            ax = fig.subplots(1, 1)
            ax.set_axis_off()
            ax.text(0.5, 0.5, "no ranking could be estimated", ha="center", va="center")
            return fig
        axes = fig.subplots(1, len(datasets), squeeze=False)[0]
        for ax, dataset in zip(axes, datasets, strict=True):
            _strength_panel(ax, rankings[rankings["dataset"] == dataset], dataset)
            handles, _ = ax.get_legend_handles_labels()
            hollow = Line2D([], [], marker="o", mfc="white", mec="#555555", ls="none")
            ax.legend(
                [*handles, hollow],
                [*(h.get_label() for h in handles), "never lost / never won"],
                fontsize="x-small",
            )
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
