"""Exposure and ranking figures: orientation to the focal method, fixed colours, full axes."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from matplotlib.collections import PathCollection
from matplotlib.colors import to_hex

from analysis.bootstrap import BootstrapConfig
from analysis.curve_sim import CurveScenario, simulate_curve_study
from analysis.curves import fit_exposure_curves
from analysis.palette import KNOWN, method_colour, method_colours
from analysis.plots import exposure_figure, oriented_points, rankings_figure
from analysis.rates import rate_table


def _study(dataset: str, other: str, seed: int, first: str = "crn", **changes) -> pd.DataFrame:
    rows = simulate_curve_study(CurveScenario(**changes), np.random.default_rng(seed))
    rows = rows.assign(dataset=dataset, method_b=other, comparison=f"crn_vs_{other}")
    rows["chosen_method"] = np.where(rows["chose_a"] == 1, "crn", other)
    if first != "crn":  # the same judgments recorded with crn listed second
        swapped = {"method_a": other, "method_b": "crn", "comparison": f"{other}_vs_crn"}
        rows = rows.assign(**swapped, chose_a=1 - rows["chose_a"])
    return rows


def _figure(judgments: pd.DataFrame, focal: str = "crn"):
    rates = rate_table(judgments)
    curves = fit_exposure_curves(judgments, BootstrapConfig(n_resamples=50), focal=focal)
    return rates, exposure_figure(rates, curves, focal)


def _points(ax) -> dict[str, np.ndarray]:
    """y values of the scatter points per face colour."""
    out: dict[str, list[float]] = {}
    for coll in ax.collections:
        if not isinstance(coll, PathCollection):
            continue
        offsets = np.asarray(coll.get_offsets())
        faces = coll.get_facecolors()
        if offsets.size and len(faces):
            out.setdefault(to_hex(faces[0]), []).extend(offsets[:, 1])
    return {k: np.array(v) for k, v in out.items()}


def test_points_and_curves_show_the_focal_methods_rate():
    judgments = _study("city", "encdec", 0, first="encdec", asymptote=0.7)
    rates, fig = _figure(judgments)
    unlimited = rates[rates["exposure"] == "unlimited"].iloc[0]
    assert unlimited["method_a"] == "encdec"
    points = oriented_points(rates, "crn")
    flipped = points[points["exposure"] == "unlimited"].iloc[0]
    assert (flipped["method"], flipped["versus"]) == ("crn", "encdec")
    assert flipped["rate"] == pytest.approx(1 - unlimited["rate"])
    assert flipped["lo"] == pytest.approx(1 - unlimited["hi"])
    assert flipped["hi"] == pytest.approx(1 - unlimited["lo"])
    unoriented = oriented_points(rates, None).iloc[0]
    assert (unoriented["method"], unoriented["rate"]) == ("encdec", rates["rate"].iloc[0])
    ax = fig.axes[0]
    ys = _points(ax)[KNOWN["encdec"]]
    assert np.sort(ys) == pytest.approx(np.sort(points["rate"].to_numpy()))
    assert ys.mean() > 0.55  # crn wins; the old figure showed encdec's 0.3
    legend = [t.get_text() for t in ax.get_legend().get_texts()]
    assert "vs encdec" in legend and "unlimited (not fitted)" in legend
    assert ax.get_ylabel() == "P(crn chosen)"


def test_colours_stay_with_their_method_and_every_exposure_stays_on_the_axis():
    few = ("125", "1000", "8000", "unlimited")
    judgments = pd.concat(
        [
            _study("city", "pix2pix", 1),
            _study("city", "encdec", 2),
            _study("nyu", "pix2pix", 3, exposures=few),
        ]
    )
    _, fig = _figure(judgments)
    city, nyu = fig.axes[:2]
    assert KNOWN["pix2pix"] in _points(city) and KNOWN["pix2pix"] in _points(nyu)
    assert set(_points(nyu)) == {KNOWN["pix2pix"]}
    labels = [t.get_text() for t in nyu.get_xticklabels()]
    assert labels == ["125", "250", "500", "1000", "2000", "4000", "8000", "unlimited"]


def test_method_colours_do_not_depend_on_which_methods_are_shown():
    alone = method_colours(["zeta-gan"])
    together = method_colours(["crn", "zeta-gan", "another", "real"])
    assert alone["zeta-gan"] == together["zeta-gan"] == method_colour("zeta-gan")
    assert together["crn"] == KNOWN["crn"] and together["real"] == KNOWN["real"]
    assert method_colour("crn", {"crn": "#123456"}) == "#123456"


def test_rankings_figure_draws_separated_methods_and_open_ends():
    rankings = pd.DataFrame(
        {
            "dataset": "city",
            "exposure": ["unlimited"] * 3 + ["125"] * 2,
            "method": ["real", "crn", "pix2pix", "crn", "pix2pix"],
            "strength": [4.0, -1.0, -3.0, 0.2, -0.2],
            "strength_lo": [2.5, -1.8, -4.0, -0.1, -0.5],
            "strength_hi": [np.inf, -0.2, -2.0, 0.5, 0.1],
            "separated": [True, False, False, False, False],
        }
    )
    fig = rankings_figure(rankings)
    ax = fig.axes[0]
    assert [t.get_text() for t in ax.get_xticklabels()] == ["125 ms", "unlimited"]
    faces = [c.get_facecolors() for c in ax.collections]
    hollow = [f for f in faces if len(f) and tuple(f[0][:3]) == (1.0, 1.0, 1.0)]
    assert hollow, "a separated method is drawn with a hollow marker"
    assert "never lost / never won" in [t.get_text() for t in ax.get_legend().get_texts()]
    empty = rankings_figure(rankings.iloc[0:0])
    assert empty.axes[0].texts[0].get_text() == "no ranking could be estimated"
