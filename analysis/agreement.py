"""How automatic metrics (metrics.csv from `crnkit metrics`) agree with people's judgments.

Reads metrics.csv and its per-image companion only (never the torch-based metrics code).

- Human preference per method: Bradley–Terry strengths of all test judgments of a data set,
  reported as the chance of beating an average method, with a participant-clustered
  percentile bootstrap interval.
- Across methods: Kendall's tau-b between each metric and the human strength. Metrics are
  oriented so that tau > 0 means "ranks methods as people do" (FID and KID are negated:
  lower is better). The interval resamples participants (the human ranking's uncertainty);
  the metrics are taken as fixed.
- Per image: Kendall's tau-b between an image's human win rate for a method (share of the
  judgments showing that method's image of that label map in which it was chosen, over all
  its comparisons and exposures) and the method's per-image metric, with scipy's p-value.

A study's method is matched to metrics rows by set digest (study.json records the digest of
every set people saw), else by set name.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd
from scipy.special import expit
from scipy.stats import kendalltau

from analysis.bootstrap import BootstrapConfig, cluster_weights, percentile_interval, strata_members
from analysis.bradley_terry import fit_bradley_terry, is_connected
from analysis.errors import AnalysisInputError
from analysis.load import StudyMeta
from analysis.schema import UNLIMITED, exposure_ms

# +1: higher is better; -1: lower is better. Diversity is oriented "more diverse = +".
DIRECTIONS = {
    "fid": -1,
    "kid": -1,
    "seg_miou": 1,
    "seg_pixel_acc": 1,
    "seg_class_acc": 1,
    "diversity": 1,
}
REQUIRED = ("dataset", "set", "metric", "value", "se", "set_digest", "weights", "split_sha256")
IMAGE_REQUIRED = ("set", "metric", "image_id", "value", "split_sha256")


@dataclass(frozen=True)
class MetricsFile:
    """metrics.csv (one row per set × metric) and its per-image rows (maybe empty)."""

    path: str
    rows: pd.DataFrame
    images: pd.DataFrame


def _read_csv(path: Path, required: tuple[str, ...]) -> pd.DataFrame:
    try:
        frame = pd.read_csv(path, dtype={"set": str, "image_id": str, "split_sha256": str})
    except (OSError, UnicodeDecodeError, pd.errors.ParserError, pd.errors.EmptyDataError) as err:
        raise AnalysisInputError(f"{path}: not a readable metrics CSV ({err})") from None
    missing = [c for c in required if c not in frame.columns]
    if missing:
        raise AnalysisInputError(
            f"{path}: missing column '{missing[0]}' (expected metrics.csv from `crnkit metrics`)"
        )
    if not pd.api.types.is_numeric_dtype(frame["value"]):
        raise AnalysisInputError(f"{path}: column 'value' must hold numbers")
    return frame


def read_metrics(path: str | Path) -> MetricsFile:
    """Read metrics.csv and, if present beside it, <stem>_images.csv."""
    path = Path(path)
    if not path.is_file():
        raise AnalysisInputError(f"--metrics {path}: no such file (write it with crnkit metrics)")
    rows = _read_csv(path, REQUIRED)
    images_path = path.with_name(f"{path.stem}_images.csv")
    images = (
        _read_csv(images_path, IMAGE_REQUIRED)
        if images_path.is_file()
        else pd.DataFrame(columns=list(IMAGE_REQUIRED))
    )
    return MetricsFile(str(path), rows, images)


@dataclass(frozen=True)
class HumanStrengths:
    """Bradley–Terry strengths of one data set's methods and their bootstrap draws."""

    methods: list[str]
    strength: np.ndarray
    draws: np.ndarray
    judgments: np.ndarray


def headline_stratum(judgments: pd.DataFrame) -> pd.DataFrame:
    """The judgments of the headline exposure: unlimited if tested, else the longest one.

    Rankings are never pooled across exposures (a fake shown for 125 ms is near chance, so
    pooling flatters whatever was shown briefly); the agreement uses the paper table's stratum.
    """
    exposures = set(judgments["exposure"].unique())
    chosen = UNLIMITED if UNLIMITED in exposures else max(exposures, key=exposure_ms)
    return judgments[judgments["exposure"] == chosen]


