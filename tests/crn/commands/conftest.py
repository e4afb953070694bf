"""A tiny synthetic split on disk, shared by the train/generate/calibrate CLI tests."""

from __future__ import annotations

import pytest

from crn import cli


@pytest.fixture(scope="module")
def synth_splits(tmp_path_factory):
    """Path of a splits.json over 10 synthetic 32×64 pairs (2 val, 2 test)."""
    root = tmp_path_factory.mktemp("synth")
    assert (
        cli.main(
            [
                "data",
                "synth",
                "--out",
                str(root / "data"),
                "--n",
                "10",
                "--size",
                "32x64",
                "--seed",
                "0",
            ]
        )
        == 0
    )
    splits = root / "splits.json"
    assert (
        cli.main(
            [
                "data",
                "split",
                "--source",
                "synthetic",
                "--root",
                str(root / "data"),
                "--out",
                str(splits),
                "--size",
                "32x64",
                "--val",
                "2",
                "--test",
                "2",
            ]
        )
        == 0
    )
    return splits


@pytest.fixture(scope="module")
def trained_run(synth_splits, tmp_path_factory):
    """A 3-step CRN run (width 0.05, k = 2, random VGG) and its folder."""
    out = tmp_path_factory.mktemp("runs") / "crn"
    argv = [
        "train",
        "crn",
        "--splits",
        str(synth_splits),
        "--out",
        str(out),
        "--width",
        "0.05",
        "--k",
        "2",
        "--steps",
        "3",
        "--vgg-weights",
        "random",
        "--no-progress",
        "--batch-size",
        "2",
    ]
    assert cli.main(argv) == 0
    return out
