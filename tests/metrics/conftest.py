"""Fixtures: a tiny synthetic split, its real set, hand-made sets, and a scripted segmenter."""

from __future__ import annotations

import warnings

import pytest
import torch
from metrics_helpers import SIZE, label_images, noise_images, write_set

from crn.data.export import export_real
from crn.data.sources.synthetic import write_synthetic
from crn.data.splits import make_splits, save_splits


@pytest.fixture(scope="session")
def split_env(tmp_path_factory):
    """(root folder, splits.json path, Splits) of 14 synthetic scenes, 8 of them in test."""
    root = tmp_path_factory.mktemp("metrics")
    data = write_synthetic(root / "data", n=14, size=SIZE, seed=2, progress=False)
    splits = make_splits("synthetic", data, size=SIZE, test=8, val=0, seed=0)
    save_splits(splits, root / "splits.json")
    return root, root / "splits.json", splits


@pytest.fixture(scope="session")
def sets_env(split_env):
    """Folders of the sets real, oracle (coloured labels), noise, and crn-v0..v2 (noise)."""
    root, _, splits = split_env
    sets = root / "sets"
    export_real(splits, "test", sets / "real", progress=False)
    write_set(sets / "oracle", splits, "oracle", label_images(splits))
    write_set(sets / "noise", splits, "noise", noise_images(splits, 0))
    for k in range(3):
        write_set(sets / f"crn-v{k}", splits, f"crn-v{k}", noise_images(splits, 10 + k))
    return sets


class NearestColour(torch.nn.Module):
    """Scores each pixel by minus its squared distance to every class colour."""

    def __init__(self, colours: torch.Tensor) -> None:
        super().__init__()
        self.register_buffer("colours", colours)

    def forward(self, x: torch.Tensor) -> dict[str, torch.Tensor]:
        diff = x[:, None] - self.colours[None, :, :, None, None]
        return {"out": -(diff * diff).sum(dim=2)}


@pytest.fixture(scope="session")
def segmenter_file(split_env):
    """A TorchScript nearest-class-colour segmenter of the split's classes."""
    root, _, splits = split_env
    colours = torch.tensor([c.color for c in splits.classes], dtype=torch.float32) / 255.0
    path = root / "nearest.pt"
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DeprecationWarning)  # torch 2.13 deprecates TorchScript
        torch.jit.save(torch.jit.script(NearestColour(colours)), str(path))
    return path