def human_strengths(judgments: pd.DataFrame, cfg: BootstrapConfig) -> HumanStrengths | None:
    """BT strengths of the methods at the headline exposure; None if they are not all linked."""
    judgments = headline_stratum(judgments)
    methods = sorted(set(judgments["method_a"]) | set(judgments["method_b"]))
    index = {m: i for i, m in enumerate(methods)}
    m = len(methods)
    winner = judgments["chosen_method"].map(index).to_numpy()
    loser_name = np.where(judgments["chose_a"] == 1, judgments["method_b"], judgments["method_a"])
    loser = pd.Series(loser_name).map(index).to_numpy()
    people = judgments.groupby(["study_id", "participant_id"], sort=True).ngroup().to_numpy()
    n_people = int(people.max()) + 1
    counts = np.zeros((n_people, m * m))
    np.add.at(counts, (people, winner * m + loser), 1.0)
    wins = counts.sum(axis=0).reshape(m, m)
    if m < 2 or not is_connected(wins):
        return None
    theta = fit_bradley_terry(wins)
    studies = judgments.groupby(["study_id", "participant_id"], sort=True)["study_id"].first()
    strata = strata_members(pd.factorize(studies.to_numpy())[0])
    rng = np.random.default_rng(cfg.seed)
    weights = cluster_weights(rng, strata, n_people, cfg.n_resamples)
    draws = fit_bradley_terry((weights @ counts).reshape(-1, m, m), start=theta)
    return HumanStrengths(methods, theta, draws, (wins.sum(axis=0) + wins.sum(axis=1)))


def _digests(studies: dict[str, StudyMeta], study_ids: set[str]) -> dict[str, str]:
    """{method: digest of the set people saw} from the study.json files of these studies."""
    out = {}
    for sid in sorted(study_ids):
        meta = studies.get(sid)
        for name, entry in (meta.imagesets if meta else {}).items():
            if entry.get("sha256"):
                out[name] = str(entry["sha256"])
    return out


def match_rows(
    rows: pd.DataFrame, methods: list[str], digests: dict[str, str]
) -> tuple[pd.DataFrame, list[str]]:
    """The metrics rows of each method (digest match first, else name), with notes."""
    matched, notes = [], []
    for method in methods:
        for metric, group in rows.groupby("metric", sort=True):
            pick = group[group["set_digest"] == digests.get(method, "")]
            if pick.empty:
                pick = group[group["set"] == method]
                stale = digests.get(method) and metric != "diversity" and not pick.empty
                if stale:
                    notes.append(
                        f"metrics: {metric} of '{method}' was computed on other images than the "
                        "study showed (set digest differs)"
                    )
            if pick["split_sha256"].nunique() > 1:
                notes.append(f"metrics: '{method}' {metric} is ambiguous (several splits); skipped")
                continue
            if not pick.empty:
                matched.append(pick.iloc[[-1]].assign(method=method))
    frame = pd.concat(matched, ignore_index=True) if matched else rows.iloc[0:0].assign(method="")
    return frame, notes


def _kendall(x: np.ndarray, y: np.ndarray) -> tuple[float, float]:
    """scipy's tau-b and p-value; NaN where either side has no spread."""
    if len(x) < 2 or np.ptp(x) == 0 or np.ptp(y) == 0:
        return float("nan"), float("nan")
    result = kendalltau(x, y)
    return float(result.statistic), float(result.pvalue)


def method_table(
    human: HumanStrengths, matched: pd.DataFrame, dataset: str, level: float
) -> pd.DataFrame:
    """One row per method: human strength, its interval, and each metric (value, se)."""
    lo, hi = percentile_interval(human.draws, level)
    table = pd.DataFrame(
        {
            "dataset": dataset,
            "method": human.methods,
            "strength": human.strength,
            "strength_lo": lo,
            "strength_hi": hi,
            "p_beats_average": expit(human.strength),
            "p_lo": expit(lo),
            "p_hi": expit(hi),
            "judgments": human.judgments.astype(int),
        }
    )
    for metric in sorted(set(matched["metric"])):
        sub = matched[matched["metric"] == metric].set_index("method")
        table[metric] = table["method"].map(sub["value"])
        if sub["se"].notna().any():
            table[f"{metric}_se"] = table["method"].map(sub["se"])
    return table


