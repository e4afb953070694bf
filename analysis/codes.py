"""Integer codes of one data set's judgments, so per-stratum work runs on numpy arrays.

Selecting a stratum or comparison of a million-row frame by comparing text columns, once per
stratum, costs seconds; coding participants, exposures, comparisons and methods once per data
set and masking integer arrays costs milliseconds. The participants' resampling weights are
drawn once per data set too and shared by its strata and comparisons: each of them is then
the participant-clustered bootstrap of the whole study (a participant who did not judge a
stratum adds nothing to it in any resample).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from analysis.bootstrap import BootstrapConfig, cluster_weights, strata_members
from analysis.schema import PARTICIPANT_KEYS, UNLIMITED, exposure_order


@dataclass(frozen=True)
class DatasetCodes:
    """Codes per judgment (person, exposure, comparison, methods) and per person (study)."""

    person: np.ndarray
    study: np.ndarray  # study code of each person (resampling strata)
    exposure: np.ndarray
    exposures: list[str]  # exposure keys by duration, "unlimited" last
    comparison: np.ndarray
    comparisons: list[str]  # sorted
    method_a: np.ndarray
    method_b: np.ndarray
    methods: list[str]  # sorted; method codes index this list
    chose_a: np.ndarray

    @property
    def people(self) -> int:
        """Number of participants in the data set."""
        return len(self.study)

    def timed(self) -> np.ndarray:
        """Whether each judgment had a timed exposure (not "unlimited")."""
        codes = [i for i, e in enumerate(self.exposures) if e != UNLIMITED]
        return np.isin(self.exposure, codes)


def _codes(values: pd.Series, order: list[str]) -> np.ndarray:
    return pd.Categorical(values, categories=order).codes.astype(np.int64)


def dataset_codes(rows: pd.DataFrame) -> DatasetCodes:
    """Codes of one data set's judgments (all rows must belong to that data set)."""
    person = rows.groupby(PARTICIPANT_KEYS, sort=True).ngroup().to_numpy().astype(np.int64)
    keys = rows[PARTICIPANT_KEYS].drop_duplicates().sort_values(PARTICIPANT_KEYS)
    exposures = exposure_order(rows["exposure"].unique())
    comparisons = sorted(rows["comparison"].unique())
    methods = sorted(set(rows["method_a"].unique()) | set(rows["method_b"].unique()))
    return DatasetCodes(
        person=person,
        study=pd.factorize(keys["study_id"])[0],
        exposure=_codes(rows["exposure"], exposures),
        exposures=exposures,
        comparison=_codes(rows["comparison"], comparisons),
        comparisons=comparisons,
        method_a=_codes(rows["method_a"], methods),
        method_b=_codes(rows["method_b"], methods),
        methods=methods,
        chose_a=rows["chose_a"].to_numpy(dtype=np.float64),
    )


def resampling_weights(codes: DatasetCodes, cfg: BootstrapConfig) -> np.ndarray:
    """Participant resampling weights (R x people), drawn within studies, seeded by cfg."""
    rng = np.random.default_rng(cfg.seed)
    members = strata_members(codes.study)
    return cluster_weights(rng, members, codes.people, cfg.n_resamples)
