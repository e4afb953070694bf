"""Simulated 2AFC judgments with a known exposure curve, for tests and the coverage benchmark.

Participant p chooses method a with probability 0.5 + (a_p - 0.5) F((x - m - u_p) / s) at
x = log2(exposure ms), and a_p at unlimited exposure, where u_p ~ N(0, sd_halfway^2) shifts
their halfway point and a_p = a + d_p, d_p ~ U(-spread_a, spread_a), their asymptote. The
population curve (averaged over people) is symmetric about m and levels off at a, but it is a
mixture, not exactly a logistic, so the truth an estimator targets is the logistic that fits
the population curve best: `pseudo_truth` computes it by fitting the expected counts.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import pandas as pd
from scipy.special import expit

from analysis.psychometric import CHANCE, fit_curve
from analysis.schema import UNLIMITED
from crnkit_common.responses import PAPER_EXPOSURES_MS

NODES, WEIGHTS = np.polynomial.hermite_e.hermegauss(60)
WEIGHTS = WEIGHTS / WEIGHTS.sum()
TIMED = tuple(str(ms) for ms in PAPER_EXPOSURES_MS)


@dataclass(frozen=True)
class CurveScenario:
    """Design and true curve of one simulated comparison."""

    participants: int = 40
    trials: int = 40
    asymptote: float = 0.8
    halfway_ms: float = 400.0
    spread: float = 0.8
    sd_halfway: float = 0.5
    spread_a: float = 0.1
    exposures: Sequence[str] = (*TIMED, UNLIMITED)


def population_curve(s: CurveScenario, x: np.ndarray) -> np.ndarray:
    """P(choose a) averaged over participants at log2 exposures x."""
    shifted = (np.asarray(x)[:, None] - np.log2(s.halfway_ms) - s.sd_halfway * NODES) / s.spread
    return CHANCE + (s.asymptote - CHANCE) * (expit(shifted) @ WEIGHTS)


def pseudo_truth(s: CurveScenario) -> np.ndarray:
    """(a, m, s) of the logistic curve closest (in likelihood) to the population curve."""
    timed = [e for e in s.exposures if e != UNLIMITED]
    x = np.log2([float(e) for e in timed])
    n = np.full(len(x), 1e6)
    theta, _ = fit_curve(n, n * population_curve(s, x), x)
    return theta


def simulate_curve_study(s: CurveScenario, rng: np.random.Generator) -> pd.DataFrame:
    """Judgments of one comparison ("crn" vs "other") in the layout the analysis reads."""
    total = s.participants * s.trials
    person = np.repeat(np.arange(s.participants), s.trials)
    shift = rng.normal(0, s.sd_halfway, s.participants)[person]
    top = (s.asymptote + rng.uniform(-s.spread_a, s.spread_a, s.participants))[person]
    exposure = np.asarray(s.exposures)[rng.integers(0, len(s.exposures), total)]
    unlimited = exposure == UNLIMITED
    ms = np.where(unlimited, "1", exposure).astype(float)
    z = (np.log2(ms) - np.log2(s.halfway_ms) - shift) / s.spread
    p = np.where(unlimited, top, CHANCE + (np.clip(top, 0, 1) - CHANCE) * expit(z))
    chose = (rng.random(total) < p).astype(np.int8)
    return pd.DataFrame(
        {
            "study_id": "sim",
            "dataset": "city",
            "participant_id": [f"p{i:03d}" for i in person],
            "comparison": "crn_vs_other",
            "image_id": [f"img{i:03d}" for i in rng.integers(0, 50, total)],
            "method_a": "crn",
            "method_b": "other",
            "chosen_method": np.where(chose == 1, "crn", "other"),
            "chose_a": chose,
            "exposure": exposure,
            "exposure_ms_target": np.where(unlimited, np.nan, ms),
        }
    )
