"""Simulated study responses in the contract-5 layout (docs/contracts.md), for tests and demos.

Judgments follow a logistic model: logit P(choose method_a) = scale(exposure) * logit(rate)
+ participant effect + image effect + left-side bias, with normal random effects, so that
clustered intervals have something to account for.
"""

from __future__ import annotations

import io
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

import numpy as np
import pandas as pd
from scipy.special import expit, logit

from analysis.schema import CATCH_COMPARISON, COLUMNS, UNLIMITED

DEFAULT_COMPARISONS: dict[str, tuple[str, str, float]] = {
    "crn_vs_pix2pix": ("crn", "pix2pix", 0.90),
    "crn_vs_encdec": ("crn", "encdec", 0.75),
    "crn_vs_real": ("crn", "real", 0.30),
}
DEFAULT_EXPOSURES: tuple[str, ...] = (
    "125",
    "250",
    "500",
    "1000",
    "2000",
    "4000",
    "8000",
    UNLIMITED,
)


@dataclass(frozen=True)
class SimulationSpec:
    """Design and effect sizes of one simulated study."""

    study_id: str = "synth"
    dataset: str = "synthetic"
    comparisons: Mapping[str, tuple[str, str, float]] = field(
        default_factory=lambda: dict(DEFAULT_COMPARISONS)
    )
    exposures: Sequence[str] = DEFAULT_EXPOSURES
    n_participants: int = 40
    test_trials: int = 48
    catch_trials: int = 4
    practice_trials: int = 2
    n_images: int = 30
    participant_sd: float = 0.5
    image_sd: float = 0.3
    left_bias: float = 0.0
    exposure_tau_ms: float = 600.0
    inattentive_share: float = 0.1
    fast_share: float = 0.02
    timing_fail_share: float = 0.03
    focus_lost_share: float = 0.02
    catch_set: str = "catch_blur"
    real_set: str = "real"
    seed: int = 0


def true_rate(spec: SimulationSpec, comparison: str, exposure: str) -> float:
    """P(choose method_a) for an average participant and image (no random effects)."""
    base = spec.comparisons[comparison][2]
    scale = 1.0 if exposure == UNLIMITED else 1.0 - np.exp(-float(exposure) / spec.exposure_tau_ms)
    return float(expit(scale * logit(base)))


def _trial_plan(spec: SimulationSpec, rng: np.random.Generator) -> pd.DataFrame:
    """Kinds and participant of every trial, practice first, catch trials mixed into the rest."""
    per = spec.practice_trials + spec.test_trials + spec.catch_trials
    kinds = ["practice"] * spec.practice_trials + ["test"] * spec.test_trials
    kinds += ["catch"] * spec.catch_trials
    blocks = []
    for _ in range(spec.n_participants):
        rest = np.array(kinds[spec.practice_trials :])
        blocks.append(np.concatenate([kinds[: spec.practice_trials], rng.permutation(rest)]))
    plan = pd.DataFrame({"kind": np.concatenate(blocks) if blocks else np.array([], str)})
    plan["participant"] = np.repeat(np.arange(spec.n_participants), per)
    plan["trial_index"] = np.tile(np.arange(per), spec.n_participants)
    return plan


def _assign_cells(plan: pd.DataFrame, spec: SimulationSpec, rng: np.random.Generator) -> None:
    names = list(spec.comparisons)
    n = len(plan)
    comparison = np.array(names)[rng.integers(0, len(names), n)]
    exposure = np.array(list(spec.exposures))[rng.integers(0, len(spec.exposures), n)]
    catch = plan["kind"].to_numpy() == "catch"
    plan["comparison"] = np.where(catch, CATCH_COMPARISON, comparison)
    plan["exposure"] = exposure
    table = spec.comparisons
    plan["method_a"] = [
        spec.real_set if c else table[k][0] for c, k in zip(catch, comparison, strict=True)
    ]
    plan["method_b"] = [
        spec.catch_set if c else table[k][1] for c, k in zip(catch, comparison, strict=True)
    ]
    plan["image_id"] = [f"img{i:04d}" for i in rng.integers(0, spec.n_images, n)]


