"""Preference against exposure time: a logistic fit in log2(ms) per comparison, with a band.

For each data set x comparison, timed judgments are fitted with a binomial GLM,
logit P(method_a) = b0 + b1 * log2(exposure ms), using statsmodels with a covariance
clustered by participant (judgments of one person are not independent), and the band is the
pointwise confidence interval of the fitted mean. "unlimited" trials are not part of the fit;
plots show them as a separate point to the right.
"""

from __future__ import annotations

import warnings
from dataclasses import dataclass

import numpy as np
import pandas as pd
import statsmodels.api as sm

from analysis.schema import PARTICIPANT_KEYS, UNLIMITED


@dataclass(frozen=True)
class ExposureCurves:
    """Fitted coefficients per comparison, the band on a grid of exposures, and fit notes."""

    fits: pd.DataFrame
    bands: pd.DataFrame
    notes: tuple[str, ...]


FIT_COLUMNS = ["dataset", "comparison", "method_a", "method_b", "intercept", "slope_per_doubling"]
FIT_COLUMNS += ["slope_lo", "slope_hi", "p_slope", "n"]
BAND_COLUMNS = ["dataset", "comparison", "exposure_ms", "fit", "lo", "hi"]


def _fit_one(rows: pd.DataFrame, level: float, grid_points: int):
    x = np.log2(rows["exposure_ms_target"].to_numpy(dtype=float))
    design = sm.add_constant(x, has_constant="add")
    groups = rows.groupby(PARTICIPANT_KEYS, sort=False).ngroup().to_numpy()
    model = sm.GLM(rows["chose_a"].to_numpy(dtype=float), design, family=sm.families.Binomial())
    result = model.fit(cov_type="cluster", cov_kwds={"groups": groups})
    grid = np.linspace(x.min(), x.max(), grid_points)
    frame = result.get_prediction(sm.add_constant(grid, has_constant="add"))
    summary = frame.summary_frame(alpha=1 - level)
    conf = np.asarray(result.conf_int(alpha=1 - level))
    fit = {
        "intercept": float(result.params[0]),
        "slope_per_doubling": float(result.params[1]),
        "slope_lo": float(conf[1, 0]),
        "slope_hi": float(conf[1, 1]),
        "p_slope": float(result.pvalues[1]),
        "n": len(rows),
    }
    band = pd.DataFrame(
        {
            "exposure_ms": 2.0**grid,
            "fit": summary["mean"].to_numpy(),
            "lo": summary["mean_ci_lower"].to_numpy(),
            "hi": summary["mean_ci_upper"].to_numpy(),
        }
    )
    return fit, band


def fit_exposure_curves(
    judgments: pd.DataFrame, level: float = 0.95, grid_points: int = 60
) -> ExposureCurves:
    """Logistic fits of preference on log exposure for every comparison with >= 2 timed levels."""
    timed = judgments[judgments["exposure"] != UNLIMITED]
    fits, bands, notes = [], [], []
    for (dataset, comparison), rows in timed.groupby(["dataset", "comparison"], sort=True):
        label = f"{dataset} / {comparison}"
        if rows["exposure"].nunique() < 2 or rows["participant_id"].nunique() < 2:
            notes.append(f"{label}: fewer than two exposures or participants; no curve fitted")
            continue
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            fit, band = _fit_one(rows, level, grid_points)
        if caught:
            notes.append(f"{label}: logistic fit warned: {caught[0].message}")
        head = {"dataset": dataset, "comparison": comparison}
        first = rows.iloc[0]
        fits.append(head | {"method_a": first["method_a"], "method_b": first["method_b"]} | fit)
        bands.append(band.assign(**head))
    return ExposureCurves(
        fits=pd.DataFrame(fits, columns=FIT_COLUMNS),
        bands=pd.concat(bands, ignore_index=True)[BAND_COLUMNS]
        if bands
        else pd.DataFrame(columns=BAND_COLUMNS),
        notes=tuple(notes),
    )
