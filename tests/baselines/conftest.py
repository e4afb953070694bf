"""Fixtures of the baseline tests: tiny hand-made batches and a tiny synthetic data set."""

from __future__ import annotations

import pytest
import torch
from baseline_helpers import make_batch

from crn import cli
from crn.data.dataset import PairedDataset
from crn.data.splits import load_splits


@pytest.fixture
def batch() -> dict:
    """A 2-image 32×64 hand-made batch."""
    return make_batch()


@pytest.fixture(scope="session")
def data(tmp_path_factory):
    """A 10-pair synthetic set at 32×64, its splits (6 train, 1 val, 3 test) and `real`."""
    root = tmp_path_factory.mktemp("baseline-data")
    synth, splits = root / "synth", root / "splits.json"
    assert cli.main(["data", "synth", "--out", str(synth), "--n", "10", "--size", "32x64"]) == 0
    argv = ["data", "split", "--source", "synthetic", "--root", str(synth), "--out", str(splits)]
    assert cli.main([*argv, "--test", "3", "--val", "1"]) == 0
    real = root / "sets" / "real"
    assert cli.main(["data", "export-real", "--splits", str(splits), "--out", str(real)]) == 0
    return {"root": root, "splits": splits, "real": real}


@pytest.fixture(scope="session")
def synthetic_batch(data) -> dict:
    """The first two training pairs of the synthetic set, collated as the engine does."""
    dataset = PairedDataset(load_splits(data["splits"]), "train")
    return torch.utils.data.default_collate([dataset[i] for i in range(2)])
