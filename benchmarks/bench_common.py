"""Inputs shared by the step-time benchmarks (imported by the scripts beside it)."""

from __future__ import annotations

import torch
from torch import nn

CHANNELS = 20  # Cityscapes: 19 train classes + void


def make_batch(size: tuple[int, int], seed: int = 0) -> dict:
    """A one-image batch of blocky one-hot labels and a photo coloured by class."""
    gen = torch.Generator().manual_seed(seed)
    h, w = size
    coarse = torch.randint(0, CHANNELS, (1, h // 16, w // 16), generator=gen)
    index = coarse.repeat_interleave(16, 1).repeat_interleave(16, 2)
    label = nn.functional.one_hot(index, CHANNELS).permute(0, 3, 1, 2).float().contiguous()
    photo = torch.rand(CHANNELS, 3, generator=gen)[index].permute(0, 3, 1, 2).contiguous()
    return {"id": ["bench"], "label": label, "label_index": index, "photo": photo}
