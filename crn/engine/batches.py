"""Deterministic, resumable batching: epoch e visits a permutation seeded by (seed, e)."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import numpy as np
import torch
from torch.utils.data import DataLoader, default_collate

from crn.errors import UserError


class EpochBatches:
    """Batches of a dataset in a seeded order per epoch, sharded over processes.

    Step s of epoch e uses the global batch perm_e[s·B·W : (s+1)·B·W]; process r takes
    every W-th item of it, so W processes with batch B see what one process with batch
    B·W sees. The order depends only on (seed, epoch, step), which makes resume exact.
    """

    def __init__(
        self,
        dataset: Any,
        batch_size: int,
        seed: int,
        rank: int = 0,
        world_size: int = 1,
        num_workers: int = 0,
    ) -> None:
        self.dataset = dataset
        self.batch_size = batch_size
        self.seed = seed
        self.rank = rank
        self.world_size = world_size
        self.num_workers = num_workers
        self.steps_per_epoch = len(dataset) // (batch_size * world_size)
        if self.steps_per_epoch == 0:
            raise UserError(
                f"the training split has {len(dataset)} images, fewer than one batch "
                f"({batch_size} × {world_size} processes)"
            )

    def epoch_batches(self, epoch: int, first_step: int = 0) -> list[list[int]]:
        """Dataset indices of this process's batches in `epoch`, from `first_step` on."""
        perm = np.random.default_rng([self.seed, epoch]).permutation(len(self.dataset))
        span = self.batch_size * self.world_size
        return [
            perm[s * span : (s + 1) * span][self.rank :: self.world_size].tolist()
            for s in range(first_step, self.steps_per_epoch)
        ]

    def _loader(self, epoch: int, first_step: int) -> DataLoader:
        """A DataLoader over the batches of `epoch` from `first_step`."""
        if hasattr(self.dataset, "set_epoch"):
            self.dataset.set_epoch(epoch)
        return DataLoader(
            self.dataset,
            batch_sampler=self.epoch_batches(epoch, first_step),
            num_workers=self.num_workers,
            collate_fn=default_collate,
            # A private generator: creating a loader mid-epoch (on resume) must not
            # consume the global RNG, or resumed runs would diverge from straight ones.
            generator=torch.Generator().manual_seed(self.seed * 100_003 + epoch),
        )

    def iterate(self, start_step: int) -> Iterator[tuple[int, int, dict[str, Any]]]:
        """Endless (step, epoch, batch) from `start_step` on."""
        step = start_step
        while True:
            epoch, offset = divmod(step, self.steps_per_epoch)
            for batch in self._loader(epoch, offset):
                yield step, epoch, batch
                step += 1

    def first_batches(self, count: int) -> list[dict[str, Any]]:
        """The first `count` batches of epoch 0 (for loss-weight calibration)."""
        batches = []
        for _, _, batch in self.iterate(0):
            if len(batches) == count:
                break
            batches.append(batch)
        return batches


def to_device(batch: dict[str, Any], device: torch.device, channels_last: bool = False) -> dict:
    """Move a batch's tensors to `device` (4-D float ones channels-last if asked)."""
    out = {}
    for key, value in batch.items():
        if isinstance(value, torch.Tensor):
            value = value.to(device, non_blocking=True)
            if channels_last and value.dim() == 4 and value.is_floating_point():
                value = value.contiguous(memory_format=torch.channels_last)
        out[key] = value
    return out
