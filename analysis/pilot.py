"""Power of a crossed design by simulation, with variance components taken from a pilot study.

A pilot's judgments of one cell give the rate and the probability-scale variance components
(`crnkit_common.proportions.variance_components`). They are turned into a logit-normal model,
    logit P(choose a) = mu + u_participant + v_image,  u ~ N(0, sd_p^2),  v ~ N(0, sd_i^2),
by matching the marginal rate and the two covariances (judgments sharing a participant, and
sharing an image) with Gauss-Hermite quadrature. Studies of the planned size are then simulated
from that model and analysed with the headline crossed test; the share that reject 50 % is the
power (Arnold et al. 2011 and Green & MacLeod 2016 simulate mixed-model power the same way).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd
from scipy import optimize
from scipy.special import expit, logit

from analysis.errors import AnalysisInputError
from analysis.schema import CELL_KEYS, IMAGE_KEYS, PARTICIPANT_KEYS
from crnkit_common.proportions import crossed_design, crossed_proportion, variance_components

NODES, WEIGHTS = np.polynomial.hermite_e.hermegauss(40)
WEIGHTS = WEIGHTS / WEIGHTS.sum()


@dataclass(frozen=True)
class CrossedModel:
    """A logit-normal crossed model: intercept and the two random-effect SDs (logit scale)."""

    mu: float
    sd_participant: float
    sd_image: float

    def moments(self) -> tuple[float, float, float]:
        """Marginal rate and the covariances of two judgments sharing a participant / image."""
        f = expit(self.mu + self.sd_participant * NODES[:, None] + self.sd_image * NODES[None, :])
        rate = WEIGHTS @ f @ WEIGHTS
        by_person, by_image = f @ WEIGHTS, WEIGHTS @ f
        return (
            float(rate),
            float(WEIGHTS @ by_person**2 - rate**2),
            float(WEIGHTS @ by_image**2 - rate**2),
        )

    def marginal(self) -> float:
        """The population rate E[expit(mu + u + v)]."""
        return self.moments()[0]


def intercept_for(rate: float, sd_participant: float, sd_image: float) -> float:
    """mu such that the model's population rate equals `rate`."""
    if not 0 < rate < 1:
        raise AnalysisInputError(f"rate {rate} must be strictly between 0 and 1")
    sd = float(np.hypot(sd_participant, sd_image))
    if sd == 0:
        return float(logit(rate))
    gap = lambda mu: float(WEIGHTS @ expit(mu + sd * NODES)) - rate  # noqa: E731
    return float(optimize.brentq(gap, -40, 40))


def model_from_moments(rate: float, cov_participant: float, cov_image: float) -> CrossedModel:
    """The logit-normal model whose rate and covariances match the given ones (least squares)."""
    rate = float(np.clip(rate, 1e-3, 1 - 1e-3))

    def residual(sds: np.ndarray) -> np.ndarray:
        model = CrossedModel(intercept_for(rate, *sds), *sds)
        _, cov_p, cov_i = model.moments()
        return np.array([cov_p - cov_participant, cov_i - cov_image]) / (rate * (1 - rate))

    fit = optimize.least_squares(residual, x0=[0.5, 0.5], bounds=([0, 0], [6, 6]))
    sd_p, sd_i = (float(v) for v in fit.x)
    return CrossedModel(intercept_for(rate, sd_p, sd_i), sd_p, sd_i)


def simulate_crossed(
    rng: np.random.Generator,
    model: CrossedModel,
    participants: int,
    images: int,
    per_participant: np.ndarray,
):
    """One study: each participant judges m_p images (without replacement where m_p <= I)."""
    people = np.repeat(np.arange(participants), per_participant)
    if per_participant.max() <= images:
        order = np.argsort(rng.random((participants, images)), axis=1)
        seen = order[np.arange(images)[None, :] < per_participant[:, None]]
    else:
        seen = rng.integers(0, images, people.size)
    eta = model.mu + rng.normal(0, model.sd_participant, participants)[people]
    eta = eta + rng.normal(0, model.sd_image, images)[seen]
    y = (rng.random(people.size) < expit(eta)).astype(np.float64)
    return y, people, seen


@dataclass(frozen=True)
class Design:
    """A planned cell: participants, judgments each (per cell), and images."""

    participants: int
    per_participant: int
    images: int


def simulated_power(
    model: CrossedModel, design: Design, alpha: float = 0.05, studies: int = 300, seed: int = 0
) -> dict[str, float]:
    """Share of simulated studies whose crossed test rejects 50 %, and the mean half-width."""
    if min(design.participants, design.images) < 2 or design.per_participant < 1:
        raise AnalysisInputError("a planned cell needs >= 2 participants, >= 2 images, m >= 1")
    rng = np.random.default_rng(seed)
    sizes = np.full(design.participants, design.per_participant)
    rejects, widths = 0, 0.0
    for _ in range(studies):
        y, people, seen = simulate_crossed(rng, model, design.participants, design.images, sizes)
        est = crossed_proportion(y, people, seen)
        rejects += bool(est.p_value < alpha)
        widths += (est.hi - est.lo) / 2 if np.isfinite(est.hi) else 0.5
    return {"power": rejects / studies, "half_width": widths / studies}


def participants_for_power(
    model: CrossedModel,
    per_participant: int,
    images: int,
    target: float = 0.8,
    alpha: float = 0.05,
    studies: int = 300,
    seed: int = 0,
    most: int = 5000,
) -> tuple[int | None, float]:
    """Fewest participants whose simulated power reaches `target` (None if above `most`)."""
    power = lambda p: simulated_power(  # noqa: E731
        model, Design(p, per_participant, images), alpha, studies, seed
    )["power"]
    low, high = 2, 4
    while power(high) < target:
        low, high = high, high * 2
        if high > most:
            return None, power(most)
    while high - low > max(1, low // 20):  # within 5 %: simulation noise is larger than that
        mid = (low + high) // 2
        low, high = (low, mid) if power(mid) >= target else (mid, high)
    return high, power(high)


def pilot_models(judgments: pd.DataFrame) -> pd.DataFrame:
    """Per cell of a pilot: observed design, rate, variance components and the fitted model."""
    rows = []
    for keys, cell in judgments.groupby(CELL_KEYS, sort=True):
        people = cell.groupby(PARTICIPANT_KEYS, sort=False).ngroup().to_numpy()
        images = cell.groupby(IMAGE_KEYS, sort=False).ngroup().to_numpy()
        y = cell["chose_a"].to_numpy(dtype=np.float64)
        sigma2 = variance_components(y, crossed_design(people, images))
        model = model_from_moments(float(y.mean()), sigma2[0], sigma2[1])
        rows.append(
            dict(zip(CELL_KEYS, keys, strict=True))
            | {
                "rate": float(y.mean()),
                "participants": int(people.max()) + 1,
                "per_participant": int(np.median(np.bincount(people))),
                "images": int(images.max()) + 1,
                "sd_participant": model.sd_participant,
                "sd_image": model.sd_image,
                "mu": model.mu,
            }
        )
    return pd.DataFrame(rows)
