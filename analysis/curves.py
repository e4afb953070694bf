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

from analysis.bootstrap import BootstrapConfig, cluster_weights, percentile_interval, strata_members
from analysis.psychometric import (
    CHANCE,
    EDGE,
    CurveBounds,
    curve,
    curve_bounds,
    fit_curve,
    fit_stack,
)
from analysis.schema import PARTICIPANT_KEYS, UNLIMITED, exposure_order

MIN_EXPOSURES = 3
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
    n: np.ndarray  # (participants, exposures)
    k: np.ndarray
    strata: np.ndarray  # study code per participant

    @property
    def totals(self) -> tuple[np.ndarray, np.ndarray]:
        """n and k per exposure, summed over participants."""
        return self.n.sum(axis=0), self.k.sum(axis=0)


def orient(rows: pd.DataFrame, focal: str | None) -> tuple[str, str, np.ndarray]:
    """(modelled method, other method, 1 where the modelled method was chosen) for one pair."""
    first = rows.iloc[0]
    a, b = str(first["method_a"]), str(first["method_b"])
    chose_a = rows["chose_a"].to_numpy(dtype=np.float64)
    if focal is not None and b == focal:
        return b, a, 1.0 - chose_a
    return a, b, chose_a


def timed_counts(rows: pd.DataFrame, y: np.ndarray) -> TimedCounts:
    """Per participant x exposure counts of the timed rows (`y` aligned with `rows`)."""
    exposures = exposure_order(rows["exposure"])
    col = pd.Categorical(rows["exposure"], categories=exposures).codes.astype(np.int64)
    person = rows.groupby(PARTICIPANT_KEYS, sort=True).ngroup().to_numpy()
    people = int(person.max()) + 1
    flat = person * len(exposures) + col
    size = people * len(exposures)
    n = np.bincount(flat, minlength=size).reshape(people, -1).astype(np.float64)
    k = np.bincount(flat, weights=y, minlength=size).reshape(people, -1)
    keys = rows[PARTICIPANT_KEYS].drop_duplicates().sort_values(PARTICIPANT_KEYS)
    x = np.log2([float(e) for e in exposures])
    return TimedCounts(exposures, x, n, k, pd.factorize(keys["study_id"])[0])


def bootstrap_curves(
    counts: TimedCounts, theta: np.ndarray, cfg: BootstrapConfig
) -> tuple[np.ndarray, np.ndarray]:
    """Refitted parameters (R, 3) and observed rates (R, E) over participant resamples."""
    rng = np.random.default_rng(cfg.seed)
    members = strata_members(counts.strata)
    bounds = curve_bounds(counts.x)
    draws, rates = [], []
    for start in range(0, cfg.n_resamples, cfg.batch):
        size = min(cfg.batch, cfg.n_resamples - start)
        w = cluster_weights(rng, members, len(counts.strata), size).astype(np.float64)
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


def fit_comparison(counts: TimedCounts, cfg: BootstrapConfig) -> CurveFit:
    """Point estimate, participant-bootstrap draws and notes for one comparison's counts."""
    n, k = counts.totals
    theta, converged = fit_curve(n, k, counts.x)
    notes = [] if converged else ["the likelihood maximisation did not converge"]
    people = len(counts.strata)
    if people < 2:
        notes.append("only one participant: no interval")
        return CurveFit(theta, None, None, curve_bounds(counts.x), notes)
    if people < FEW_PARTICIPANTS:
        notes.append(
            f"only {people} participants: bootstrap intervals over so few people run short"
        )
    draws, rates = bootstrap_curves(counts, theta, cfg)
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
    rows: pd.DataFrame, y: np.ndarray, theta: np.ndarray | None
) -> list[dict[str, object]]:
    """Observed vs fitted rate, n and Pearson residual per exposure ("unlimited": not fitted)."""
    frame = rows[["exposure", "study_id", "participant_id"]].assign(y=y)
    out = []
    for exposure in exposure_order(frame["exposure"]):
        part = frame[frame["exposure"] == exposure]
        n, observed = len(part), float(part["y"].mean())
        timed = exposure != UNLIMITED and theta is not None
        fitted = float(curve(theta, np.log2([float(exposure)]))[0]) if timed else float("nan")
        variance = float(sm.families.Binomial().variance(fitted)) / n if timed else 0.0
        resid = (observed - fitted) / np.sqrt(variance) if timed and variance > 0 else np.nan
        people = part.groupby(["study_id", "participant_id"]).ngroups
        out.append(
            {"exposure": exposure, "n": n, "n_participants": people, "observed": observed}
            | {"fitted": fitted, "pearson_resid": float(resid), "in_fit": bool(timed)}
        )
    return out


def _no_curve_row(counts: TimedCounts | None, reason: str) -> dict[str, object]:
    row = dict.fromkeys(FIT_COLUMNS, float("nan"))
    if counts is not None:
        n, _ = counts.totals
        row |= {"n": int(n.sum()), "n_participants": len(counts.strata)}
        row["n_exposures"] = len(counts.exposures)
    else:
        row |= {"n": 0, "n_participants": 0, "n_exposures": 0}
    return row | {"df_resid": 0, "note": reason}


def _one_comparison(rows: pd.DataFrame, y: np.ndarray, cfg: BootstrapConfig, points: int):
    """(fit row, residual rows, band or None) for one comparison's judgments."""
    timed = (rows["exposure"] != UNLIMITED).to_numpy()
    counts = timed_counts(rows[timed], y[timed]) if timed.any() else None
    if counts is None or len(counts.exposures) < MIN_EXPOSURES:
        have = 0 if counts is None else len(counts.exposures)
        reason = f"{have} timed exposure(s); a curve needs at least {MIN_EXPOSURES}: no curve"
        return _no_curve_row(counts, reason), residual_rows(rows, y, None), None
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)
        fit = fit_comparison(counts, cfg)
        level = expanded_level(cfg.level, len(counts.strata))
        row = _fit_row(counts, fit, level)
        band = _band(counts, fit, level, points)
    n, _ = counts.totals
    row |= {"n": int(n.sum()), "n_participants": len(counts.strata)}
    row |= {"n_exposures": len(counts.exposures), "note": "; ".join(fit.notes)}
    return row, residual_rows(rows, y, fit.theta), band


def fit_exposure_curves(
    judgments: pd.DataFrame,
    cfg: BootstrapConfig | None = None,
    focal: str | None = None,
    grid_points: int = 60,
) -> ExposureCurves:
    """Psychometric fits of P(focal chosen) on log2 exposure per data set x comparison."""
    cfg = cfg or BootstrapConfig()
    fits, residuals, bands, notes = [], [], [], []
    for (dataset, comparison), rows in judgments.groupby(["dataset", "comparison"], sort=True):
        method, versus, y = orient(rows, focal)
        head = {"dataset": dataset, "comparison": comparison, "method": method}
        head["versus"] = versus
        row, resid, band = _one_comparison(rows, y, cfg, grid_points)
        fits.append(head | row)
        residuals += [head | r for r in resid]
        if band is not None:
            bands.append(band.assign(**head))
        if row["note"]:
            notes.append(f"{dataset} / {method} vs {versus} (exposure curve): {row['note']}")
    return ExposureCurves(
        fits=pd.DataFrame(fits, columns=FIT_COLUMNS),
        residuals=pd.DataFrame(residuals, columns=RESIDUAL_COLUMNS),
        bands=pd.concat(bands, ignore_index=True)[BAND_COLUMNS]
        if bands
        else pd.DataFrame(columns=BAND_COLUMNS),
        notes=tuple(notes),
    )
