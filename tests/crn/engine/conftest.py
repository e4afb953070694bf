"""Tiny in-memory paired data and a tiny CRN for engine tests."""

from __future__ import annotations

import pytest
import torch

from crn.data.classes import IGNORE_INDEX, ClassInfo
from crn.data.dataset import labels_to_onehot
from crn.engine.trainer import RunData
from crn.losses import PerceptualArgs
from crn.models.crn import CRNArgs

NUM_CLASSES = 3  # + void


class TinyPairs:
    """Random rectangles of 3 classes (+ void) with class-coloured noisy photos."""

    def __init__(self, n: int, size=(32, 64), seed: int = 0, nan_at: int | None = None) -> None:
        gen = torch.Generator().manual_seed(seed)
        h, w = size
        self.items = []
        for i in range(n):
            index = torch.randint(0, NUM_CLASSES, (1,), generator=gen).expand(h, w).clone()
            y, x = (
                torch.randint(0, h // 2, (1,), generator=gen),
                torch.randint(0, w // 2, (1,), generator=gen),
            )
            index[y : y + h // 2, x : x + w // 2] = (index[0, 0] + 1) % NUM_CLASSES
            index[:2] = IGNORE_INDEX  # a void band
            label = labels_to_onehot(index, NUM_CLASSES)
            colors = torch.tensor(
                [[0.9, 0.2, 0.1], [0.1, 0.8, 0.2], [0.2, 0.3, 0.9], [0.0, 0.0, 0.0]]
            )
            photo = colors[index.clamp(max=NUM_CLASSES)].permute(2, 0, 1) + 0.05 * torch.rand(
                3, h, w, generator=gen
            )
            if nan_at == i:
                photo[0, 0, 0] = float("nan")
            self.items.append(
                {
                    "id": f"img{i:03d}",
                    "label": label,
                    "label_index": index,
                    "photo": photo.clamp(0, 1),
                }
            )
        self.epoch = 0

    def set_epoch(self, epoch: int) -> None:
        self.epoch = epoch

    def __len__(self) -> int:
        return len(self.items)

    def __getitem__(self, i: int) -> dict:
        return dict(self.items[i])


CLASSES = (
    ClassInfo("a", (200, 50, 30)),
    ClassInfo("b", (30, 200, 50)),
    ClassInfo("c", (50, 80, 220)),
)


@pytest.fixture
def tiny_pairs():
    """The TinyPairs dataset class, for tests that need their own data."""
    return TinyPairs


@pytest.fixture
def tiny_data():
    """Eight training and two validation pairs at 32×64."""
    return RunData(TinyPairs(8, seed=1), TinyPairs(2, seed=2), "f" * 64, CLASSES)


@pytest.fixture
def tiny_crn_args():
    """A 4-module CRN, width 0.05, k = 2, random VGG with auto weights."""
    return CRNArgs(
        num_label_channels=NUM_CLASSES + 1,
        size=(32, 64),
        perceptual=PerceptualArgs("random", calibration_batches=2),
        width=0.05,
        num_outputs=2,
    )
