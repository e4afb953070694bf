"""Cluster bootstrap intervals for preference rates, vectorised with numpy.

Judgments by one participant (and of one image) are correlated, so resampling single judgments
understates uncertainty. Two resampling schemes (percentile intervals):

- participant-clustered: draw participants with replacement within each study (Davison &
  Hinkley 1997, sec. 3.8; Field & Welsh 2007). Judgments are first aggregated into per
  participant x cell counts, so each resample is one row of a weight matrix W (R x P):
  resampled counts are W @ counts (P x cells).
- two-way (participants x images): participants and images are drawn independently and a
  judgment's weight is w_participant * v_image (the "pigeonhole" bootstrap, Owen 2007;
  McCullagh 2000), which is mildly conservative. The per participant x (cell, image) counts
  are a sparse matrix S, so each batch of resamples is one sparse product W @ S followed by a
  batched contraction with the image weights V.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import pandas as pd
import scipy.sparse as sp

from analysis.errors import AnalysisInputError
from analysis.schema import CELL_KEYS, IMAGE_KEYS, PARTICIPANT_KEYS

DENSE_BUDGET = 64_000_000  # float32 entries of the two-way bootstrap's per-image sums


@dataclass(frozen=True)
class BootstrapConfig:
    """Number of resamples, seed, interval level and batch size of the cluster bootstraps."""

    n_resamples: int = 2000
    seed: int = 0
    level: float = 0.95
    batch: int = 500

    def __post_init__(self) -> None:
        if self.n_resamples < 2:
            raise AnalysisInputError(f"--bootstrap {self.n_resamples}: need at least 2 resamples")
        if not 0 < self.level < 1:
            raise AnalysisInputError(f"confidence level {self.level} must be between 0 and 1")
        if self.batch < 1:
            raise AnalysisInputError("bootstrap batch size must be positive")


def _batches(total: int, size: int) -> list[int]:
    return [min(size, total - start) for start in range(0, total, size)]


def cluster_weights(
    rng: np.random.Generator, strata: Sequence[np.ndarray], n_clusters: int, n_draws: int
) -> np.ndarray:
    """Multinomial resampling weights (n_draws x n_clusters): clusters drawn within strata."""
    ids = np.empty((n_draws, n_clusters), dtype=np.int64)
    col = 0
    for members in strata:
        m = len(members)
        ids[:, col : col + m] = members[rng.integers(0, m, size=(n_draws, m))]
        col += m
    ids += np.arange(n_draws, dtype=np.int64)[:, None] * n_clusters
    counts = np.bincount(ids.ravel(), minlength=n_draws * n_clusters)
    return counts.reshape(n_draws, n_clusters).astype(np.float32)


def _ratio(num: np.ndarray, den: np.ndarray) -> np.ndarray:
    out = np.full(num.shape, np.nan, dtype=np.float64)
    np.divide(num, den, out=out, where=den > 0)
    return out


def strata_members(stratum_of_cluster: np.ndarray) -> list[np.ndarray]:
    """Cluster indices grouped by stratum (e.g. participants by study)."""
    order = np.argsort(stratum_of_cluster, kind="stable")
    _, starts = np.unique(stratum_of_cluster[order], return_index=True)
    return np.split(order, starts[1:])


def clustered_rates(
    cluster: np.ndarray,
    cell: np.ndarray,
    y: np.ndarray,
    n_cells: int,
    cluster_strata: np.ndarray,
    cfg: BootstrapConfig,
) -> np.ndarray:
    """Bootstrap rates (R x cells) resampling whole clusters (participants) within strata."""
    n_clusters = len(cluster_strata)
    flat = cluster.astype(np.int64) * n_cells + cell
    size = n_clusters * n_cells
    counts = np.concatenate(
        [
            np.bincount(flat, minlength=size).reshape(n_clusters, n_cells),
            np.bincount(flat, weights=y, minlength=size).reshape(n_clusters, n_cells),
        ],
        axis=1,
    ).astype(np.float32)
    rng = np.random.default_rng(cfg.seed)
    members = strata_members(cluster_strata)
    out = []
    for draws in _batches(cfg.n_resamples, cfg.batch):
        agg = cluster_weights(rng, members, n_clusters, draws) @ counts
        out.append(_ratio(agg[:, n_cells:], agg[:, :n_cells]))
    return np.concatenate(out)


def twoway_rates(
    cluster: np.ndarray,
    image: np.ndarray,
    cell: np.ndarray,
    y: np.ndarray,
    n_cells: int,
    cluster_strata: np.ndarray,
    image_strata: np.ndarray,
    cfg: BootstrapConfig,
) -> np.ndarray:
    """Bootstrap rates (R x cells) resampling participants and images independently."""
    n_clusters, n_images = len(cluster_strata), len(image_strata)
    width = n_cells * n_images
    cols = cell.astype(np.int64) * n_images + image
    counts = sp.csr_matrix(
        (
            np.concatenate([np.ones(len(y), np.float32), y.astype(np.float32)]),
            (np.concatenate([cols, cols + width]), np.concatenate([cluster, cluster])),
        ),
        shape=(2 * width, n_clusters),
    )
    counts.sum_duplicates()
    counts.eliminate_zeros()
    rng = np.random.default_rng(cfg.seed)
    people, images = strata_members(cluster_strata), strata_members(image_strata)
    # Keep the dense (2 * cells * images) x batch intermediate under ~256 MB.
    batch = max(1, min(cfg.batch, DENSE_BUDGET // (2 * width)))
    out = []
    for draws in _batches(cfg.n_resamples, batch):
        w = cluster_weights(rng, people, n_clusters, draws)
        v = cluster_weights(rng, images, n_images, draws)
        per_image = (counts @ np.ascontiguousarray(w.T)).reshape(2, n_cells, n_images, draws)
        den = np.einsum("cir,ri->rc", per_image[0], v)
        num = np.einsum("cir,ri->rc", per_image[1], v)
        out.append(_ratio(num, den))
    return np.concatenate(out)


def percentile_interval(draws: np.ndarray, level: float) -> tuple[np.ndarray, np.ndarray]:
    """Percentile interval per column, ignoring resamples where a cell was empty."""
    tail = (1 - level) / 2
    lo = np.full(draws.shape[1], np.nan)
    hi = np.full(draws.shape[1], np.nan)
    valid = ~np.isnan(draws).all(axis=0)
    if valid.any():
        q = np.nanquantile(draws[:, valid], [tail, 1 - tail], axis=0)
        lo[valid], hi[valid] = q[0], q[1]
    return lo, hi


@dataclass(frozen=True)
class EncodedJudgments:
    """Integer codes of the judgments' cells, participants, images and their strata."""

    cell: np.ndarray
    participant: np.ndarray
    image: np.ndarray
    y: np.ndarray
    participant_strata: np.ndarray
    image_strata: np.ndarray
    n_cells: int


