"""Training configuration: one frozen dataclass, built by the CLI, stored in checkpoints."""

from __future__ import annotations

from dataclasses import dataclass

from crn.errors import UserError


@dataclass(frozen=True)
class TrainConfig:
    """How to train: length, batching, seeding, device, and logging/saving intervals.

    `steps` wins over `epochs` when both are given; intervals of 0 disable the action
    (a checkpoint is still written at the end). `size` is the (H, W) images are loaded at.
    """

    size: tuple[int, int]
    steps: int | None = None
    epochs: int | None = None
    batch_size: int = 1
    seed: int = 0
    flip: bool = False
    device: str = "auto"
    bf16: bool = False
    channels_last: bool = False
    num_workers: int = 0
    log_every: int = 10
    val_every: int = 0
    val_images: int = 8
    sample_every: int = 0
    sample_images: int = 2
    checkpoint_every: int = 0

    def __post_init__(self) -> None:
        if self.steps is None and self.epochs is None:
            raise UserError("give --steps N or --epochs N")
        for name in ("steps", "epochs"):
            value = getattr(self, name)
            if value is not None and value < 1:
                raise UserError(f"--{name} {value}: expected a positive number")
        if self.batch_size < 1:
            raise UserError(f"--batch-size {self.batch_size}: expected a positive number")
        for name in ("log_every", "val_every", "sample_every", "checkpoint_every", "num_workers"):
            if getattr(self, name) < 0:
                raise UserError(f"--{name.replace('_', '-')} must not be negative")

    def total_steps(self, steps_per_epoch: int) -> int:
        """Total optimisation steps for a training set of `steps_per_epoch` batches."""
        if self.steps is not None:
            return self.steps
        return self.epochs * steps_per_epoch


def parse_size(text: str) -> tuple[int, int]:
    """ "256x512" -> (256, 512); UserError otherwise."""
    parts = text.lower().split("x")
    if len(parts) != 2 or not all(p.isdigit() and int(p) > 0 for p in parts):
        raise UserError(f"size '{text}': expected HEIGHTxWIDTH, e.g. 256x512")
    return int(parts[0]), int(parts[1])