def tau_table(
    human: HumanStrengths, methods: pd.DataFrame, dataset: str, level: float
) -> pd.DataFrame:
    """Kendall tau between human strength and each oriented metric, bootstrap interval."""
    rows = []
    for metric, sign in DIRECTIONS.items():
        if metric not in methods:
            continue
        have = methods[metric].notna().to_numpy()
        if have.sum() < 3:
            continue
        x = sign * methods.loc[have, metric].to_numpy(dtype=float)
        tau, p_value = _kendall(x, human.strength[have])
        draws = np.array([_kendall(x, d[have])[0] for d in human.draws])
        finite = draws[np.isfinite(draws)]
        lo, hi = (np.nan, np.nan)
        if finite.size:
            lo, hi = np.quantile(finite, [(1 - level) / 2, (1 + level) / 2])
        rows.append(
            {
                "dataset": dataset,
                "metric": metric,
                "direction": "lower is better" if sign < 0 else "higher is better",
                "methods": int(have.sum()),
                "tau": tau,
                "tau_lo": float(lo),
                "tau_hi": float(hi),
                "p_value": p_value,
            }
        )
    return pd.DataFrame(rows, columns=TAU_COLUMNS)


TAU_COLUMNS = ["dataset", "metric", "direction", "methods", "tau", "tau_lo", "tau_hi", "p_value"]
IMAGE_COLUMNS = ["dataset", "method", "metric", "images", "tau", "p_value"]


def image_win_rates(judgments: pd.DataFrame) -> pd.DataFrame:
    """Per method × image: judgments showing it and the share in which it was chosen."""
    shown = pd.concat(
        [
            judgments.assign(method=judgments["method_a"]),
            judgments.assign(method=judgments["method_b"]),
        ]
    )
    shown["won"] = (shown["chosen_method"] == shown["method"]).astype(float)
    return shown.groupby(["method", "image_id"])["won"].agg(["size", "mean"]).reset_index()


def per_image_table(
    judgments: pd.DataFrame, matched: pd.DataFrame, images: pd.DataFrame, dataset: str
) -> pd.DataFrame:
    """Kendall tau between per-image win rate and per-image metric, per method and metric."""
    rates = image_win_rates(judgments)
    rows = []
    for _, row in matched.iterrows():
        sign = DIRECTIONS.get(row["metric"], 1)
        values = images[
            (images["set"] == row["set"])
            & (images["metric"] == row["metric"])
            & (images["split_sha256"] == row["split_sha256"])
        ]
        if values.empty:
            continue
        mine = rates[rates["method"] == row["method"]]
        both = mine.merge(values[["image_id", "value"]], on="image_id").dropna()
        if len(both) < 3:
            continue
        tau, p_value = _kendall(sign * both["value"].to_numpy(), both["mean"].to_numpy())
        rows.append(
            {
                "dataset": dataset,
                "method": row["method"],
                "metric": row["metric"],
                "images": len(both),
                "tau": tau,
                "p_value": p_value,
            }
        )
    return pd.DataFrame(rows, columns=IMAGE_COLUMNS)


@dataclass(frozen=True)
class Agreement:
    """Per-method metrics beside human preference, tau across methods, tau across images."""

    source: str
    methods: pd.DataFrame
    tau: pd.DataFrame
    images: pd.DataFrame
    notes: tuple[str, ...]


def agreement_analysis(
    kept: pd.DataFrame,
    metrics: MetricsFile,
    studies: dict[str, StudyMeta],
    cfg: BootstrapConfig,
) -> Agreement:
    """Everything the report's metrics section shows, per data set of the judgments."""
    methods, taus, images, notes = [], [], [], []
    for dataset, rows in kept.groupby("dataset", sort=True):
        human = human_strengths(rows, cfg)
        if human is None:
            notes.append(f"metrics: {dataset}: methods are not all linked; no agreement analysis")
            continue
        digests = _digests(studies, set(rows["study_id"]))
        matched, match_notes = match_rows(metrics.rows, human.methods, digests)
        notes += match_notes
        if matched.empty:
            notes.append(f"metrics: no row of {metrics.path} matches a method of {dataset}")
            continue
        if (matched["weights"] == "random").any():
            notes.append(
                f"metrics: {dataset}: some metrics were computed with random network weights "
                "(weights = random in metrics.csv); they are not comparable to published values"
            )
        table = method_table(human, matched, str(dataset), cfg.level)
        methods.append(table)
        taus.append(tau_table(human, table, str(dataset), cfg.level))
        images.append(per_image_table(rows, matched, metrics.images, str(dataset)))
    return Agreement(
        source=metrics.path,
        methods=pd.concat(methods, ignore_index=True) if methods else pd.DataFrame(),
        tau=pd.concat(taus, ignore_index=True) if taus else pd.DataFrame(columns=TAU_COLUMNS),
        images=(
            pd.concat(images, ignore_index=True) if images else pd.DataFrame(columns=IMAGE_COLUMNS)
        ),
        notes=tuple(dict.fromkeys(notes)),
    )