def encode(judgments: pd.DataFrame, cells: pd.DataFrame) -> EncodedJudgments:
    """Integer codes: cells in the order of `cells`, participants and images with their strata."""
    wanted = pd.MultiIndex.from_frame(cells[CELL_KEYS])
    cell = wanted.get_indexer(pd.MultiIndex.from_frame(judgments[CELL_KEYS]))
    if (cell < 0).any():
        raise AnalysisInputError("internal: judgments include a cell missing from the table")
    people = judgments.groupby(PARTICIPANT_KEYS, sort=True).ngroup().to_numpy()
    pkeys = judgments[PARTICIPANT_KEYS].drop_duplicates().sort_values(PARTICIPANT_KEYS)
    images = judgments.groupby(IMAGE_KEYS, sort=True).ngroup().to_numpy()
    ikeys = judgments[IMAGE_KEYS].drop_duplicates().sort_values(IMAGE_KEYS)
    return EncodedJudgments(
        cell=cell.astype(np.int64),
        participant=people.astype(np.int64),
        image=images.astype(np.int64),
        y=judgments["chose_a"].to_numpy(dtype=np.float64),
        participant_strata=pd.factorize(pkeys["study_id"])[0],
        image_strata=pd.factorize(ikeys["dataset"])[0],
        n_cells=len(cells),
    )


def _twoway_by_dataset(
    judgments: pd.DataFrame, cells: pd.DataFrame, cfg: BootstrapConfig
) -> tuple[np.ndarray, np.ndarray]:
    """Two-way intervals computed per data set (images and studies never span data sets)."""
    lo = np.full(len(cells), np.nan)
    hi = np.full(len(cells), np.nan)
    for dataset, rows in judgments.groupby("dataset", sort=True):
        mine = np.flatnonzero((cells["dataset"] == dataset).to_numpy())
        enc = encode(rows, cells.iloc[mine])
        draws = twoway_rates(
            enc.participant,
            enc.image,
            enc.cell,
            enc.y,
            enc.n_cells,
            enc.participant_strata,
            enc.image_strata,
            cfg,
        )
        lo[mine], hi[mine] = percentile_interval(draws, cfg.level)
    return lo, hi


def bootstrap_intervals(
    judgments: pd.DataFrame, cells: pd.DataFrame, cfg: BootstrapConfig
) -> pd.DataFrame:
    """Participant-clustered and two-way percentile intervals for each row of `cells`."""
    enc = encode(judgments, cells)
    by_person = clustered_rates(
        enc.participant, enc.cell, enc.y, enc.n_cells, enc.participant_strata, cfg
    )
    p_lo, p_hi = percentile_interval(by_person, cfg.level)
    t_lo, t_hi = _twoway_by_dataset(judgments, cells, cfg)
    return pd.DataFrame(
        {"boot_p_lo": p_lo, "boot_p_hi": p_hi, "boot_pi_lo": t_lo, "boot_pi_hi": t_hi},
        index=cells.index,
    )
