"""Preference rates whose intervals and tests hold when both participants and images vary.

Each judgment is one person's choice on one image, so judgments share a person and share an
image: a crossed design (Clark 1973; Baayen, Davidson & Bates 2008; Judd, Westfall & Kenny
2012). Treating judgments as independent (Wilson, Clopper-Pearson) understates the uncertainty
of a rate by the design effect, often several-fold.

The estimate is the share of judgments that chose the method. It estimates the population
rate: the chance that a new person prefers the method on a new image. Three steps:

1. Variance: the two-way cluster-robust variance of a mean (Cameron, Gelbach & Miller 2011),
   V = c_p V_participant + c_i V_image - V_pair, each V the sum of squared residual totals per
   cluster over n^2 and c = G / (G - 1) the usual small-sample factor. It is unbiased for the
   variance of the mean under crossed random effects (Owen 2007), for any unbalanced design.
2. Degrees of freedom: V is a sum of squared cluster totals, so it has the precision of a
   chi-square with an *effective* number of clusters, which falls below the number of
   participants when their numbers of judgments differ (Bell & McCaffrey 2002; Imbens & Kolesar
   2016; Carter, Schnepel & Steigerwald 2017). It is computed by Satterthwaite's (1946) rule
   from the variance each cluster total has under the crossed random-effects working model,
       y = rate + a_participant + b_image + e,
   whose variance components come from unbiased moment equations (Henderson's method 3 style;
   Gao & Owen 2017), minus one for the estimated mean.
3. Interval and test on the logit scale: c +- t_df * s, mapped back, with s = se / (rate (1 -
   rate)) (the logit interval for proportions from clustered samples, as in Korn & Graubard
   1999 and survey software). Near 0 or 1 a rate's sampling distribution is skewed and its
   estimated variance shrinks with it; the logit scale removes most of that dependence. The
   centre c = logit(rate) - (2 rate - 1) s^2 / 2 removes the second-order (delta-method) bias of
   logit(rate): logit is convex above 1/2, so logit of an estimated rate overshoots on average,
   and the uncorrected interval missed mostly on one side (above the true rate) for rates near
   1 with very heterogeneous participants. At rate 1/2 the correction is zero. The test of
   "rate = null" is the t test of (c - logit(null)) / s, so it rejects exactly when the null
   lies outside the interval.

A cell where everyone chose the same side has no spread to estimate; its interval is the exact
(Clopper-Pearson) interval that counts each of the fewer units (participants or images) once.
benchmarks/bench_coverage.py checks coverage and false-positive rate by simulation, and
docs/analysis.md has its table.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import pandas as pd
from scipy import stats
from scipy.special import expit, logit

from analysis.errors import AnalysisInputError

FIELDS: tuple[str, ...] = (
    "rate",
    "se",
    "df",
    "lo",
    "hi",
    "p_value",
    "n",
    "n_participants",
    "n_images",
    "deff",
    "var_participant",
    "var_image",
    "var_residual",
    "note",
)


@dataclass(frozen=True)
class CrossedEstimate:
    """A rate with its crossed-design standard error, interval and test against `null`."""

    rate: float
    se: float
    df: float
    lo: float
    hi: float
    p_value: float
    n: int
    n_participants: int
    n_images: int
    deff: float
    var_participant: float
    var_image: float
    var_residual: float
    note: str = ""

    def as_dict(self) -> dict[str, float | str]:
        """The fields as a plain dict (column name -> value)."""
        return {name: getattr(self, name) for name in FIELDS}


@dataclass(frozen=True)
class CrossedDesign:
    """Who judged what: integer codes and counts of participants, images and their pairs."""

    participant: np.ndarray  # code per judgment
    image: np.ndarray
    pair: np.ndarray
    n_p: np.ndarray  # judgments per participant
    m_i: np.ndarray  # judgments per image
    c: np.ndarray  # judgments per participant-image pair
    pair_participant: np.ndarray  # participant code of each pair
    pair_image: np.ndarray

    @property
    def n(self) -> int:
        """Number of judgments."""
        return len(self.participant)


def crossed_design(participant: np.ndarray, image: np.ndarray) -> CrossedDesign:
    """Integer codes and counts for any labels of participants and images (one per judgment)."""
    p, people = pd.factorize(np.asarray(participant))
    i, images = pd.factorize(np.asarray(image))
    pair, pair_keys = pd.factorize(p.astype(np.int64) * len(images) + i)
    pair_keys = np.asarray(pair_keys, dtype=np.int64)
    return CrossedDesign(
        participant=p.astype(np.int64),
        image=i.astype(np.int64),
        pair=pair.astype(np.int64),
        n_p=np.bincount(p, minlength=len(people)).astype(np.float64),
        m_i=np.bincount(i, minlength=len(images)).astype(np.float64),
        c=np.bincount(pair).astype(np.float64),
        pair_participant=pair_keys // len(images),
        pair_image=pair_keys % len(images),
    )


def cluster_sums_of_squares(y: np.ndarray, design: CrossedDesign) -> np.ndarray:
    """Sums of squared residual totals per participant, per image and per pair."""
    e = y - y.mean()
    return np.array(
        [
            np.square(np.bincount(codes, e)).sum()
            for codes in (design.participant, design.image, design.pair)
        ]
    )


def _moment_matrix(d: CrossedDesign) -> np.ndarray:
    """E[sums of squares] per unit of (var_participant, var_image, var_residual)."""
    n = d.n
    sp2, sm2, sc2 = (d.n_p**2).sum(), (d.m_i**2).sum(), (d.c**2).sum()
    cross = (d.n_p[d.participant] * d.m_i[d.image]).sum()
    pp, pi = d.pair_participant, d.pair_image
    var_mean = np.array([sp2, sm2, n]) / n**2
    rows = [
        [sp2 - 2 * (d.n_p**3).sum() / n, sc2 - 2 * cross / n, n - sp2 / n],
        [sc2 - 2 * cross / n, sm2 - 2 * (d.m_i**3).sum() / n, n - sm2 / n],
        [
            sc2 - 2 * (d.c**2 * d.n_p[pp]).sum() / n,
            sc2 - 2 * (d.c**2 * d.m_i[pi]).sum() / n,
            n - sc2 / n,
        ],
    ]
    # The centring on the sample mean adds weight * Var(mean) to each expectation.
    return np.array(rows) + np.outer([sp2, sm2, sc2], var_mean)


def variance_components(y: np.ndarray, design: CrossedDesign) -> np.ndarray:
    """Moment estimates of (participant, image, residual) variances, probability scale, >= 0."""
    sums = cluster_sums_of_squares(np.asarray(y, dtype=np.float64), design)
    solved, *_ = np.linalg.lstsq(_moment_matrix(design), sums, rcond=None)
    return solved.clip(min=0)


def effective_df(sigma2: np.ndarray, design: CrossedDesign) -> float:
    """Satterthwaite degrees of freedom of the two-way variance under the working model."""
    sa, sb, se = sigma2
    d = design
    pp, pi = d.pair_participant, d.pair_image
    c = d.c
    # Variance of each cluster's total under the working model ...
    per_person = d.n_p**2 * sa + np.bincount(pp, c**2, minlength=len(d.n_p)) * sb + d.n_p * se
    per_image = d.m_i**2 * sb + np.bincount(pi, c**2, minlength=len(d.m_i)) * sa + d.m_i * se
    per_pair = c**2 * (sa + sb) + c * se
    # ... and the covariances between a participant's, an image's and a pair's totals.
    person_image = c * (d.n_p[pp] * sa + d.m_i[pi] * sb + se)
    person_pair = c * (d.n_p[pp] * sa + c * sb + se)
    image_pair = c * (c * sa + d.m_i[pi] * sb + se)
    mean = per_person.sum() + per_image.sum() - per_pair.sum()
    spread = sum(np.square(v).sum() for v in (per_person, per_image, per_pair))
    spread += 2 * (np.square(person_image).sum() - np.square(person_pair).sum())
    spread -= 2 * np.square(image_pair).sum()
    floor = min(len(d.n_p), len(d.m_i)) - 1
    if mean <= 0 or spread <= 0:
        return float(max(floor, 1))
    # One degree of freedom goes to the estimated mean.
    return float(max(mean**2 / spread - 1, 1))


def two_way_variance(y: np.ndarray, design: CrossedDesign) -> tuple[float, float | None]:
    """The two-way cluster-robust variance of the mean; a one-way fallback's df if it was <= 0.

    Each cluster's squared residual total is scaled by 1 / (1 - n_g / n), the bias-reduced
    ("CR2") correction of Bell & McCaffrey (2002) for a mean: with equal clusters it is the
    usual G / (G - 1), and it weighs large clusters, whose residuals the mean absorbs, more.
    """
    n = design.n
    e = y - y.mean()
    parts = []
    for codes, sizes in ((design.participant, design.n_p), (design.image, design.m_i)):
        totals = np.bincount(codes, e, minlength=len(sizes))
        parts.append(float((totals**2 / (1 - sizes / n)).sum()) / n**2)
    pair = float((np.bincount(design.pair, e) ** 2 / (1 - design.c / n)).sum()) / n**2
    variance = parts[0] + parts[1] - pair
    if variance > 0:
        return float(variance), None
    # Negative two-way estimates happen with almost no clustering; the larger one-way one is safe.
    pick = int(np.argmax(parts))
    return parts[pick], float(len(design.n_p if pick == 0 else design.m_i) - 1)


def _no_spread(rate: float, n: int, units: int, level: float, null: float) -> tuple:
    """Exact interval and test when every judgment went the same way, one count per unit."""
    test = stats.binomtest(round(rate * units), units, p=null)
    ci = test.proportion_ci(confidence_level=level, method="exact")
    return float(ci.low), float(ci.high), float(test.pvalue)


def _nan_estimate(rate: float, n: int, people: int, images: int, note: str) -> CrossedEstimate:
    nan = float("nan")
    values = (rate, nan, nan, nan, nan, nan, n, people, images, nan, nan, nan, nan, note)
    return CrossedEstimate(*values)


def crossed_proportion(
    y: np.ndarray,
    participant: np.ndarray,
    image: np.ndarray,
    level: float = 0.95,
    null: float = 0.5,
) -> CrossedEstimate:
    """Rate of `y` (0/1) with an interval and test valid under participant x image variation."""
    y = np.asarray(y, dtype=np.float64)
    if not 0 < level < 1:
        raise AnalysisInputError(f"confidence level {level} must be between 0 and 1")
    if not 0 < null < 1:
        raise AnalysisInputError(f"null rate {null} must be between 0 and 1")
    if not len(y) == len(participant) == len(image) or len(y) == 0:
        raise AnalysisInputError("y, participant and image must be non-empty and equally long")
    design = crossed_design(participant, image)
    n, people, images = design.n, len(design.n_p), len(design.m_i)
    rate = float(y.mean())
    if people < 2 or images < 2:
        few = "participant" if people < 2 else "image"
        return _nan_estimate(rate, n, people, images, f"only one {few}: no interval")
    sigma2 = variance_components(y, design)
    parts = dict(
        zip(("var_participant", "var_image", "var_residual"), map(float, sigma2), strict=True)
    )
    head = dict(rate=rate, n=n, n_participants=people, n_images=images, **parts)
    if rate in (0.0, 1.0):
        lo, hi, p = _no_spread(rate, n, min(people, images), level, null)
        note = "no variation: exact interval counting each of the fewer units once"
        nan = float("nan")
        return CrossedEstimate(se=0.0, df=nan, lo=lo, hi=hi, p_value=p, deff=nan, note=note, **head)
    variance, fallback_df = two_way_variance(y, design)
    df = fallback_df if fallback_df is not None else effective_df(sigma2, design)
    se_logit = np.sqrt(variance) / (rate * (1 - rate))
    t = stats.t.ppf(0.5 + level / 2, df)
    centre = logit(rate) - (2 * rate - 1) * se_logit**2 / 2  # second-order bias, see step 3
    statistic = (centre - logit(null)) / se_logit
    return CrossedEstimate(
        se=float(np.sqrt(variance)),
        df=df,
        lo=float(expit(centre - t * se_logit)),
        hi=float(expit(centre + t * se_logit)),
        p_value=float(2 * stats.t.sf(abs(statistic), df)),
        deff=float(variance / (rate * (1 - rate) / n)),
        **head,
    )


def independent_intervals(
    k, n, level: float = 0.95, null: float = 0.5, test: bool = True
) -> dict[str, np.ndarray | float]:
    """Wilson and Clopper-Pearson intervals and the exact binomial test, judgments independent.

    Wilson (1927) and Clopper & Pearson (1934) via statsmodels' `proportion_confint`, for one
    count or arrays of them; the exact test via `scipy.stats.binomtest` (skipped if not `test`).
    They are right only when every judgment is independent, e.g. one judgment per person.
    """
    from statsmodels.stats.proportion import proportion_confint

    k_arr, n_arr = np.asarray(k), np.asarray(n)
    rate = k_arr / n_arr
    bounds = []
    for method in ("wilson", "beta"):
        lo, hi = proportion_confint(k_arr, n_arr, alpha=1 - level, method=method)
        # Rounding can put a bound a hair past the rate (e.g. 3e-17 above 0 of 0): keep it round.
        bounds += [np.minimum(lo, rate), np.maximum(hi, rate)]
    out = dict(zip(("wilson_lo", "wilson_hi", "cp_lo", "cp_hi"), bounds, strict=True))
    if test:
        pairs = np.broadcast_arrays(k_arr, n_arr)
        p = [
            stats.binomtest(int(a), int(b), p=null).pvalue
            for a, b in zip(*map(np.ravel, pairs), strict=True)
        ]
        out["p_binomial"] = np.reshape(p, pairs[0].shape)
    if np.ndim(k_arr) == 0 and np.ndim(n_arr) == 0:
        return {key: float(value) for key, value in out.items()}
    return out


def crossed_rates(
    frame: pd.DataFrame,
    by: Sequence[str],
    y: str = "y",
    participant: str | Sequence[str] = "participant_id",
    image: str | Sequence[str] = "image_id",
    level: float = 0.95,
    null: float = 0.5,
) -> pd.DataFrame:
    """`crossed_proportion` per group of `by`: one row per group, its fields as columns."""
    people = _key(frame, participant)
    images = _key(frame, image)
    values = frame[y].to_numpy(dtype=np.float64)
    rows = []
    for keys, idx in frame.groupby(list(by), sort=True).indices.items():
        keys = keys if isinstance(keys, tuple) else (keys,)
        est = crossed_proportion(values[idx], people[idx], images[idx], level, null)
        rows.append(dict(zip(by, keys, strict=True)) | est.as_dict())
    return pd.DataFrame(rows, columns=[*by, *FIELDS])


def _key(frame: pd.DataFrame, columns: str | Sequence[str]) -> np.ndarray:
    """Integer codes of one column, or of several columns taken together."""
    if isinstance(columns, str):
        return pd.factorize(frame[columns])[0]
    return frame.groupby(list(columns), sort=False).ngroup().to_numpy()
