"""Preference against exposure time: a 2AFC psychometric curve per comparison, with intervals.

For each data set x comparison, timed judgments are fitted with the psychometric function of
`analysis.psychometric`: chance (50 %) at short exposures, a free asymptote `a` at long ones,
and the halfway exposure where preference has moved halfway from chance to `a`. Curves are
oriented to the focal method (the one the paper table is about): they model P(focal chosen)
over the other method; comparisons without the focal method model P(method_a chosen).

- Estimates: maximum likelihood on the binomial counts per exposure.
- Intervals: bootstrap over participants (resampled within each study; Davison & Hinkley
  1997, sec. 3.8), refitting the curve in every resample, so the intervals carry the
  dependence between one person's judgments and the curvature of the likelihood near bounds.
  Percentiles are those of the expanded percentile interval (Hesterberg 2015), which undoes
  the percentile interval's narrowness with few participants. benchmarks/bench_curves.py
  checks by simulation that the halfway interval covers the truth.
- Goodness of fit: the binomial deviance against one rate per exposure, on E - 3 degrees of
  freedom, and a per-exposure residual table (observed, fitted, n, Pearson residual). Judgments
  are clustered, so the deviance is divided by the mean design effect of the exposure rates
  (bootstrap variance over the binomial one, at least 1) before its chi-square p-value: the
  first-order Rao & Scott (1981) correction.
- Identification: when the asymptote's interval contains 50 % the curve may be flat and the
  halfway exposure is not identified; it is then left empty with a note, as it is when the
  fit puts it more than four doublings outside the tested exposures.

"unlimited" judgments are not part of the fit (their exposure has no duration); the residual
table and the figure still show them.
"""

from __future__ import annotations

import warnings
from dataclasses import dataclass

import numpy as np
import pandas as pd
import statsmodels.api as sm
from scipy import stats

from analysis.bootstrap import BootstrapConfig, percentile_interval
from analysis.codes import DatasetCodes, dataset_codes, resampling_weights
from analysis.psychometric import (
    CHANCE,
    EDGE,
    CurveBounds,
    curve,
    curve_bounds,
    fit_curve,
    fit_stack,
)
from analysis.schema import UNLIMITED

MIN_EXPOSURES = 3
GRID_POINTS = 60
FEW_PARTICIPANTS = 10
LABEL_KEYS = ["dataset", "comparison", "method", "versus"]
FIT_COLUMNS = [*LABEL_KEYS, "n", "n_participants", "n_exposures", "asymptote", "asymptote_lo"]
FIT_COLUMNS += ["asymptote_hi", "halfway_ms", "halfway_ms_lo", "halfway_ms_hi", "spread"]
FIT_COLUMNS += ["spread_lo", "spread_hi", "deviance", "df_resid", "design_effect", "p_fit"]
FIT_COLUMNS += ["note"]
RESIDUAL_COLUMNS = [*LABEL_KEYS, "exposure", "n", "n_participants", "observed", "fitted"]
RESIDUAL_COLUMNS += ["pearson_resid", "in_fit"]
BAND_COLUMNS = [*LABEL_KEYS, "exposure_ms", "fit", "lo", "hi"]


@dataclass(frozen=True)
class ExposureCurves:
    """Fitted curves, per-exposure residuals, bands on a grid of exposures, and fit notes."""

    fits: pd.DataFrame
    residuals: pd.DataFrame
    bands: pd.DataFrame
    notes: tuple[str, ...]


@dataclass(frozen=True)
class TimedCounts:
    """Judgments (n) and choices of the modelled method (k) per participant x timed exposure."""

    exposures: list[str]
    x: np.ndarray  # log2 ms per exposure
    n: np.ndarray  # (participants of the data set, exposures)
    k: np.ndarray

    @property
    def totals(self) -> tuple[np.ndarray, np.ndarray]:
        """n and k per exposure, summed over participants."""
        return self.n.sum(axis=0), self.k.sum(axis=0)

    @property
    def participants(self) -> int:
        """Participants with at least one timed judgment in this comparison."""
        return int((self.n.sum(axis=1) > 0).sum())


def orient(codes: DatasetCodes, mask: np.ndarray, focal: str | None) -> tuple[str, str, np.ndarray]:
    """(modelled method, other method, 1 where the modelled method was chosen) for one pair."""
    first = np.flatnonzero(mask)[0]
    a, b = codes.methods[codes.method_a[first]], codes.methods[codes.method_b[first]]
    if focal is not None and b == focal:
        return b, a, 1.0 - codes.chose_a
    return a, b, codes.chose_a