def _choices(plan: pd.DataFrame, spec: SimulationSpec, rng: np.random.Generator) -> None:
    n = len(plan)
    part = plan["participant"].to_numpy()
    person = rng.normal(0, spec.participant_sd, spec.n_participants)[part]
    image = rng.normal(0, spec.image_sd, spec.n_images)[
        plan["image_id"].str[3:].astype(int).to_numpy()
    ]
    a_left = rng.random(n) < 0.5
    rates = {
        (c, e): true_rate(spec, c, e) for c in spec.comparisons for e in map(str, spec.exposures)
    }
    catch = plan["kind"].to_numpy() == "catch"
    base = [
        0.0 if k else logit(rates[(c, e)])
        for k, c, e in zip(catch, plan["comparison"], plan["exposure"], strict=True)
    ]
    eta = np.asarray(base) + person + image + np.where(a_left, spec.left_bias, -spec.left_bias)
    p_a = expit(eta)
    inattentive = rng.random(spec.n_participants) < spec.inattentive_share
    p_a = np.where(catch, np.where(inattentive[part], 0.5, 0.97), p_a)
    chose_a = rng.random(n) < p_a
    a, b = plan["method_a"].to_numpy(), plan["method_b"].to_numpy()
    plan["left_method"] = np.where(a_left, a, b)
    plan["right_method"] = np.where(a_left, b, a)
    plan["chosen_method"] = np.where(chose_a, a, b)


def _timing(plan: pd.DataFrame, spec: SimulationSpec, rng: np.random.Generator) -> None:
    n = len(plan)
    unlimited = plan["exposure"].to_numpy() == UNLIMITED
    target = pd.to_numeric(plan["exposure"].where(~unlimited, None), errors="coerce")
    frame = np.where(rng.random(spec.n_participants) < 0.8, 1000 / 60, 1000 / 120)
    frame_ms = frame[plan["participant"].to_numpy()]
    fail = (rng.random(n) < spec.timing_fail_share) & ~unlimited
    jitter = np.where(fail, 3 * frame_ms, rng.uniform(-0.4, 0.4, n) * frame_ms)
    plan["exposure_ms_target"] = target
    plan["exposure_ms_measured"] = np.where(unlimited, np.nan, np.round(target + jitter, 1))
    plan["timing_ok"] = (~fail).astype(int)
    plan["frame_ms"] = np.round(frame_ms, 3)
    plan["dpr"] = np.where(rng.random(spec.n_participants) < 0.5, 1.0, 2.0)[plan["participant"]]
    fast = rng.random(n) < spec.fast_share
    plan["response_ms"] = np.round(np.where(fast, 120.0, 400 + rng.lognormal(6.5, 0.5, n)))
    plan["focus_lost"] = (rng.random(n) < spec.focus_lost_share).astype(int)


def simulate_responses(spec: SimulationSpec) -> pd.DataFrame:
    """Simulated answered trials of one study, with exactly the contract-5 columns."""
    rng = np.random.default_rng(spec.seed)
    plan = _trial_plan(spec, rng)
    _assign_cells(plan, spec, rng)
    _choices(plan, spec, rng)
    _timing(plan, spec, rng)
    start = pd.Timestamp("2024-05-01T10:00:00Z")
    shown = start + pd.to_timedelta(plan["participant"] * 3600 + plan["trial_index"] * 5, "s")
    answered = shown + pd.to_timedelta(plan["response_ms"], "ms")
    plan["shown_at"] = shown.dt.strftime("%Y-%m-%dT%H:%M:%S.%fZ")
    plan["answered_at"] = answered.dt.strftime("%Y-%m-%dT%H:%M:%S.%fZ")
    plan["study_id"] = spec.study_id
    plan["dataset"] = spec.dataset
    plan["participant_id"] = [f"p{i:05d}" for i in plan["participant"]]
    plan["platform"] = "local"
    plan["window_w"], plan["window_h"] = 1280, 800
    plan["user_agent"] = "Mozilla/5.0 (simulated)"
    return plan[list(COLUMNS)].reset_index(drop=True)


def as_csv_text(frame: pd.DataFrame) -> pd.DataFrame:
    """The frame exactly as a reader of its CSV export sees it: every cell as text."""
    buf = io.StringIO()
    frame.to_csv(buf, index=False)
    buf.seek(0)
    return pd.read_csv(buf, dtype=str, keep_default_na=False)


def study_json_for(spec: SimulationSpec, **exclusions: object) -> dict[str, object]:
    """A study.json document matching `simulate_responses(spec)` (contract 5)."""
    methods = {m for a, b, _ in spec.comparisons.values() for m in (a, b)} | {spec.real_set}
    imagesets = {m: {"kind": "real" if m == spec.real_set else "generated"} for m in methods}
    imagesets[spec.catch_set] = {"kind": "catch"}
    comparisons = [
        {"id": k, "a": a, "b": b, "exposures": list(spec.exposures)}
        for k, (a, b, _) in spec.comparisons.items()
    ]
    return {
        "study_id": spec.study_id,
        "title": f"Simulated study {spec.study_id}",
        "dataset": spec.dataset,
        "spec": {
            "id": spec.study_id,
            "comparisons": comparisons,
            "catch": {"real": spec.real_set, "bad": spec.catch_set},
        },
        "spec_sha256": "0" * 64,
        "imagesets": imagesets,
        "exclusions": dict(exclusions),
    }
