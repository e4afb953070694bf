"""Fixtures: tiny data sets in the exact official layouts of every source (no downloads)."""

from __future__ import annotations

import pytest
from data_layouts import make_ade20k, make_cityscapes, make_folders, make_nyu

from crn.data.sources.synthetic import write_synthetic


@pytest.fixture
def cityscapes_root(tmp_path):
    root = tmp_path / "cityscapes"
    return root, make_cityscapes(root)


@pytest.fixture
def ade_root(tmp_path):
    return tmp_path / "ade", make_ade20k(tmp_path / "ade")


@pytest.fixture
def nyu_mat(tmp_path):
    path = tmp_path / "nyu_depth_v2_labeled.mat"
    return path, *make_nyu(path)


@pytest.fixture
def folders_root(tmp_path):
    return tmp_path / "folders", make_folders(tmp_path / "folders")


@pytest.fixture(scope="session")
def synth_dir(tmp_path_factory):
    out = tmp_path_factory.mktemp("synth") / "set"
    return write_synthetic(out, n=12, size=(32, 64), seed=3, progress=False)