def timed_counts(codes: DatasetCodes, mask: np.ndarray, y: np.ndarray) -> TimedCounts:
    """Per participant x timed exposure counts of the judgments in `mask` (`y` per judgment)."""
    timed = mask & codes.timed()
    used = np.unique(codes.exposure[timed])
    exposures = [codes.exposures[i] for i in used]
    width = len(used)
    flat = codes.person[timed] * width + np.searchsorted(used, codes.exposure[timed])
    size = codes.people * width
    n = np.bincount(flat, minlength=size).reshape(codes.people, width).astype(np.float64)
    k = np.bincount(flat, weights=y[timed], minlength=size).reshape(codes.people, width)
    x = np.log2([float(e) for e in exposures]) if exposures else np.zeros(0)
    return TimedCounts(exposures, x, n, k)


def bootstrap_curves(
    counts: TimedCounts, theta: np.ndarray, weights: np.ndarray, batch: int
) -> tuple[np.ndarray, np.ndarray]:
    """Refitted parameters (R, 3) and observed rates (R, E) over participant resamples."""
    bounds = curve_bounds(counts.x)
    draws, rates = [], []
    for start in range(0, len(weights), batch):
        w = weights[start : start + batch].astype(np.float64)
        n, k = w @ counts.n, w @ counts.k
        params, _ = fit_stack(n, k, counts.x, theta, bounds)
        draws.append(params)
        with np.errstate(invalid="ignore", divide="ignore"):
            rates.append(np.where(n > 0, k / np.where(n > 0, n, 1), np.nan))
    return np.concatenate(draws), np.concatenate(rates)


def _design_effect(rates: np.ndarray, n: np.ndarray, k: np.ndarray) -> float:
    """Mean over exposures of bootstrap variance / binomial variance of the rate, at least 1."""
    r = k / n
    binomial = r * (1 - r) / n
    usable = (binomial > 0) & (np.isfinite(rates).sum(axis=0) > 1)
    if not usable.any():
        return 1.0
    boot = np.nanvar(rates[:, usable], axis=0, ddof=1)
    return float(max(1.0, np.mean(boot / binomial[usable])))


def goodness_of_fit(
    counts: TimedCounts, theta: np.ndarray, deff: float
) -> tuple[float, int, float]:
    """Deviance, residual df (E - 3) and its p-value after dividing by the design effect."""
    n, k = counts.totals
    fitted = np.clip(curve(theta, counts.x), EDGE, 1 - EDGE)
    deviance = float(sm.families.Binomial().deviance(k / n, fitted, var_weights=n))
    df = len(counts.x) - 3
    p = float(stats.chi2.sf(deviance / deff, df)) if df > 0 else float("nan")
    return deviance, df, p


@dataclass(frozen=True)
class CurveFit:
    """One comparison's point estimate, its bootstrap draws (or None) and what to say."""

    theta: np.ndarray
    draws: np.ndarray | None
    rates: np.ndarray | None
    bounds: CurveBounds
    notes: list[str]


def expanded_level(level: float, clusters: int) -> float:
    """Percentile level of the expanded percentile interval (Hesterberg 2015) for G clusters.

    Percentile intervals from G resampled clusters are too narrow by about sqrt((G-1)/G) and
    by the normal-vs-t gap; using the percentiles at Phi(sqrt(G/(G-1)) t_{G-1}) corrects both.
    """
    if clusters < 2:
        return level
    t = stats.t.ppf(0.5 + level / 2, clusters - 1)
    return float(2 * stats.norm.cdf(np.sqrt(clusters / (clusters - 1)) * t) - 1)


def _interval(values: np.ndarray, level: float) -> tuple[float, float]:
    lo, hi = percentile_interval(values[:, None], level)
    return float(lo[0]), float(hi[0])


