"""Sample-size planning for one comparison x exposure cell.

- Precision: judgments for a target confidence-interval half-width at an expected rate
  (statsmodels `samplesize_confint_proportion`, normal approximation), with the Wilson
  half-width that many judgments would actually give.
- Power: the fewest judgments at which the two-sided exact binomial test of 50 % reaches the
  target power (its power is computed exactly from the binomial distribution; it saw-tooths in
  n, so the first n that reaches the target is reported). The normal approximation
  (statsmodels `NormalIndPower` on Cohen's h) is the starting point and is shown beside it.
- Clustering, quickly: judgments by the same participant are correlated; the design effect
  1 + (m - 1) * ICC (Kish 1965) inflates n, for m judgments per participant in the cell.
- Clustering, properly: `analysis.pilot` simulates the crossed design from a pilot's variance
  components and the headline crossed test (`crnkit analyze plan --pilot`).
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass

from scipy.stats import binom
from statsmodels.stats.power import NormalIndPower
from statsmodels.stats.proportion import proportion_effectsize, samplesize_confint_proportion

from analysis.errors import AnalysisInputError
from crnkit_common.proportions import independent_intervals


@dataclass(frozen=True)
class Plan:
    """A planned number of judgments, and what it buys."""

    goal: str
    rate: float
    judgments: int
    judgments_independent: int
    design_effect: float
    detail: dict[str, float]

    def as_dict(self) -> dict[str, object]:
        """Plain dict for JSON output."""
        return asdict(self)


def design_effect(icc: float = 0.0, per_participant: float = 1.0) -> float:
    """Kish design effect 1 + (m - 1) * ICC for m judgments per participant."""
    if not 0 <= icc <= 1:
        raise AnalysisInputError(f"ICC {icc} must be between 0 and 1")
    if per_participant < 1:
        raise AnalysisInputError("judgments per participant must be >= 1")
    return 1.0 + (per_participant - 1.0) * icc


def _check_rate(rate: float) -> None:
    if not (0 < rate < 1):
        raise AnalysisInputError(f"rate {rate} must be strictly between 0 and 1")


def wilson_half_width(rate: float, n: int, level: float = 0.95) -> float:
    """Half the width of the Wilson interval for round(rate * n) successes out of n."""
    ci = independent_intervals(round(rate * n), n, level)
    return (ci["wilson_hi"] - ci["wilson_lo"]) / 2


def plan_half_width(rate: float, half_width: float, level: float = 0.95, deff: float = 1.0) -> Plan:
    """Judgments needed so that the interval at `rate` has at most the given half-width."""
    _check_rate(rate)
    if not 0 < half_width < 0.5:
        raise AnalysisInputError(f"half-width {half_width} must be between 0 and 0.5")
    if not 0 < level < 1:
        raise AnalysisInputError(f"confidence level {level} must be between 0 and 1")
    n0 = math.ceil(samplesize_confint_proportion(rate, half_width, alpha=1 - level))
    n = math.ceil(n0 * deff)
    detail = {"level": level, "half_width": half_width, "wilson_half_width": 0.0}
    detail["wilson_half_width"] = wilson_half_width(rate, n0, level)
    return Plan("half-width", rate, n, n0, deff, detail)


def exact_power(n: int, rate: float, alpha: float = 0.05) -> float:
    """Power of the two-sided exact binomial test of 50 % with n judgments at a true rate."""
    # The test against 0.5 is symmetric: reject when k <= c or k >= n - c.
    c = int(binom.ppf(alpha / 2, n, 0.5))
    while c >= 0 and 2 * binom.cdf(c, n, 0.5) > alpha:
        c -= 1
    if c < 0:
        return 0.0
    return float(binom.cdf(c, n, rate) + binom.sf(n - c - 1, n, rate))


def plan_power(rate: float, power: float = 0.8, alpha: float = 0.05, deff: float = 1.0) -> Plan:
    """Judgments needed to detect `rate` against 50 % with the given power (two-sided)."""
    _check_rate(rate)
    if rate == 0.5:
        raise AnalysisInputError("rate 0.5 is the null hypothesis; pick a rate other than 0.5")
    if not 0 < power < 1 or not 0 < alpha < 1:
        raise AnalysisInputError("power and alpha must be between 0 and 1")
    effect = abs(proportion_effectsize(rate, 0.5))
    raw = NormalIndPower().solve_power(
        effect_size=effect, nobs1=None, alpha=alpha, power=power, ratio=0.0
    )
    approx = math.ceil(float(raw))
    n0 = exact_sample_size(rate, power, alpha, start=max(1, approx // 2))
    n = math.ceil(n0 * deff)
    detail = {
        "power": power,
        "alpha": alpha,
        "cohens_h": float(effect),
        "normal_approximation": approx,
        "exact_power_at_n": exact_power(n0, rate, alpha),
    }
    return Plan("power", rate, n, n0, deff, detail)


def exact_sample_size(rate: float, power: float, alpha: float, start: int = 1) -> int:
    """Fewest judgments (from `start` up) at which the exact test reaches `power`."""
    n = start
    while exact_power(n, rate, alpha) < power:
        n += 1
        if n > 10_000_000:
            raise AnalysisInputError("more than 10 million judgments needed; check the rate")
    return n