def _halfway(fit: CurveFit, counts: TimedCounts, level: float) -> tuple[float, float, float]:
    """Halfway exposure in ms with its interval; NaN where it is not identified (with a note)."""
    nan = float("nan")
    m = fit.theta[1]
    if fit.draws is not None:
        a_lo, a_hi = _interval(fit.draws[:, 0], level)
        if a_lo <= CHANCE <= a_hi:
            fit.notes.append(
                f"the asymptote's interval [{a_lo:.3f}, {a_hi:.3f}] contains 50 %: preference "
                "may not move away from chance, so the halfway exposure is not identified"
            )
            return nan, nan, nan
    if fit.bounds.at_m_bound(np.array([m]))[0]:
        fit.notes.append(
            "the halfway exposure lies more than four doublings outside the tested exposures: "
            "not estimated"
        )
        return nan, nan, nan
    if not counts.x.min() <= m <= counts.x.max():
        fit.notes.append("the halfway exposure lies outside the tested exposures (extrapolated)")
    if fit.draws is None:
        return float(2.0**m), nan, nan
    m_lo, m_hi = _interval(fit.draws[:, 1], level)
    # An interval end on the bound means "beyond the tested range": say so with 0 or infinity.
    lo = 0.0 if fit.bounds.at_m_bound(np.array([m_lo]))[0] else float(2.0**m_lo)
    hi = float("inf") if fit.bounds.at_m_bound(np.array([m_hi]))[0] else float(2.0**m_hi)
    return float(2.0**m), lo, hi


def fit_comparison(counts: TimedCounts, weights: np.ndarray | None, batch: int) -> CurveFit:
    """Point estimate, participant-bootstrap draws and notes for one comparison's counts."""
    n, k = counts.totals
    theta, converged = fit_curve(n, k, counts.x)
    notes = [] if converged else ["the likelihood maximisation did not converge"]
    people = counts.participants
    if people < 2 or weights is None:
        notes.append("only one participant: no interval")
        return CurveFit(theta, None, None, curve_bounds(counts.x), notes)
    if people < FEW_PARTICIPANTS:
        notes.append(
            f"only {people} participants: bootstrap intervals over so few people run short"
        )
    draws, rates = bootstrap_curves(counts, theta, weights, batch)
    return CurveFit(theta, draws, rates, curve_bounds(counts.x), notes)


def _fit_row(counts: TimedCounts, fit: CurveFit, level: float) -> dict[str, object]:
    nan = float("nan")
    n, k = counts.totals
    half, half_lo, half_hi = _halfway(fit, counts, level)
    has = fit.draws is not None
    a_lo, a_hi = _interval(fit.draws[:, 0], level) if has else (nan, nan)
    s_lo, s_hi = _interval(fit.draws[:, 2], level) if has else (nan, nan)
    deff = _design_effect(fit.rates, n, k) if has else 1.0
    deviance, df, p_fit = goodness_of_fit(counts, fit.theta, deff)
    if df == 0:
        fit.notes.append("three exposures for three parameters: no goodness-of-fit test")
    return {
        "asymptote": float(fit.theta[0]),
        "asymptote_lo": a_lo,
        "asymptote_hi": a_hi,
        "halfway_ms": half,
        "halfway_ms_lo": half_lo,
        "halfway_ms_hi": half_hi,
        "spread": float(fit.theta[2]),
        "spread_lo": s_lo,
        "spread_hi": s_hi,
        "deviance": deviance,
        "df_resid": df,
        "design_effect": deff,
        "p_fit": p_fit,
    }


def _band(counts: TimedCounts, fit: CurveFit, level: float, points: int) -> pd.DataFrame:
    grid = np.linspace(counts.x.min(), counts.x.max(), points)
    centre = curve(fit.theta, grid)
    if fit.draws is None:
        lo = hi = np.full(points, np.nan)
    else:
        lo, hi = percentile_interval(curve(fit.draws, grid), level)
    return pd.DataFrame({"exposure_ms": 2.0**grid, "fit": centre, "lo": lo, "hi": hi})


def residual_rows(
    codes: DatasetCodes, mask: np.ndarray, y: np.ndarray, theta: np.ndarray | None
) -> list[dict[str, object]]:
    """Observed vs fitted rate, n and Pearson residual per exposure ("unlimited": not fitted)."""
    size = len(codes.exposures)
    exposure = codes.exposure[mask]
    n = np.bincount(exposure, minlength=size)
    k = np.bincount(exposure, weights=y[mask], minlength=size)
    pairs = np.unique(exposure * codes.people + codes.person[mask])
    people = np.bincount(pairs // codes.people, minlength=size)
    out = []
    for i in np.flatnonzero(n):
        key, observed = codes.exposures[i], float(k[i] / n[i])
        timed = key != UNLIMITED and theta is not None
        fitted = float(curve(theta, np.log2([float(key)]))[0]) if timed else float("nan")
        variance = float(sm.families.Binomial().variance(fitted)) / n[i] if timed else 0.0
        resid = (observed - fitted) / np.sqrt(variance) if variance > 0 else float("nan")
        out.append(
            {"exposure": key, "n": int(n[i]), "n_participants": int(people[i])}
            | {"observed": observed, "fitted": fitted, "pearson_resid": float(resid)}
            | {"in_fit": bool(timed)}
        )
    return out


def _no_curve_row(counts: TimedCounts, reason: str) -> dict[str, object]:
    row = dict.fromkeys(FIT_COLUMNS, float("nan"))
    n, _ = counts.totals
    row |= {"n": int(n.sum()), "n_participants": counts.participants}
    return row | {"n_exposures": len(counts.exposures), "df_resid": 0, "note": reason}


def _one_comparison(
    codes: DatasetCodes, mask: np.ndarray, y: np.ndarray, weights, cfg: BootstrapConfig
):
    """(fit row, residual rows, band or None) for one comparison's judgments."""
    counts = timed_counts(codes, mask, y)
    if not counts.exposures:
        return None  # tested at unlimited time only: there is no curve to speak of
    if len(counts.exposures) < MIN_EXPOSURES:
        reason = (
            f"{len(counts.exposures)} timed exposure(s); a curve needs at least "
            f"{MIN_EXPOSURES}: no curve"
        )
        return _no_curve_row(counts, reason), residual_rows(codes, mask, y, None), None
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", RuntimeWarning)
            fit = fit_comparison(counts, weights, cfg.batch)
            level = expanded_level(cfg.level, counts.participants)
            row = _fit_row(counts, fit, level)
            band = _band(counts, fit, level, GRID_POINTS)
    except (ArithmeticError, ValueError, np.linalg.LinAlgError) as err:
        # Numerical trouble in one comparison is reported there; the others still get curves.
        reason = f"the curve could not be fitted ({type(err).__name__}: {err})"
        return _no_curve_row(counts, reason), residual_rows(codes, mask, y, None), None
    n, _ = counts.totals
    row |= {"n": int(n.sum()), "n_participants": counts.participants}
    row |= {"n_exposures": len(counts.exposures), "note": "; ".join(fit.notes)}
    return row, residual_rows(codes, mask, y, fit.theta), band


def _dataset_curves(rows: pd.DataFrame, cfg: BootstrapConfig, focal: str | None):
    """(fit rows, residual rows, bands) of one data set's comparisons."""
    codes = dataset_codes(rows)
    weights = resampling_weights(codes, cfg) if codes.people > 1 else None
    fits, residuals, bands = [], [], []
    for c, comparison in enumerate(codes.comparisons):
        mask = codes.comparison == c
        method, versus, y = orient(codes, mask, focal)
        head = {"dataset": rows["dataset"].iloc[0], "comparison": comparison}
        head |= {"method": method, "versus": versus}
        fitted = _one_comparison(codes, mask, y, weights, cfg)
        if fitted is None:
            continue
        row, resid, band = fitted
        fits.append(row | head)  # the comparison's names, never the no-curve row's blanks
        residuals += [head | r for r in resid]
        if band is not None:
            bands.append(band.assign(**head))
    return fits, residuals, bands


def fit_exposure_curves(
    judgments: pd.DataFrame, cfg: BootstrapConfig | None = None, focal: str | None = None
) -> ExposureCurves:
    """Psychometric fits of P(focal chosen) on log2 exposure per data set x comparison."""
    cfg = cfg or BootstrapConfig()
    fits, residuals, bands = [], [], []
    for _, rows in judgments.groupby("dataset", sort=True):
        more = _dataset_curves(rows, cfg, focal)
        fits += more[0]
        residuals += more[1]
        bands += more[2]
    notes = [
        f"{f['dataset']} / {f['method']} vs {f['versus']} (exposure curve): {f['note']}"
        for f in fits
        if f["note"]
    ]
    return ExposureCurves(
        fits=pd.DataFrame(fits, columns=FIT_COLUMNS),
        residuals=pd.DataFrame(residuals, columns=RESIDUAL_COLUMNS),
        bands=pd.concat(bands, ignore_index=True)[BAND_COLUMNS]
        if bands
        else pd.DataFrame(columns=BAND_COLUMNS),
        notes=tuple(notes),
    )
